#!/usr/bin/python3
"""A/B of server variants: each variant runs as its own server process on its own queue, all side
by side on one broker, and every repetition runs the same client against each in turn, so that
the machine's load drifts over all of them alike. Prints each run and the medians: throughput,
latency, client CPU per call, and from `perf stat` on the server: CPU per call, context switches
per call, socket writes per call, write(2) per call (console output); and the broker's CPU per
call (its beam.smp: --broker-pid, or the node this script starts).

    bench/ab_server.py [--build DIR] [--url URL] [--mode seq|pipe] [--reps 5] [--requests N]
                       [--client ours|rabbitmq-c] [--direct-reply-to] NAME='ARGS' ...

ARGS are examples/rpc_server options (--url, --queue and --prefetch are added); NAME 'rmqc' runs
bench/peers' rabbitmq-c server instead; a word BIN=PATH takes another server binary (an older
build), ENV:K=V sets an environment variable for the server, CLIENT=ours|rabbitmq-c the client of
that variant (to compare pairs), CLIENT_BIN=PATH another client binary, SERVER=rabbitmq-c the peer's server under another name. Example, the inline-handler A/B of docs/benchmarks.md:

    bench/ab_server.py --mode seq pool='--workers 1' inline='--workers 0 --quiet' rmqc=
"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_matrix as rm  # noqa: E402  (Broker, perf helpers)

MODES = {"seq": (1, 1, 3000), "pipe": (64, 64, 30000)}  # inflight, prefetch, measured calls


def start_server(args, name, spec, url, queue, prefetch):
    words = shlex.split(spec)
    binary = os.path.join(args.build, "examples", "rpc_server")
    extra = []
    env = dict(os.environ)
    for w in words:
        if w.startswith("BIN="):
            binary = w[4:]
        elif w.startswith("CLIENT=") or w.startswith("CLIENT_BIN="):
            continue  # read by main()
        elif w == "SERVER=rabbitmq-c":
            name = "rmqc"
        elif w.startswith("ENV:") and "=" in w:
            k, _, v = w[4:].partition("=")
            env[k] = v
        else:
            extra.append(w)
    if name == "rmqc":
        cmd = [os.path.join(args.build, "bench", "rmqc_rpc_server")]
    else:
        cmd = [binary] + extra
    cmd += ["--url", url, "--queue", queue, "--prefetch", str(prefetch)]
    log = os.path.join(args.logdir, f"ab-{queue}.log")
    out = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    for _ in range(600):
        with open(log) as f:
            if rm.READY in f.read(4096):
                return proc, out
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"ab_server: {name} did not start: {shlex.join(cmd)} (see {log})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(rm.ROOT, "build", "bench"))
    ap.add_argument("--url", help="use this broker instead of starting one")
    ap.add_argument("--rmq-dir", default=os.path.join(rm.ROOT, "build", "bench-rmq"))
    ap.add_argument("--mode", choices=MODES, default="seq")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--requests", type=int, help="measured calls per run (default: seq 3000, pipe 30000)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--client", choices=["ours", "rabbitmq-c"], default="ours")
    ap.add_argument("--direct-reply-to", action="store_true")
    ap.add_argument("--broker-pid", type=int, help="the broker's beam.smp, to count its CPU per call")
    ap.add_argument("variants", nargs="+", metavar="NAME=ARGS")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    inflight, prefetch, requests = MODES[args.mode]
    requests = args.requests or requests
    variants = [v.split("=", 1) if "=" in v else [v, ""] for v in args.variants]
    args.logdir = os.path.join(args.rmq_dir, "bench-logs")
    os.makedirs(args.logdir, exist_ok=True)
    results = {name: [] for name, _ in variants}
    with rm.Broker(args.url, args.rmq_dir) as broker:
        broker_pid = args.broker_pid
        if not broker_pid and broker.started:
            with open(os.path.join(args.rmq_dir, "rabbitmq.pid")) as f:
                broker_pid = int(f.read().strip())
        servers = {}
        try:
            for name, spec in variants:
                servers[name] = start_server(args, name, spec, broker.url, f"ab_{name}_{args.mode}", prefetch)
            for rep in range(args.reps):
                for name, spec in variants:
                    queue = f"ab_{name}_{args.mode}"
                    which = next((w[7:] for w in shlex.split(spec) if w.startswith("CLIENT=")), args.client)
                    client = os.path.join(args.build, "bench", "rpc_bench" if which == "ours" else "rmqc_rpc_client")
                    client = next((w[11:] for w in shlex.split(spec) if w.startswith("CLIENT_BIN=")), client)
                    warmup = requests // 10
                    cmd = [client, "--url", broker.url, "--queue", queue, "--inflight", str(inflight), "--requests",
                           str(requests), "--warmup", str(warmup), "--n", str(args.n), "--json"]
                    if args.direct_reply_to:
                        cmd.append("--direct-reply-to")
                    counter = rm.SyscallCounter([servers[name][0].pid],
                                                os.path.join(args.logdir, f"ab-perf-{name}-{time.time_ns()}.txt"))
                    beam = None
                    if broker_pid:
                        beam = rm.SyscallCounter([broker_pid], os.path.join(args.logdir, f"ab-beam-{time.time_ns()}.txt"))
                    try:
                        res = rm.run_client(cmd, 600)
                    finally:
                        counts = counter.stop()
                        beam_counts = beam.stop() if beam else {}
                    calls = requests + warmup
                    res["srv_cpu"] = counts.get("task-clock", 0.0) * 1000.0 / calls
                    res["srv_cs"] = counts.get("context-switches", 0) / calls
                    res["srv_sock_w"] = rm.per_rpc(counts, calls, [c for c in rm.WRITE_CALLS if c != "write"]) or 0.0
                    res["srv_write"] = counts.get("write", 0) / calls
                    res["broker_cpu"] = beam_counts.get("task-clock", 0.0) * 1000.0 / calls
                    results[name].append(res)
                    print(f"rep {rep} {name:12} {line(res)}", flush=True)
        finally:
            for proc, out in servers.values():
                proc.terminate()
                proc.wait()
                out.close()
    print(f"medians ({args.mode}, client {args.client}, {args.reps} reps, load {rm.sh('cat /proc/loadavg')}):")
    for name, _ in variants:
        rows = results[name]
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if isinstance(rows[0][k], (int, float))}
        print(f"  {name:12} {line(med)}")


def line(r):
    return (f"rpc/s {r['rpc/s']:8.0f}  p50 {r['p50_us']:7.1f}  p99 {r['p99_us']:8.1f} us  client CPU "
            f"{r['cpu_us_per_call']:5.2f}  server CPU {r['srv_cpu']:5.1f} us/call  ctx sw {r['srv_cs']:4.2f}  "
            f"socket writes {r['srv_sock_w']:4.2f}  write(2) {r['srv_write']:4.2f}  broker CPU {r['broker_cpu']:5.1f} us/call")


if __name__ == "__main__":
    main()
