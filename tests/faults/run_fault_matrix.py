#!/usr/bin/python3
"""Runs an RPC client program against every fake_broker.py scenario and judges how it copes.

    run_fault_matrix.py 'build/ci/examples/rpc_client_timeout --url {url} 10 5'
        [--scenarios ok,garbage,...] [--timeout 15] [--limit 8] [--check-close] [--max-rss-mb 512]

For each scenario: start tests/faults/fake_broker.py, run the command with {url} replaced by the
fake broker's amqp:// URL, kill it after --timeout seconds, and check
  - scenarios with a right answer (ok, wrong_corr_ids_first): exit status 0 and the value the
    broker sent (its REPLIED= line) on the client's stdout;
  - every other scenario: a non-zero exit (not a signal), and stderr matching the scenario's
    cause regex (fake_broker.SCENARIOS[...].cause, case-insensitive);
  - always: no sanitizer report in stderr, elapsed time under --limit, peak RSS under
    --max-rss-mb (a client must not allocate what a hostile frame claims);
  - with --check-close: the client's last words to the broker (connection.close reply code,
    close-ok, or plain EOF) are among those listed in EXPECTED_CLOSE; without it they are only
    shown.
Prints a table and a final line "N passed, N failed"; exits 1 if any scenario failed.
The client's contract (from the RPC programs): --url URL; failures print " [!] Error: <reason>"
to stderr and exit non-zero.
"""
import argparse
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_broker  # noqa: E402

SANITIZER_PATTERNS = [r"ERROR: AddressSanitizer", r"ERROR: LeakSanitizer", r"runtime error:",
                      r"WARNING: ThreadSanitizer", r"ERROR: ThreadSanitizer"]

# What a careful client sends back (the fake broker's CLIENT_* verdict). "-" = nothing recorded
# (the broker closed the connection itself, or the scenario happens before one exists).
# The URL's query for a scenario whose verdict waits on one of the client's own timeouts: shorter
# than its default, so that the verdict comes within --limit.
URL_QUERY = {"silent_declare": "?connection_timeout=2000"}

EXPECTED_CLOSE = {
    "ok": {"CLIENT_CLOSE=200"},
    "wrong_corr_ids_first": {"CLIENT_CLOSE=200"},
    "reply_not_a_number": {"CLIENT_CLOSE=200"},
    "error_reply": {"CLIENT_CLOSE=200"},
    "bad_frame_end": {"CLIENT_CLOSE=501"},
    "huge_frame_size": {"CLIENT_CLOSE=501"},
    "truncated_method": {"CLIENT_CLOSE=502", "CLIENT_CLOSE=501"},
    # A reply the broker delivered costs its call only (issue 15): the connection ends cleanly.
    "unknown_table_tag": {"CLIENT_CLOSE=200"},
    "deep_table": {"CLIENT_EOF"},
    "deep_table_deliver": {"CLIENT_CLOSE=200"},
    "unknown_method": {"CLIENT_CLOSE=540", "CLIENT_CLOSE=503"},
    "heartbeat_on_channel": {"CLIENT_CLOSE=501", "CLIENT_CLOSE=503", "CLIENT_CLOSE=505"},
    "body_longer_than_declared": {"CLIENT_CLOSE=501", "CLIENT_CLOSE=505"},
    # 311 is a channel exception: channel.close 311, then a clean connection.close 200 is right too.
    "body_size_2_62": {"CLIENT_CLOSE=501", "CLIENT_CLOSE=311", "CLIENT_CLOSE=200", "CLIENT_EOF"},
    "garbage": {"CLIENT_CLOSE=501"},
    "eof_mid_frame": {"-", "CLIENT_EOF"},
    "silence_after_heartbeat": {"CLIENT_EOF", "CLIENT_CLOSE=320", "CLIENT_CLOSE=501"},
    "forced_close_320": {"CLIENT_CLOSE_OK"},
    "channel_close_405": {"CLIENT_CLOSE=200", "CLIENT_EOF"},
    "silent_declare": {"CLIENT_CLOSE=200", "CLIENT_EOF"},
    "refuse_transient_queue": {"CLIENT_CLOSE=200"},
    "auth_refused": {"CLIENT_CLOSE_OK", "CLIENT_EOF"},
    "close_after_start_ok": {"-"},
    "wrong_protocol_header": {"-"},
}


class Result:
    def __init__(self, scenario):
        self.scenario = scenario
        self.problems = []
        self.rc = None
        self.elapsed = 0.0
        self.rss_mb = 0.0
        self.close = "-"
        self.stderr_tail = ""

    @property
    def passed(self):
        return not self.problems


def start_broker(scenario, timeout):
    cmd = [sys.executable, os.path.join(HERE, "fake_broker.py"), "--scenario", scenario,
           "--expect-close", "--close-wait", str(timeout + 2), "--lifetime", str(timeout + 5)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("PORT="):
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"fake broker for {scenario} did not start: {line!r}")
    return proc, int(line.strip().split("=", 1)[1])


def run_client(argv, timeout):
    """Runs argv in its own process group; returns (rc or None if killed, elapsed, maxrss KiB,
    stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        status, rusage, timed_out = None, None, False
        while True:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status, rusage = st, ru
                break
            if time.monotonic() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        proc.returncode = 0  # reaped by os.wait4 above; keep Popen from waiting again
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # children it may have left behind
        except ProcessLookupError:
            pass
        out.seek(0)
        err.seek(0)
        rc = None if timed_out else os.waitstatus_to_exitcode(status)
        return rc, elapsed, rusage.ru_maxrss, out.read().decode(errors="replace"), \
            err.read().decode(errors="replace")


def run_one(scenario, template, args):
    res = Result(scenario)
    spec = fake_broker.SCENARIOS[scenario]
    broker, port = start_broker(scenario, args.timeout)
    url = f"amqp://guest:guest@127.0.0.1:{port}/{URL_QUERY.get(scenario, '')}"
    try:
        argv = shlex.split(template.replace("{url}", url))
        res.rc, res.elapsed, rss_kib, out, err = run_client(argv, args.timeout)
    finally:
        try:
            b_out, b_err = broker.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            broker.kill()
            b_out, b_err = broker.communicate()
    res.rss_mb = rss_kib / 1024.0
    res.stderr_tail = " | ".join(err.strip().splitlines()[-3:])[:300]
    lines = b_out.decode().splitlines()
    verdicts = [ln for ln in lines if ln.startswith("CLIENT_") and not ln.startswith("CLIENT_SENT=")]
    res.close = verdicts[-1] if verdicts else "-"
    replied = [ln.split("=", 1)[1] for ln in lines if ln.startswith("REPLIED=")]

    if res.rc is None:
        res.problems.append(f"hung: killed after {args.timeout:g} s")
    elif res.rc < 0:
        res.problems.append(f"killed by signal {-res.rc}")
    elif spec.right_answer:
        if res.rc != 0:
            res.problems.append(f"exit {res.rc}, expected 0")
        if not replied:
            res.problems.append("the client never sent a request the broker could answer")
        elif not re.search(rf"(?<!\d){re.escape(replied[-1])}(?!\d)", out):
            res.problems.append(f"stdout lacks the answer {replied[-1]}")
    else:
        if res.rc == 0:
            res.problems.append("exit 0, expected a failure")
        if not re.search(spec.cause, err, re.IGNORECASE):
            res.problems.append(f"stderr does not name the cause /{spec.cause}/")
    for pat in SANITIZER_PATTERNS:
        if re.search(pat, err):
            res.problems.append(f"sanitizer: {pat}")
    if res.elapsed >= args.limit and res.rc is not None:
        res.problems.append(f"took {res.elapsed:.1f} s (limit {args.limit:g} s)")
    if res.rss_mb > args.max_rss_mb:
        res.problems.append(f"peak RSS {res.rss_mb:.0f} MiB > {args.max_rss_mb} MiB")
    if args.check_close and res.close not in EXPECTED_CLOSE[scenario]:
        res.problems.append(f"{res.close}, expected {' or '.join(sorted(EXPECTED_CLOSE[scenario]))}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", help="client command line; {url} is replaced by the broker's URL")
    ap.add_argument("--scenarios", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds before the client is killed")
    ap.add_argument("--limit", type=float, default=8.0, help="seconds a verdict may take")
    ap.add_argument("--max-rss-mb", type=float, default=512.0)
    ap.add_argument("--check-close", action="store_true",
                    help="also require the expected connection.close reply code")
    ap.add_argument("--verbose", action="store_true", help="show the stderr tail of every run")
    args = ap.parse_args()
    if "{url}" not in args.command:
        ap.error("the command must contain {url}")
    names = [s for s in args.scenarios.split(",") if s] or list(fake_broker.SCENARIOS)
    unknown = [s for s in names if s not in fake_broker.SCENARIOS]
    if unknown:
        ap.error(f"unknown scenarios: {', '.join(unknown)}")

    results = []
    print(f"{'scenario':27} {'verdict':7} {'rc':>4} {'secs':>6} {'MiB':>5}  {'client close':17} problems")
    for name in names:
        r = run_one(name, args.command, args)
        results.append(r)
        rc = "hang" if r.rc is None else str(r.rc)
        print(f"{name:27} {'PASS' if r.passed else 'FAIL':7} {rc:>4} {r.elapsed:6.2f} "
              f"{r.rss_mb:5.0f}  {r.close:17} {'; '.join(r.problems)}", flush=True)
        if args.verbose or not r.passed:
            print(f"{'':27} stderr: {r.stderr_tail}", flush=True)
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
