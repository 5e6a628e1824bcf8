#!/usr/bin/python3
"""Smoke test of one benchmark peer (bench/peers/, issue 19): a few calls in each direction, so that
a broken peer is caught before a benchmark run. No timing is checked.

    peers_smoke_test.py --build BUILD_DIR --peer {rabbitmq-c,pika,go,node,aio-pika}
    (broker: $AMQP_URL, else the file $AMQP_URL_FILE, as ctest's broker fixture sets it)

For peer P: P's client against P's server in each reply mode P supports; our client (rpc_bench)
against P's server; P's client against our server where P can play with it; where P's server
computes large n (the size table's fib(10000) point), fib(10000) both ways; and, where P has an
echo mode, a 1000-byte echo call through P's pair. Exit 77 (ctest: skipped) when P's toolchain or
package is not installed (scripts/deps.sh installs them), 1 on any failed call.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import matrix_procs as procs  # noqa: E402
import matrix_size  # noqa: E402

CALLS = 20
CLIENT_LIMIT = 120  # seconds one client run may take
SKIP = 77


def broker_url():
    url = os.environ.get("AMQP_URL")
    path = os.environ.get("AMQP_URL_FILE")
    if not url and path and os.path.exists(path):
        with open(path) as f:
            url = f.read().strip()
    if not url:
        sys.exit("peers_smoke_test: no broker (AMQP_URL / AMQP_URL_FILE)")
    return url


def call(build, url, client, queue, reply, size=None, n=20):
    cmd = procs.client_cmd(client, build, url, queue, 4, CALLS, 2, reply, n, size=size)
    if client == "ours":
        # Below the harness's own limit: an overrun is then reported by the client itself, with
        # how many calls it published and got answered.
        cmd += ["--max-seconds", str(CLIENT_LIMIT - 30)]
    detail = f", {size} B echo" if size is not None else (f", fib({n})" if n != 20 else "")
    what = f"{client} client -> {queue} ({reply}{detail})"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_LIMIT)
    except subprocess.TimeoutExpired as e:
        said = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(f"{what} still running after {CLIENT_LIMIT} s; it printed: {said.strip()[-1500:]!r}")
    if p.returncode != 0:
        raise AssertionError(f"{what} failed ({p.returncode}): {p.stderr.strip()[-1500:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    if res.get("requests") != CALLS:
        raise AssertionError(f"{what}: {res.get('requests')} of {CALLS} measured calls answered")
    print(f"ok: {what}: {CALLS} calls", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--peer", required=True, choices=[c for c in procs.CLIENTS if c != "ours"])
    args = ap.parse_args()
    build, peer = os.path.abspath(args.build), args.peer
    if peer == "rabbitmq-c" and not os.path.exists(os.path.join(build, "bench", "rmqc_rpc_client")):
        print("skipped: rabbitmq-c peers not built (librabbitmq-dev)")
        return SKIP
    why = procs.available(peer, build)
    if why:
        print(f"skipped: {why}")
        return SKIP
    url = broker_url()
    tag = f"{peer}_{os.getpid()}"
    logdir = tempfile.mkdtemp(prefix="peers_smoke_")
    servers = []
    failed = False
    try:
        own = procs.Server(peer, build, url, f"smoke_{tag}", 8, logdir)
        servers.append(own)
        for reply in procs.REPLIES_OF.get(peer, ["exclusive", "direct"]):
            call(build, url, peer, f"smoke_{tag}", reply)
        call(build, url, "ours", f"smoke_{tag}", "exclusive")
        if "ours" in procs.SERVERS_OF[peer]:
            servers.append(procs.Server("ours", build, url, f"smoke_ours_{tag}", 8, logdir))
            call(build, url, peer, f"smoke_ours_{tag}", procs.REPLIES_OF.get(peer, ["exclusive"])[0])
        if peer in matrix_size.PAIRS:
            # The size table's fib(n) point: each side checks the other's fib(10000) (2090 digits).
            call(build, url, "ours", f"smoke_{tag}", "exclusive", n=matrix_size.FIB_N)
            call(build, url, peer, f"smoke_ours_{tag}", procs.REPLIES_OF.get(peer, ["exclusive"])[0],
                 n=matrix_size.FIB_N)
        if peer in procs.ECHO_SERVERS:
            servers.append(procs.Server(peer, build, url, f"smoke_echo_{tag}", 8, logdir, echo=True))
            call(build, url, peer, f"smoke_echo_{tag}", procs.REPLIES_OF.get(peer, ["exclusive"])[0], size=1000)
    except (AssertionError, RuntimeError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        failed = True
        return 1
    finally:
        for s in servers:
            s.stop(keep_log=failed)
            if failed:
                with open(s.logpath, errors="replace") as f:
                    tail = f.read()[-2000:]
                print(f"--- {s.logpath} (last 2000 characters)\n{tail}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
