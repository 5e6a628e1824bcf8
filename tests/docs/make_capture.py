#!/usr/bin/python3
"""Make the checked-in capture tests/docs/captures/session.pcapng: tshark on `lo` while a traced
rpc_server + `rpc_client N` session runs against a broker (the same session as the walkthrough's).
Needs root (or capture rights) and a broker; the tests only read the file it writes, so CI never
captures live.

    make_capture.py --build BUILD [--url amqp://guest:guest@127.0.0.1:PORT/] [--n 10] [--out FILE]

The broker runs on whatever port the URL names; the tests find it in the capture (the side that
answered the protocol header)."""
import argparse
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import gen_walkthrough  # noqa: E402  (run_session, wait_for_line, broker_url)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--url")
    ap.add_argument("--n", default="10", help="the Fibonacci number the client asks for")
    ap.add_argument("--out", default=str(REPO / "tests" / "docs" / "captures" / "session.pcapng"))
    args = ap.parse_args()
    url = gen_walkthrough.broker_url(args.url)
    port = urllib.parse.urlparse(url).port or 5672
    work = pathlib.Path(tempfile.mkdtemp(prefix="make-capture-"))
    pcap = work / "session.pcapng"
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not gen_walkthrough.wait_for_line(cap.stderr, "Capture started", 30):
            sys.exit("tshark could not start capturing on lo")
        gen_walkthrough.run_session(args.build, url, work, n=args.n)
        time.sleep(1.0)  # let the last segments reach the capture
    finally:
        if cap.poll() is None:
            cap.send_signal(signal.SIGINT)
            cap.wait(timeout=30)
    pathlib.Path(args.out).write_bytes(pcap.read_bytes())
    print(f"wrote {args.out} ({pcap.stat().st_size} bytes); broker port {port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
