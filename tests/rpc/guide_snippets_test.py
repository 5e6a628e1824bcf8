#!/usr/bin/env python3
"""docs/your-own-service.md quotes examples/upper_service.cpp: each ```cpp block after a
<!-- snippet: NAME --> line must be the program's code between "// [NAME]" and "// [end]"
(dedented), and every snippet the program marks must be quoted. Usage: guide_snippets_test.py ROOT"""
import re
import sys
import textwrap
from pathlib import Path

root = Path(sys.argv[1])
program = (root / "examples/upper_service.cpp").read_text()
guide = (root / "docs/your-own-service.md").read_text()

marked = {m.group(1): textwrap.dedent(m.group(2)).rstrip("\n")
          for m in re.finditer(r"^ *// \[([a-z ]+)\]\n(.*?)^ *// \[end\]\n", program, re.S | re.M)}
quoted = {m.group(1): m.group(2).rstrip("\n")
          for m in re.finditer(r"<!-- snippet: ([a-z ]+) -->\n```cpp\n(.*?)```", guide, re.S)}
failures = []
for name, code in quoted.items():
    if name not in marked:
        failures.append(f"the guide quotes '{name}', which examples/upper_service.cpp does not mark")
    elif marked[name] != code:
        failures.append(f"the guide's '{name}' differs from examples/upper_service.cpp")
for name in marked.keys() - quoted.keys():
    failures.append(f"examples/upper_service.cpp marks '{name}', which the guide does not quote")
if not quoted:
    failures.append("the guide quotes no snippet")
for f in failures:
    print("FAIL:", f)
print(f"{len(quoted)} snippets checked")
sys.exit(1 if failures else 0)
