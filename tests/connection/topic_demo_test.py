#!/usr/bin/python3
"""examples/topic_demo against the fixture's broker: the routing walk prints what happened and exits
0; --passive on an exchange that does not exist reports the broker's 404 and exits 1.

    topic_demo_test.py TOPIC_DEMO        (broker URL from AMQP_URL or the file AMQP_URL_FILE names)
"""
import os
import pathlib
import subprocess
import sys


def url():
    if os.environ.get("AMQP_URL"):
        return os.environ["AMQP_URL"]
    f = os.environ.get("AMQP_URL_FILE")
    return pathlib.Path(f).read_text().strip() if f and pathlib.Path(f).exists() else ""


def main():
    demo, broker = sys.argv[1], url()
    if not broker:
        print("SKIP: no broker")
        return 77
    exchange = f"topic-demo-test-{os.getpid()}"
    walk = subprocess.run([demo, "--url", broker, "--exchange", exchange], capture_output=True, text=True, timeout=60)
    missing = subprocess.run([demo, "--url", broker, "--exchange", exchange, "--passive"],
                             capture_output=True, text=True, timeout=60)
    problems = []
    want = [f" [x] Bound ", f" to {exchange} with 'fib.*'", " [.] Delivered fib.request -> routed",
            ' [.] Returned 312 "NO_ROUTE"', f" [x] Deleted {exchange}"]
    if walk.returncode != 0 or any(w not in walk.stdout for w in want):
        problems.append(f"walk: exit {walk.returncode}\n{walk.stdout}{walk.stderr}")
    # The walk deleted the exchange, so the passive check finds none.
    if missing.returncode != 1 or f"404 NOT_FOUND - no exchange '{exchange}'" not in missing.stderr:
        problems.append(f"--passive: exit {missing.returncode}\n{missing.stdout}{missing.stderr}")
    for p in problems:
        print("FAIL", p)
    if not problems:
        print("ok   routed, returned 312, deleted; then 404 for the deleted exchange")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
