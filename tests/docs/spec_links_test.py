#!/usr/bin/python3
"""Every "Spec:" paragraph in docs/ (docs/*.md, docs/walkthrough/*.md) links both a section of the
0-9-1 specification (the PDF, with a § number) and RabbitMQ's Complete Reference, so a learner
gets the spec's rule and the method's reference from each; both walkthroughs have such lines.
The check first proves on built-in paragraphs that it tells a complete one from incomplete ones.

    spec_links_test.py REPO_ROOT

Exit status 0 pass, 1 fail."""
import pathlib
import re
import sys

PDF = re.compile(r"\[§\d+(\.\d+)*\]\(https://www\.rabbitmq\.com/resources/specs/amqp0-9-1\.pdf\)")
REFERENCE = re.compile(r"\]\(https://www\.rabbitmq\.com/amqp-0-9-1-reference\.html(#[\w.-]+)?\)")
# "Spec:" opening a statement; not the quoted word in prose about these lines ('the "Spec:" line').
SPEC = re.compile(r'(?<!")\bSpec:(?!")')
MUST_HAVE = ("walkthrough.md", "beyond.md")


def incomplete(text):
    """(line number, start of paragraph) for each "Spec:" paragraph lacking one of the two links."""
    bad = []
    for m in SPEC.finditer(text):
        end = text.find("\n\n", m.start())
        para = text[m.start():end if end >= 0 else len(text)]
        if not PDF.search(para) or not REFERENCE.search(para):
            bad.append((text.count("\n", 0, m.start()) + 1, " ".join(para.split())[:100]))
    return bad


def self_test():
    pdf = "[§4.2.3](https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf)"
    ref = "[`basic.ack`](https://www.rabbitmq.com/amqp-0-9-1-reference.html#basic.ack)"
    samples = {f"Spec: {ref};\n{pdf}.\n\nnext": 0, f"Spec: {ref}.\n\n{pdf}": 1, f"Spec: {pdf}.": 1,
               'The "Spec:" line under each frame.': 0, f"Spec: [the spec](https://example.org); {ref}.": 1}
    return [s for s, want in samples.items() if len(incomplete(s)) != want]


def main():
    wrong = self_test()
    if wrong:
        print(f"FAIL the check itself misjudges: {wrong}")
        return 1
    docs = pathlib.Path(sys.argv[1]) / "docs"
    failures, total = 0, 0
    for path in sorted(list(docs.glob("*.md")) + list(docs.glob("walkthrough/*.md"))):
        text = path.read_text()
        count = len(SPEC.findall(text))
        total += count
        if path.name in MUST_HAVE and count == 0:
            failures += 1
            print(f"FAIL {path.relative_to(docs.parent)}: no Spec: line")
        for line, start in incomplete(text):
            failures += 1
            print(f"FAIL {path.relative_to(docs.parent)}:{line}: a Spec: line without both the spec section and "
                  f"the Complete Reference: {start}")
    print(f"{total} Spec: lines checked")
    print("PASS" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
