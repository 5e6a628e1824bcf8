#!/usr/bin/python3
"""The Wireshark ↔ 0-9-1 name table (wireshark_names.py, shown in docs/frames.md) against the
two things it describes: every name in it is a field of tshark's AMQP dissector, and every
method argument tshark knows maps, by the table or by '_' → '-', to an argument of the 0-9-1 spec
XML (RabbitMQ's extended XML included), or is listed as 0-8-only or as Wireshark's own counter.
The table in docs/frames.md must hold exactly the renames of wireshark_names.RENAMED, notes included.

    wireshark_names_test.py

Exit status 0 pass, 1 fail, 77 skipped (no tshark or no amqp-specs)."""
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import wireshark_names as w  # noqa: E402

SPECS = [pathlib.Path("/usr/share/amqp/specs/0-9-1/amqp0-9-1.stripped.xml"),
         pathlib.Path("/usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml")]
PREFIX = "amqp.method.arguments."


def main():
    if shutil.which("tshark") is None or not all(p.exists() for p in SPECS):
        print("SKIP: needs tshark and Debian's amqp-specs")
        return 77
    out = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True, timeout=120, check=True).stdout
    ws = {line.split("\t")[2][len(PREFIX):] for line in out.splitlines()
          if line.count("\t") >= 4 and line.split("\t")[2].startswith(PREFIX)}
    spec = set()
    for p in SPECS:
        spec |= set(re.findall(r'<field name="([^"]+)"', p.read_text()))
    failures = 0
    for (method, name), (ours, _) in w.RENAMED.items():
        if name not in ws:
            failures += 1
            print(f"FAIL {PREFIX}{name} is not a tshark field")
        if ours not in spec:
            failures += 1
            print(f"FAIL {ours} is not an argument in the spec XML")
    for name in sorted(ws):
        if name in w.SYNTHETIC or name in w.ZERO_EIGHT_ONLY or name in w.RABBIT_EXTENSIONS:
            continue
        methods = {m for (m, n) in w.RENAMED if n == name} or {"*"}
        for m in methods:
            if w.our_name(m, name) not in spec:
                failures += 1
                print(f"FAIL tshark's {PREFIX}{name} maps to {w.our_name(m, name)!r}, not an argument of 0-9-1")
    props = {line.split("\t")[2].rsplit(".", 1)[-1] for line in out.splitlines()
             if line.count("\t") >= 4 and line.split("\t")[2].startswith("amqp.method.properties.")}
    for name, ours in w.PROPERTY_RENAMED.items():
        if name not in props or ours not in spec:
            failures += 1
            print(f"FAIL property {name} -> {ours}: not a tshark property field, or not in the spec XML")
    doc = (HERE.parents[1] / "docs" / "frames.md").read_text()
    section = doc[doc.index("## Wireshark's field names"):]
    rows = set(re.findall(r"^\| `amqp\.method\.arguments\.(\w+)` \| ([\w.*]+) \| `([\w-]+)` \| (.*) \|$",
                          section, re.M))
    want = {(name, method, ours, note) for (method, name), (ours, note) in w.RENAMED.items()}
    if rows != want:
        failures += 1
        print(f"FAIL docs/frames.md's table differs from wireshark_names.RENAMED:\n  only in the doc: "
              f"{sorted(rows - want)}\n  only in RENAMED: {sorted(want - rows)}")
    print(f"{len(ws)} tshark argument fields, {len(w.RENAMED)} renames checked")
    print("PASS" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
