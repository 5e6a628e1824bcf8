#!/usr/bin/python3
"""Golden tests for amqp_decode: run every case in CASES_DIR/cases.txt and compare what the tool
prints (stdout, stderr, exit status) with CASES_DIR/<name>.expected. A line "=same A B" asks
that cases A and B print the same, apart from a leading "# <format>" heading.

    run_golden.py AMQP_DECODE CASES_DIR [--update]

--update rewrites the .expected files from the tool's current output (review the diff)."""
import difflib
import re
import pathlib
import subprocess
import sys


def render(tool, case_dir, args):
    inp = case_dir / args[0]
    p = subprocess.run([tool, *args[1:], str(inp)], capture_output=True, timeout=60)
    # The input's path varies with the checkout; the expected text names the file only.
    out = p.stdout.decode("utf-8", "backslashreplace")
    err = p.stderr.decode("utf-8", "backslashreplace").replace(str(inp), inp.name)
    return f"{out}--- stderr ---\n{err}--- exit status {p.returncode} ---\n"


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tool, case_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    update = "--update" in sys.argv[3:]
    failures = 0
    cases = 0
    outputs, pairs = {}, []
    for line in (case_dir / "cases.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=same "):
            pairs.append(line.split()[1:3])
            continue
        name, *args = line.split()
        cases += 1
        got = render(tool, case_dir, args)
        outputs[name] = got
        expected_file = case_dir / f"{name}.expected"
        if update:
            expected_file.write_text(got)
            continue
        want = expected_file.read_text() if expected_file.exists() else ""
        if got != want:
            failures += 1
            print(f"FAIL {name}: output differs from {expected_file.name}")
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True), f"{name}.expected", f"{name} (actual)"))
        else:
            print(f"ok   {name}")
    for a, b in pairs:
        # A dump and the raw bytes it shows must decode alike; only the format heading differs.
        strip = lambda text: re.sub(r"\A# [^\n]*\n\n", "", text)
        cases += 1
        if a not in outputs or b not in outputs or strip(outputs[a]) != strip(outputs[b]):
            failures += 1
            print(f"FAIL {a} and {b} should print the same frames")
        else:
            print(f"ok   {a} decodes as {b}")
    if cases == 0:
        print("no cases found", file=sys.stderr)
        return 1
    print(f"{cases - failures}/{cases} golden cases match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
