#!/usr/bin/python3
"""End-to-end RPC benchmark matrix (issues 7 and 19): our client and server side by side with the
peers in bench/peers/ (rabbitmq-c, pika, Go's amqp091-go, Node's rabbitmq-client, aio-pika's
patterns.RPC), every cell on one private broker in one run.

    bench/run_matrix.py [--build DIR] [--reps 5] [--requests 5000] [--n 20] [--quick]
                        [--clients a,b] [--servers a,b] [--no-scaling] [--no-sizes]
                        [--no-instructions] [--instr-modes seq,pipe] [--url URL] [--out docs]
                        [--no-matrix] [--instructions-from FILE]

Matrix: every client against our server (`ours`: --workers 0 --quiet; `ours-default`: the README's
command line) and against its own server (matrix_procs.py says who plays with whom, and which
reply modes each can use) x {seq: inflight 1 / prefetch 1, pipe: inflight 64 / prefetch 64} x
reply queue {exclusive, direct reply-to}; --reps repetitions, interleaved, reported as medians,
with ratios against the rabbitmq-c client + server cell of the same mode and reply queue.
Pipelined runs send 10x --requests. Write (and read) syscalls per RPC are counted with `perf stat`
on the syscall tracepoints of the client and of the server(s) over a run, divided by the calls
(warmup and setup included), and so are the CPU (task-clock) and context switches of the client,
the server(s) and the broker's beam.smp (matrix_perf.py). Then: message sizes 16 B .. 1 MiB (matrix_size.py), instructions per
RPC under callgrind (matrix_instr.py), and a smaller sweep: inflight 1..256, and 1, 2, 4 servers.
The targets of issue 19 are printed met / NOT met at the end (matrix_targets.py).

Instruction counts do not depend on the machine's load, wall-clock rates do: on a shared machine
count the instructions while it is busy (`--no-matrix --no-sizes --no-scaling`) and take them into
the run made in a quiet hour with `--instructions-from THAT_RUN/benchmarks.json` (the page says so).

Writes OUT/benchmarks.md, OUT/benchmarks.json (every run), OUT/benchmarks.png and, with the
message-size runs, OUT/benchmarks-sizes.png (plot_matrix.py). For each target not met the page
says what bounds it, measured in the run (matrix_bounds.py): client, server and broker CPU per
call, instructions by component from the kept callgrind files, CPU per MB in the size runs.
Starts its own broker with scripts/rabbitmq.sh (--dir build/bench-rmq) unless --url is given, and
stops it on every exit path.
"""
import argparse
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import matrix_instr  # noqa: E402
import matrix_procs as procs  # noqa: E402
import matrix_report  # noqa: E402
import matrix_size  # noqa: E402
from matrix_perf import (PERF_EVENTS, READ_CALLS, WRITE_CALLS, SyscallCounter, broker_pid_of,  # noqa: E402,F401
                         beam_wait_flags, idle_cpu_ms_per_s, measured_run, per_rpc, perf_usable, read_perf, run_client)
from matrix_procs import PY, READY, Server  # noqa: E402,F401
from matrix_report import fmt, machine_info, sh, write_markdown  # noqa: E402

MODES = {"seq": (1, 1), "pipe": (64, 64)}  # mode -> (inflight, prefetch)
REPLIES = ["exclusive", "direct"]


def log(msg):
    print(f"run_matrix: {msg}", file=sys.stderr, flush=True)


class Broker:
    """A private RabbitMQ from scripts/rabbitmq.sh, or an existing one given by URL."""

    def __init__(self, url, rmq_dir):
        self.rmq_dir = rmq_dir
        self.started = False
        self.url = url

    def __enter__(self):
        if self.url:
            return self
        script = os.path.join(ROOT, "scripts", "rabbitmq.sh")
        env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "AMQPS_URL")}
        self.started = True
        try:
            subprocess.run([script, "start", "--dir", self.rmq_dir], check=True, env=env, stdout=subprocess.DEVNULL)
            with open(os.path.join(self.rmq_dir, "amqp_url")) as f:
                self.url = f.read().strip()
        except BaseException:
            # __exit__ does not run when __enter__ fails: a half-started node is stopped here.
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.started:
            subprocess.run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "stop", "--dir", self.rmq_dir],
                           stdout=subprocess.DEVNULL)
        return False


def one_run(args, url, servers, client, inflight, requests, warmup, reply, queue):
    """One client run against running servers; with perf, also the syscalls, CPU and context switches
    per call of the client, of the servers and of the broker (matrix_perf.measured_run)."""
    cmd = procs.client_cmd(client, args.build, url, queue, inflight, requests, warmup, reply, args.n)
    res = measured_run(args, cmd, requests + warmup, [s.proc.pid for s in servers], "cell")
    res["cmd"] = shlex.join(cmd)
    return res


def run_matrix(args, url, logdir, results):
    """Every server runs side by side (each on its own queue; an idle one costs nothing) and every
    repetition visits all cells in turn, so that a change in the machine's load over the run hits
    every cell alike instead of favouring whichever ran first."""
    seq_req = args.requests
    for mode, (inflight, prefetch) in MODES.items():
        requests = seq_req if mode == "seq" else seq_req * 10
        servers = {}
        try:
            for server in args.servers:
                servers[server] = Server(server, args.build, url, f"bench_{server}_{mode}", prefetch, logdir)
            for rep in range(args.reps):
                for server in args.servers:
                    queue = f"bench_{server}_{mode}"
                    if servers[server].proc.poll() is not None:
                        # Killed from outside (on a shared machine, someone's pkill): a new one
                        # takes over, and the run says so.
                        log(f"server {server} exited ({servers[server].proc.returncode}): restarted")
                        results["failures"].append(f"server {server} {mode} exited before rep {rep}: restarted")
                        servers[server].stop(keep_log=True)
                        servers[server] = Server(server, args.build, url, queue, prefetch, logdir)
                    for client in args.clients:
                        if server not in procs.SERVERS_OF[client]:
                            continue
                        for reply in procs.REPLIES_OF.get(client, REPLIES):
                            # Interpreted clients are slow: fewer calls keep the matrix short (noted in the doc).
                            req = requests if client not in procs.SLOW else max(requests // 4, 200)
                            try:
                                res = one_run(args, url, [servers[server]], client, inflight, req, req // 10, reply,
                                              queue)
                            except (RuntimeError, ValueError) as e:
                                # One failed cell must not throw away the others: it is listed in the doc.
                                log(f"FAILED: {e}")
                                results["failures"].append(f"{client} <- {server} {mode} {reply} rep {rep}: {e}")
                                continue
                            res.update(client=client, server=server, mode=mode, reply=reply, rep=rep,
                                       inflight=inflight, prefetch=prefetch)
                            results["matrix"].append(res)
                            log(f"{client:10} <- {server:12} {mode:4} {reply:9} rep {rep}: "
                                f"{res['rpc/s']:9.0f} rpc/s p50 {res['p50_us']:9.1f} us "
                                f"p99 {res['p99_us']:9.1f} us  writes/rpc client {fmt(res.get('client_writes_per_rpc'), 2)} "
                                f"server {fmt(res.get('server_writes_per_rpc'), 2)}  CPU µs/call server "
                                f"{fmt(res.get('server_cpu_us_per_call'))} broker {fmt(res.get('broker_cpu_us_per_call'))}")
        finally:
            for srv in servers.values():
                srv.stop()


def run_scaling(args, url, logdir, results):
    requests = max(args.requests * 2, 500)
    for impl in ["ours", "rabbitmq-c"]:
        for k in args.inflight_sweep:
            queue = f"scale_{impl}_k{k}"
            srv = Server(impl, args.build, url, queue, k, logdir)
            try:
                res = one_run(args, url, [srv], impl, k, requests, requests // 10, "exclusive", queue)
            finally:
                srv.stop()
            res.update(impl=impl, inflight=k, prefetch=k, servers=1)
            results["inflight_sweep"].append(res)
            log(f"inflight sweep {impl:10} k={k:3}: {res['rpc/s']:9.0f} rpc/s p50 {res['p50_us']:7.1f} us")
        for nsrv in [1, 2, 4]:
            queue = f"scale_{impl}_s{nsrv}"
            srvs = []
            try:
                for _ in range(nsrv):
                    srvs.append(Server(impl, args.build, url, queue, 64, logdir))
                res = one_run(args, url, srvs, impl, 64, requests * 2, requests // 5, "exclusive", queue)
            finally:
                for s in srvs:
                    s.stop()
            res.update(impl=impl, inflight=64, prefetch=64, servers=nsrv)
            results["server_sweep"].append(res)
            log(f"server sweep {impl:10} servers={nsrv}: {res['rpc/s']:9.0f} rpc/s p50 {res['p50_us']:7.1f} us")


def take_instructions(results, earlier):
    """The instruction counts of earlier runs (--instructions-from), a later run's replacing an earlier
    one's for the same role, program and mode; each source run is listed on the page."""
    rows = {}
    for e in earlier:
        for r in e["instructions"]:
            rows[(r["role"], r["kind"], r["mode"])] = r | {"source": e.get("date")}
        results["failures"] += [f for f in e.get("failures", []) if f.startswith("instructions ")]
    results["instructions"] = list(rows.values())
    results["instructions_sources"] = [{"date": e.get("date"), "command": e.get("command"),
                                        "loadavg_start": e.get("machine", {}).get("loadavg_start")} for e in earlier]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"),
                    help="build tree with examples/rpc_server, bench/rpc_bench, bench/rmqc_rpc_*")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--requests", type=int, default=5000, help="measured calls per sequential run (pipelined: 10x)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 calls, 1 rep, short sweeps, fewer "
                    "callgrind calls and message sizes")
    ap.add_argument("--no-scaling", action="store_true", help="skip the inflight and server sweeps")
    ap.add_argument("--no-instructions", action="store_true", help="skip the callgrind instruction counts")
    ap.add_argument("--instr-modes", default="seq,pipe", help="modes of the instruction counts (seq,pipe)")
    ap.add_argument("--no-sizes", action="store_true", help="skip the message-size runs")
    ap.add_argument("--no-matrix", action="store_true", help="skip the client x server cells")
    ap.add_argument("--instructions-from", metavar="FILE", action="append", help="no callgrind runs: take the "
                    "instruction counts from the benchmarks.json of an earlier run (recorded on the page with that "
                    "run's date); given again, a later file's counts replace an earlier one's for the same program")
    ap.add_argument("--clients", default=",".join(procs.CLIENTS), help="clients to run (comma-separated)")
    ap.add_argument("--servers", default=",".join(procs.SERVERS), help="servers to run (comma-separated)")
    ap.add_argument("--url", help="use this broker instead of starting one")
    ap.add_argument("--rmq-dir", default=os.path.join(ROOT, "build", "bench-rmq"))
    ap.add_argument("--broker-pid", type=int, help="the broker's beam.smp, to count its CPU per call (default: "
                    "the pid file of the broker started in --rmq-dir, also with --url)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--client-timeout", type=int, default=300)
    ap.add_argument("--no-perf", action="store_true", help="do not count syscalls with perf stat")
    ap.add_argument("--from-json", metavar="FILE", help="no run: rewrite OUT/benchmarks.md and the plot from a "
                    "benchmarks.json written before")
    ap.add_argument("--load-note", default="The machine was shared with other build and test jobs during this "
                    "run; the figures are noisy and will be re-run on a quiet machine.")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            results = json.load(f)
        os.makedirs(args.out, exist_ok=True)
        if args.instructions_from:
            # The counts of other runs into this one's page and json (the wall-clock run of a quiet hour
            # and the callgrind runs made while the machine was busy).
            earlier = []
            for path in args.instructions_from:
                with open(path) as f:
                    earlier.append(json.load(f))
            take_instructions(results, earlier)
            with open(os.path.join(args.out, "benchmarks.json"), "w") as f:
                json.dump(results, f, indent=1)
        for line in matrix_report.targets(results):
            log(f"target: {line}")
        write_markdown(os.path.join(args.out, "benchmarks.md"), results)
        return subprocess.run([PY, os.path.join(HERE, "plot_matrix.py"), os.path.join(args.out, "benchmarks.json")
                               if args.instructions_from else args.from_json,
                               os.path.join(args.out, "benchmarks.png")]).returncode
    if args.quick:
        args.requests, args.reps = 300, 1
    args.inflight_sweep = [1, 4, 16, 64, 256] if args.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256]
    args.build = os.path.abspath(args.build)
    for b in ["examples/rpc_server", "bench/rpc_bench", "bench/rpc_echo_server", "bench/rmqc_rpc_server",
              "bench/rmqc_rpc_client"]:
        if not os.access(os.path.join(args.build, b), os.X_OK):
            sys.exit(f"run_matrix: {os.path.join(args.build, b)} missing: build the targets amqp_rpc_rpc_server "
                     f"amqp_rpc_rpc_bench amqp_rpc_rpc_echo_server amqp_rpc_rmqc_rpc_server amqp_rpc_rmqc_rpc_client "
                     f"first")
    args.instr_modes = [m for m in args.instr_modes.split(",") if m]
    earlier = []
    for path in args.instructions_from or []:
        with open(path) as f:
            earlier.append(json.load(f))
        if not earlier[-1].get("instructions"):
            sys.exit(f"run_matrix: {path} has no instruction counts")
    skipped = []
    for attr, known in (("clients", procs.CLIENTS), ("servers", procs.SERVERS)):
        kinds = [k for k in getattr(args, attr).split(",") if k]
        for k in kinds:
            if k not in known:
                sys.exit(f"run_matrix: unknown {attr[:-1]} '{k}' (known: {', '.join(known)})")
        usable = []
        for k in kinds:
            why = procs.available(k, args.build)
            if why:
                log(f"skipped {k}: {why}")
                skipped.append(f"{k}: {why}")
            else:
                usable.append(k)
        setattr(args, attr, usable)
    os.makedirs(args.out, exist_ok=True)
    logdir = os.path.join(args.rmq_dir, "bench-logs")
    os.makedirs(logdir, exist_ok=True)
    args.logdir = logdir
    args.perf = not args.no_perf and perf_usable()
    if not args.perf and not args.no_perf:
        log("perf stat cannot count syscall tracepoints here (install linux-perf; needs root or "
            "kernel.perf_event_paranoid <= -1): no syscall counts")

    # SIGTERM/SIGHUP unwind like Ctrl-C so that the broker and servers are stopped.
    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": shlex.join(["bench/run_matrix.py"] + sys.argv[1:]), "n": args.n,
               "machine": machine_info(), "load_note": args.load_note,
               "perf": args.perf, "failures": list(skipped), "matrix": [], "inflight_sweep": [], "server_sweep": [],
               "instructions": [], "sizes": []}
    with Broker(args.url, args.rmq_dir) as broker:
        results["url"] = broker.url
        args.broker_pid = broker_pid_of(args.rmq_dir, args.broker_pid) if args.perf else None
        results["broker_cpu_counted"] = bool(args.broker_pid)
        if args.broker_pid:
            args.broker_idle_ms_per_s = idle_cpu_ms_per_s(args.broker_pid, logdir)
            results["broker_idle_ms_per_s"] = args.broker_idle_ms_per_s
            results["broker_wait_flags"] = beam_wait_flags(args.broker_pid)
            log(f"broker idle: {args.broker_idle_ms_per_s:.1f} ms of CPU per second (taken off each run's count)")
        log(f"broker {broker.url}" + (f", beam.smp pid {args.broker_pid}" if args.broker_pid else
                                      ", its CPU not counted (no perf, or no --broker-pid / pid file in --rmq-dir)"))
        if not args.no_matrix:
            run_matrix(args, broker.url, logdir, results)
        if not args.no_sizes:
            matrix_size.run_sizes(args, broker.url, logdir, results, log)
        if earlier:
            take_instructions(results, earlier)
        elif not args.no_instructions:
            matrix_instr.run_instructions(args, broker.url, logdir, results, log)
        if not args.no_scaling:
            run_scaling(args, broker.url, logdir, results)
    results["loadavg_end"] = sh("cat /proc/loadavg")
    with open(os.path.join(args.out, "benchmarks.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(os.path.join(args.out, "benchmarks.md"), results)
    log(f"wrote {args.out}/benchmarks.md and benchmarks.json")
    for line in matrix_report.targets(results):
        log(f"target: {line}")
    plot = subprocess.run([PY, os.path.join(HERE, "plot_matrix.py"), os.path.join(args.out, "benchmarks.json"),
                           os.path.join(args.out, "benchmarks.png")])
    if plot.returncode != 0:
        log("plot_matrix.py failed: no PNG (is python3-matplotlib installed?)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
