#!/usr/bin/python3
"""amqp_decode on damaged input never crashes, hangs or exits with anything but 0 or 1: each
checked-in sample (a pcapng capture, xxd, hexdump -C, tshark -x, a trace, raw frames) cut short,
with bytes flipped, inserted and deleted, a fixed number of times (seeded, so every run is the
same). Also with --html, which takes the same frames apart again.

    decode_robustness_test.py AMQP_DECODE [ROUNDS]"""
import pathlib
import random
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SAMPLES = ["captures/session.pcapng", "golden/rpc_reply.xxd", "golden/rpc_reply.hexdump", "golden/session_head.tshark_x",
           "golden/client_timed.trace", "golden/rpc_reply.bin"]


def mutate(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        at = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(at, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del b[at:at + rng.randint(1, 16)]
        else:
            b = b[:at]
    return bytes(b)


def main():
    tool = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(18)
    failures = runs = 0
    with tempfile.TemporaryDirectory() as d:
        path, page = pathlib.Path(d) / "input", pathlib.Path(d) / "page.html"
        for sample in SAMPLES:
            data = (HERE / sample).read_bytes()
            for i in range(rounds):
                path.write_bytes(mutate(data, rng))
                args = [tool, str(path)] if i % 2 == 0 else [tool, "--html", str(page), str(path)]
                try:
                    p = subprocess.run(args, capture_output=True, timeout=20)
                except subprocess.TimeoutExpired:
                    failures += 1
                    print(f"FAIL {sample} mutation {i}: no answer in 20 s")
                    continue
                runs += 1
                # A sanitizer build reports with exit status 1 too: its report is the tell.
                sanitizer = b"Sanitizer" in p.stderr or b"runtime error:" in p.stderr
                if p.returncode not in (0, 1) or sanitizer:
                    failures += 1
                    kept = pathlib.Path(tempfile.gettempdir()) / f"amqp_decode_crash_{len(data)}_{i}"
                    kept.write_bytes(path.read_bytes())
                    print(f"FAIL {sample} mutation {i}: exit {p.returncode} (input kept in {kept}): "
                          f"{p.stderr.decode(errors='replace')[-300:]}")
    print(f"{runs} damaged inputs decoded, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
