#!/usr/bin/python3
"""Every code pointer in docs/ must name a file that exists and holds the symbol it names.

    code_pointers_test.py [REPO]

Code moves; prose that says "`handle_header` in `connection_machine.cpp`" does not move with it.
A pointer is one of these Markdown shapes (a paragraph's lines are joined first, so a pointer may
wrap):

  `symbol` in `path`            `symbol` (inline in `path`          `symbol` (`path`
  `path` (`symbol`, `symbol`)   `path`, `symbol`
  a table under a heading that names files: the symbols of each row's last column
  `Class::member` anywhere: defined somewhere in the code

and every backticked file name (`amqp/src/...`, or a bare `name.cpp`) must exist. A symbol is found
when the file holds it as a whole word (a qualified `a::b` must appear as written, or `b` must appear
in a file that also names `a`). Before checking docs/ the script checks a built-in page holding one
good and three bad pointers and fails unless it reports exactly the bad ones, so a checker that
stopped matching anything could not pass.
"""
import pathlib
import re
import subprocess
import sys

SYM = r"[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_~][A-Za-z0-9_]*)*"
PATH = r"[A-Za-z0-9_./{},-]+\.(?:cpp|hpp|h|py|sh|txt|cmake|json)"
CODE_EXT = (".cpp", ".hpp", ".py", ".sh", ".txt", ".cmake")

POINTER_FORMS = [
    # `symbol` in `path` / `symbol` (inline in `path` / `symbol` (`path`
    re.compile(rf"`(?P<sym>{SYM})(?:\(\))?`(?: \(inline)? in `(?P<path>{PATH})`"),
    re.compile(rf"`(?P<sym>{SYM})(?:\(\))?` \(`(?P<path>{PATH})`"),
    # `path`, `symbol` (inside parentheses: "(`rpc/src/rpc_client.cpp`, `on_return`)")
    re.compile(rf"\(`(?P<path>{PATH})`, `(?P<sym>{SYM})`\)"),
    # (`symbol`, `path`)
    re.compile(rf"\(`(?P<sym>{SYM})(?:\(\))?`, `(?P<path>{PATH})`\)"),
]
PATH_THEN_SYMBOLS = re.compile(rf"`(?P<path>{PATH})` \((?P<syms>`{SYM}`(?:, `{SYM}`)*)\)")
BACKTICKED_PATH = re.compile(rf"`(?P<path>{PATH})`")
QUALIFIED = re.compile(r"`(?P<sym>[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*)(?:\(\))?`")
TABLE_SYMBOL = re.compile(rf"`(?P<sym>{SYM})`")


def expand_braces(path):
    m = re.search(r"\{([^}]*)\}", path)
    if not m:
        return [path]
    out = []
    for alt in m.group(1).split(","):
        out += expand_braces(path[:m.start()] + alt + path[m.end():])
    return out


class Repo:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        try:
            files = subprocess.run(["git", "-C", str(self.root), "ls-files", "--cached", "--others",
                                    "--exclude-standard"], capture_output=True, text=True,
                                   check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            files = [str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()]
        self.files = set(files)
        self.by_name = {}
        for f in files:
            self.by_name.setdefault(f.rsplit("/", 1)[-1], []).append(f)
        self._text = {}

    def resolve(self, path):
        """Repository paths a doc's `path` names (a bare file name: every file of that name)."""
        if "/" in path:
            if path in self.files:
                return [path]
            # An include path (`amqp/codec/frame.hpp`) names the header under an include directory.
            return [f for f in self.files if f.endswith("/include/" + path)]
        return self.by_name.get(path, [])

    def text(self, f):
        if f not in self._text:
            self._text[f] = (self.root / f).read_text(errors="replace")
        return self._text[f]

    def holds(self, f, sym):
        text = self.text(f)
        if "::" in sym:
            if re.search(r"(?<![\w:])" + re.escape(sym) + r"\b", text):
                return True
            scope, _, name = sym.rpartition("::")
            last_scope = scope.rsplit("::", 1)[-1]
            return bool(re.search(rf"\b{re.escape(last_scope)}\b", text) and re.search(rf"\b{re.escape(name)}\b", text))
        if not re.search(rf"(?<![\w]){re.escape(sym)}\b", text):
            return False
        if f.endswith(".cpp") and re.search(rf"(?<![\w]){re.escape(sym)}\(", text):
            # A function named by a .cpp file must be defined there, not only called: a definition
            # line has a return type (or a class scope) before the name, a call has not.
            definition = re.compile(rf"^\s*(?!return\b|co_return\b|else\b|case\b)[\w:<>,*&~]+(?:\s+[\w:<>,*&~]+)*"
                                    rf"\s+[*&]?(?:\w+::)*{re.escape(sym)}\(|^(?:\w+::)+{re.escape(sym)}\(", re.M)
            return bool(definition.search(text))
        return True

    def code_files(self):
        return [f for f in self.files if f.endswith((".cpp", ".hpp", ".h")) and not f.startswith("docs/")]

    def build_files(self):
        return [f for f in self.files if f.endswith(("CMakeLists.txt", ".cmake"))]


def blocks(markdown):
    """(kind, text, heading) for each paragraph / table row outside fenced code; a paragraph's
    lines are joined so that a pointer may wrap."""
    heading, para, fenced = "", [], False
    for line in markdown.splitlines() + [""]:
        if line.lstrip().startswith("```"):
            fenced = not fenced
            if para:
                yield "para", " ".join(para), heading
                para = []
            continue
        if fenced:
            continue
        if line.startswith("#") or line.startswith("|") or not line.strip():
            if para:
                yield "para", " ".join(para), heading
                para = []
            if line.startswith("#"):
                heading = line
                yield "para", line, heading
            elif line.startswith("|"):
                yield "row", line, heading
            continue
        para.append(line.strip())


def check_page(repo, name, markdown):
    """Returns (number of pointers checked, list of problems)."""
    problems, count = [], 0

    def file_exists(path):
        nonlocal count
        count += 1
        found = [r for p in expand_braces(path) for r in repo.resolve(p)]
        if not found or any(not repo.resolve(p) for p in expand_braces(path)):
            problems.append(f"{name}: `{path}`: no such file in the repository")
            return []
        return found

    def pointer(sym, path):
        nonlocal count
        files = [r for p in expand_braces(path) for r in repo.resolve(p)]
        if not files:
            return  # reported by file_exists
        count += 1
        if not any(repo.holds(f, sym) for f in files):
            problems.append(f"{name}: `{sym}` is not in `{path}`")

    for kind, text, heading in blocks(markdown):
        for m in BACKTICKED_PATH.finditer(text):
            p = m.group("path")
            if "/" in p or p.endswith(CODE_EXT):
                if "/" in p and not re.match(r"(amqp|rpc|examples|tests|scripts|bench|docs|fuzz|cmake)/", p):
                    continue  # not a path of this repository (e.g. a third party's source)
                file_exists(p)
        for form in POINTER_FORMS:
            for m in form.finditer(text):
                pointer(m.group("sym"), m.group("path"))
        for m in PATH_THEN_SYMBOLS.finditer(text):
            for s in TABLE_SYMBOL.finditer(m.group("syms")):
                pointer(s.group("sym"), m.group("path"))
        for m in QUALIFIED.finditer(text):
            sym = m.group("sym")
            if sym.startswith("std::"):
                continue
            count += 1
            # A CMake target (amqp_rpc::rpc) is defined by its build file, not by code.
            if not any(repo.holds(f, sym) for f in repo.code_files() + repo.build_files()):
                problems.append(f"{name}: `{sym}` is defined nowhere in the code")
        if kind == "row" and not re.match(r"^\|[-:| ]+\|$", text):
            heading_files = [m.group("path") for m in BACKTICKED_PATH.finditer(heading)]
            cells = [c.strip() for c in text.strip().strip("|").split("|")]
            if heading_files and len(cells) > 1:
                last = cells[-1]
                row_files = [m.group("path") for m in BACKTICKED_PATH.finditer(last)]
                for s in TABLE_SYMBOL.finditer(last):
                    sym = s.group("sym")
                    if re.fullmatch(PATH, sym) or sym in ("amqp",):
                        continue
                    files = [r for p in heading_files + row_files for q in expand_braces(p) for r in repo.resolve(q)]
                    count += 1
                    if not any(repo.holds(f, sym) for f in files):
                        problems.append(f"{name}: `{sym}` (table under '{heading.strip('# ')[:60]}') is in none "
                                        f"of {', '.join(heading_files + row_files)}")
    return count, problems


SELF_TEST_PAGE = """# A page with pointers
Good: `render` in `tests/docs/run_golden.py`.
Bad symbol: `no_such_function_xyz` in `tests/docs/run_golden.py`.
Bad file: `main` (`tests/docs/no_such_file.py`).

### Table: `tests/docs/run_golden.py`

| fault | where |
|-------|-------|
| one | `render` |
| two | `also_missing_qq` |
"""


def self_test(repo):
    _, problems = check_page(repo, "self-test", SELF_TEST_PAGE)
    wanted = ["no_such_function_xyz", "no_such_file.py", "also_missing_qq"]
    ok = len(problems) == len(wanted) and all(any(w in p for p in problems) for w in wanted)
    if not ok:
        print("self-test FAILED: the checker should report exactly the three bad pointers, it said:")
        for p in problems:
            print("  " + p)
    return ok


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2]
    repo = Repo(root)
    if not self_test(repo):
        return 1
    total, problems = 0, []
    for page in sorted((root / "docs").rglob("*.md")):
        n, p = check_page(repo, str(page.relative_to(root)), page.read_text())
        total += n
        problems += p
    for p in problems:
        print("BAD POINTER " + p)
    print(f"{total} code pointers checked, {len(problems)} bad")
    if total < 50:
        print("too few pointers found: the patterns no longer match the docs' style")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
