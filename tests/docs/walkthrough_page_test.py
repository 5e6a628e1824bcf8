#!/usr/bin/python3
"""docs/walkthrough.html must be what `amqp_decode --html` makes today of the checked-in capture
of the walkthrough's session (tests/docs/captures/walkthrough.pcapng, made by make_capture.py
with --n 30). On a difference, regenerate it from the repository's root:

    BUILD/examples/amqp_decode --html docs/walkthrough.html tests/docs/captures/walkthrough.pcapng

    walkthrough_page_test.py AMQP_DECODE"""
import difflib
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
CAPTURE = "tests/docs/captures/walkthrough.pcapng"  # as the page names its source


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "walkthrough.html"
        p = subprocess.run([tool, "--html", str(out), CAPTURE], cwd=REPO, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            print(f"FAIL amqp_decode --html exited {p.returncode}: {p.stderr}")
            return 1
        got, want = out.read_text(), (REPO / "docs" / "walkthrough.html").read_text()
    if got != want:
        print("FAIL docs/walkthrough.html is stale; regenerate it (see this script's doc). Diff:")
        sys.stdout.writelines(list(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                        "docs/walkthrough.html", "amqp_decode --html"))[:60])
        return 1
    print("ok   docs/walkthrough.html is what amqp_decode --html makes of the capture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
