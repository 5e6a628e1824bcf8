#!/usr/bin/python3
"""The walkthrough generator's masking, without a broker: two real sessions (checked-in raw traces
in walkthrough_runs/), and a third made from the first with a broker whose cluster name, version
and platform have other lengths and which lists its SASL mechanisms in another order, must all give
the same page, and none of their run-specific values may survive in it."""
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
import gen_walkthrough  # noqa: E402

RUNS = HERE / "walkthrough_runs"
EXPLANATIONS = HERE.parents[1] / "docs" / "walkthrough" / "explanations.md"


def load(run):
    return (RUNS / run / "server.trace").read_text(), (RUNS / run / "client.trace").read_text()


def reversed_mechanisms(lines):
    """connection.start's mechanisms in the reverse order (decoded view, hex label and bytes), as
    another install of the same RabbitMQ sends them: the same names, so the same length."""
    width = gen_walkthrough.HEX_WIDTH

    def hex_line(line):
        """(prefix up to the bytes, the bytes, the label) of a hex line, as the generator splits it."""
        m = gen_walkthrough.HEX_LINE.match(line)
        if not m:
            return None
        rest = m.group(2)
        return f"    {m.group(1)}  ", rest[:width].split(), rest[width:].strip()

    def reverse(names):
        return " ".join(reversed(names.split(" ")))

    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        view = re.match(r'^(    mechanisms\s+)"(.*)"$', line)
        first = hex_line(line)
        label = re.match(r'^mechanisms = "(.*)"(.*)$', first[2]) if first else None
        if view:
            line = view.group(1) + '"' + reverse(view.group(2)) + '"'
        if label:
            # The label's line and its continuation lines (no label), bytes swapped in place.
            span = [first]
            while i + 1 < len(lines) and (nxt := hex_line(lines[i + 1])) and not nxt[2]:
                i += 1
                span.append(nxt)
            value = reverse(label.group(1))
            old_bytes = sum((h for _, h, _ in span), [])
            new = [f"{b:02x}" for b in bytes.fromhex("".join(old_bytes[:4])) + value.encode()]
            assert len(new) == len(old_bytes)
            for k, (prefix, hexes, _) in enumerate(span):
                chunk, new = new[:len(hexes)], new[len(hexes):]
                text = prefix + " ".join(chunk)
                if k == 0:
                    text = text.ljust(len(prefix) + width) + f'  mechanisms = "{value}"' + label.group(2)
                out.append(text)
            i += 1
            continue
        out.append(line)
        i += 1
    return out


def other_broker(trace):
    """The trace as another RabbitMQ install would make it: longer cluster name, other version and
    platform (decoded view, hex labels, and one more hex line for each longer value), and the SASL
    mechanisms in another order."""
    out = []
    swaps = {"cluster_name": "rabbit@a-much-longer-host-name.example.org",
             "version": "3.12.13", "platform": "Erlang/OTP 26.2.5.1"}
    current = None  # the argument a decoded-view line belongs to
    for line in reversed_mechanisms(trace.splitlines()):
        top = re.match(r"^    (\S+)  ", line)
        if top and not re.match(r"^    [0-9a-f]{4,}  ", line):
            current = top.group(1)
        for name, value in swaps.items():
            if current == "server-properties":
                line = re.sub(r'^(      ' + name + r': )".*"', r'\1"' + value + '"', line)
            if f"server-properties.{name} = " in line:
                line = re.sub(r'= ".*?"', f'= "{value}"', line)
                out.append(line)
                line = "    0000  00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"  # an extra continuation line
        line = re.sub(r"payload 504 bytes", "payload 537 bytes", line)
        out.append(line)
    return "\n".join(out) + "\n"


def main():
    explanations = gen_walkthrough.load_explanations(EXPLANATIONS)
    s1, c1 = load("run1")
    s2, c2 = load("run2")
    pages = {
        "run1": gen_walkthrough.render(s1, c1, explanations),
        "run2": gen_walkthrough.render(s2, c2, explanations),
        "run1 on another broker": gen_walkthrough.render(other_broker(s1), other_broker(c1), explanations),
    }
    failures = 0
    base = pages["run1"]
    for name, page in pages.items():
        if page != base:
            failures += 1
            print(f"FAIL: {name} gives a different page than run1")
            import difflib
            sys.stdout.writelines(list(difflib.unified_diff(base.splitlines(True), page.splitlines(True),
                                                            "run1", name))[:60])
    # Nothing run-specific may remain.
    raw = s1 + c1 + s2 + c2
    specific = set(re.findall(r"amq\.(?:gen|ctag)-[A-Za-z0-9_-]{22}", raw))
    specific |= set(re.findall(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", raw))
    specific |= set(re.findall(r'cluster_name: "(.*)"', raw))
    specific.discard("amq.gen-" + "X" * 22)
    if len(specific) < 8:
        failures += 1
        print(f"FAIL: expected run-specific values in the raw traces, found {sorted(specific)}")
    for value in sorted(specific):
        if value in base:
            failures += 1
            print(f"FAIL: run-specific value {value!r} survives in the page")
    frames = len(re.findall(r"^### \d+\. ", base, re.M))
    if frames < 40:
        failures += 1
        print(f"FAIL: only {frames} frames in the page")
    print("PASS" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
