#!/usr/bin/python3
"""End-to-end RPC benchmark matrix (issue 7): our client and server side by side with the
rabbitmq-c and pika peers (bench/peers/), every cell on one private broker in one run.

    bench/run_matrix.py [--build DIR] [--reps 3] [--requests 5000] [--n 20] [--quick]
                        [--no-scaling] [--url URL] [--out docs]

Matrix: client {ours, rabbitmq-c, pika} x server {ours, rabbitmq-c}, plus pika's client on pika's
server (its pair, for the issue's "pika's throughput"), x {seq: inflight 1 /
prefetch 1, pipe: inflight 64 / prefetch 64} x reply queue {exclusive, direct reply-to}; --reps
repetitions, reported as medians, with ratios against the rabbitmq-c client + server cell of the
same mode and reply queue. Pipelined runs send 10x --requests. Write (and read) syscalls per RPC
are counted with `perf stat` on the syscall tracepoints of the client and of the server(s) over a
run, divided by the calls (warmup and setup included); /proc/<pid>/io syscw would miss them, as it
does not count send/sendto/sendmsg. Then a smaller sweep: inflight 1..256 (prefetch = inflight), and 1, 2, 4 servers.

Writes OUT/benchmarks.md, OUT/benchmarks.json (every run) and OUT/benchmarks.png (plot_matrix.py).
Starts its own broker with scripts/rabbitmq.sh (--dir build/bench-rmq) unless --url is given, and
stops it on every exit path.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
READY = "Awaiting RPC requests"

CLIENTS = ["ours", "rabbitmq-c", "pika"]
SERVERS = ["ours", "rabbitmq-c", "pika"]
# pika's server is only paired with pika's client: "pika's throughput" in the targets is
# its client and server together, as "rabbitmq-c's" is.
CLIENTS_OF = {"pika": ["pika"]}
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


WRITE_CALLS = ["write", "writev", "sendto", "sendmsg", "sendmmsg"]
READ_CALLS = ["read", "readv", "recvfrom", "recvmsg", "recvmmsg"]
PERF_EVENTS = ",".join(["task-clock", "context-switches"] + [f"syscalls:sys_enter_{c}" for c in WRITE_CALLS + READ_CALLS])


def perf_usable():
    """True when `perf stat` can count syscall tracepoints here (root, or a low perf_event_paranoid)."""
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_write", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and "sys_enter_write" in r.stderr and "<not" not in r.stderr


def read_perf(path):
    """Counts from a `perf stat -x,` output file: {"write": n, ..., "task-clock": ms, "context-switches": n}."""
    counts = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) < 3:
                    continue
                name = parts[2].removeprefix("syscalls:sys_enter_")
                try:
                    counts[name] = float(parts[0]) if name == "task-clock" else int(parts[0])
                except ValueError:
                    pass  # "<not counted>": a thread that did not run
    except OSError:
        pass
    return counts


class SyscallCounter:
    """`perf stat` attached to running processes (every thread) until stop()."""

    def __init__(self, pids, path):
        self.path = path
        self.proc = subprocess.Popen(["perf", "stat", "-x,", "-o", path, "-e", PERF_EVENTS, "-p",
                                      ",".join(str(p) for p in pids)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # perf needs a moment to attach before the run starts

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        counts = read_perf(self.path)
        try:
            os.remove(self.path)
        except OSError:
            pass
        return counts


class Server:
    """One RPC server process on `queue`; stopped with SIGTERM."""

    def __init__(self, kind, args, url, queue, prefetch, logdir):
        bins = args.build
        if kind == "ours":
            # fib(20) takes microseconds: computed on the connection's thread (--workers 0), like the
            # single-threaded peers, and without the tutorial's console line per request.
            cmd = [os.path.join(bins, "examples", "rpc_server"), "--url", url, "--queue", queue,
                   "--prefetch", str(prefetch), "--workers", "0", "--quiet"]
        elif kind == "rabbitmq-c":
            cmd = [os.path.join(bins, "bench", "rmqc_rpc_server"), "--url", url, "--queue", queue,
                   "--prefetch", str(prefetch)]
        else:
            cmd = [PY, os.path.join(HERE, "peers", "pika_rpc_server.py"), "--url", url, "--queue", queue,
                   "--prefetch", str(prefetch)]
        self.cmd = cmd
        self.kind = kind
        # The servers' output (ours: only its start and stop lines with --quiet) goes to a file.
        self.logpath = os.path.join(logdir, f"server-{kind}-{queue}-{time.time_ns()}.log")
        self.logfile = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.logpath) as f:
                if READY in f.read(4096):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start: {shlex.join(cmd)} (see {self.logpath})")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()
        try:
            os.remove(self.logpath)
        except OSError:
            pass


def client_cmd(kind, args, url, queue, inflight, requests, warmup, reply):
    common = ["--url", url, "--queue", queue, "--inflight", str(inflight), "--requests", str(requests),
              "--warmup", str(warmup), "--n", str(args.n), "--json"]
    if reply == "direct":
        common.append("--direct-reply-to")
    if kind == "ours":
        return [os.path.join(args.build, "bench", "rpc_bench")] + common
    if kind == "rabbitmq-c":
        return [os.path.join(args.build, "bench", "rmqc_rpc_client")] + common
    return [PY, os.path.join(HERE, "peers", "pika_rpc_client.py")] + common


def run_client(cmd, timeout):
    """Runs a client to completion; returns its JSON result line."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError(f"client timed out after {timeout} s: {shlex.join(cmd)}")
    if p.returncode != 0:
        raise RuntimeError(f"client failed ({p.returncode}): {shlex.join(cmd)}\n{err.strip()}")
    return json.loads(out.strip().splitlines()[-1])


def per_rpc(counts, calls, which):
    return sum(counts.get(c, 0) for c in which) / calls if counts else None


def one_run(args, url, servers, client, inflight, requests, warmup, reply, queue):
    """One client run against running servers; with perf, also the write and read syscalls per
    call of the client and of the servers (setup and warmup calls included in the division)."""
    cmd = client_cmd(client, args, url, queue, inflight, requests, warmup, reply)
    calls = requests + warmup
    if not args.perf:
        res = run_client(cmd, args.client_timeout)
        res["cmd"] = shlex.join(cmd)
        return res
    tag = f"{os.getpid()}-{time.time_ns()}"
    client_out = os.path.join(args.logdir, f"perf-client-{tag}.txt")
    counter = SyscallCounter([s.proc.pid for s in servers], os.path.join(args.logdir, f"perf-server-{tag}.txt"))
    try:
        res = run_client(["perf", "stat", "-x,", "-o", client_out, "-e", PERF_EVENTS, "--"] + cmd,
                         args.client_timeout)
    finally:
        server_counts = counter.stop()
    client_counts = read_perf(client_out)
    try:
        os.remove(client_out)
    except OSError:
        pass
    res["client_syscalls"] = client_counts
    res["server_syscalls"] = server_counts
    res["client_writes_per_rpc"] = per_rpc(client_counts, calls, WRITE_CALLS)
    res["server_writes_per_rpc"] = per_rpc(server_counts, calls, WRITE_CALLS)
    res["client_reads_per_rpc"] = per_rpc(client_counts, calls, READ_CALLS)
    res["server_reads_per_rpc"] = per_rpc(server_counts, calls, READ_CALLS)
    # Our example server prints a line per request (write(2) to its log): not socket traffic.
    res["server_cpu_us_per_call"] = server_counts.get("task-clock", 0.0) * 1000.0 / calls if server_counts else None
    res["server_switches_per_rpc"] = server_counts.get("context-switches", 0) / calls if server_counts else None
    res["server_socket_writes_per_rpc"] = per_rpc(server_counts, calls, [c for c in WRITE_CALLS if c != "write"])
    res["cmd"] = shlex.join(cmd)
    return res


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    keys = ["rpc/s", "p50_us", "p99_us", "p999_us", "cpu_us_per_call", "client_writes_per_rpc",
            "server_writes_per_rpc", "server_socket_writes_per_rpc", "server_cpu_us_per_call", "server_switches_per_rpc", "client_reads_per_rpc", "server_reads_per_rpc"]
    return {k: median(runs, k) for k in keys} | {"reps": len(runs)}


def run_matrix(args, url, logdir, results):
    """Both servers run side by side (each on its own queue; an idle one costs nothing) and every
    repetition visits all cells in turn, so that a change in the machine's load over the run hits
    every cell alike instead of favouring whichever ran first."""
    seq_req = args.requests
    for mode, (inflight, prefetch) in MODES.items():
        requests = seq_req if mode == "seq" else seq_req * 10
        servers = {}
        try:
            for server in SERVERS:
                servers[server] = Server(server, args, url, f"bench_{server}_{mode}", prefetch, logdir)
            for rep in range(args.reps):
                for server in SERVERS:
                    queue = f"bench_{server}_{mode}"
                    for client in CLIENTS_OF.get(server, CLIENTS):
                        for reply in REPLIES:
                            # pika runs are slow: fewer calls keep the matrix short (noted in the doc).
                            req = requests if client != "pika" else max(requests // 4, 200)
                            try:
                                res = one_run(args, url, [servers[server]], client, inflight, req, req // 10, reply,
                                              queue)
                            except RuntimeError as e:
                                # One failed cell must not throw away the others: it is listed in the doc.
                                log(f"FAILED: {e}")
                                results["failures"].append(f"{client} <- {server} {mode} {reply} rep {rep}: {e}")
                                continue
                            res.update(client=client, server=server, mode=mode, reply=reply, rep=rep,
                                       inflight=inflight, prefetch=prefetch)
                            results["matrix"].append(res)
                            log(f"{client:10} <- {server:10} {mode:4} {reply:9} rep {rep}: "
                                f"{res['rpc/s']:9.0f} rpc/s p50 {res['p50_us']:7.1f} us "
                                f"p99 {res['p99_us']:7.1f} us  writes/rpc client {fmt(res.get('client_writes_per_rpc'), 2)} "
                                f"server {fmt(res.get('server_writes_per_rpc'), 2)}")
        finally:
            for srv in servers.values():
                srv.stop()


def run_scaling(args, url, logdir, results):
    requests = max(args.requests * 2, 500)
    for impl in ["ours", "rabbitmq-c"]:
        for k in args.inflight_sweep:
            queue = f"scale_{impl}_k{k}"
            srv = Server(impl, args, url, queue, k, logdir)
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
                    srvs.append(Server(impl, args, url, queue, 64, logdir))
                res = one_run(args, url, srvs, impl, 64, requests * 2, requests // 5, "exclusive", queue)
            finally:
                for s in srvs:
                    s.stop()
            res.update(impl=impl, inflight=64, prefetch=64, servers=nsrv)
            results["server_sweep"].append(res)
            log(f"server sweep {impl:10} servers={nsrv}: {res['rpc/s']:9.0f} rpc/s p50 {res['p50_us']:7.1f} us")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else "?"
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "rabbitmq": sh("dpkg-query -W -f='${Version}' rabbitmq-server"),
        "erlang": sh("dpkg-query -W -f='${Version}' erlang-base"),
        "boost": sh("dpkg-query -W -f='${Version}' libboost1.81-dev"),
        "gcc": sh("gcc -dumpfullversion"),
        "librabbitmq": sh("dpkg-query -W -f='${Version}' librabbitmq-dev"),
        "pika": sh("dpkg-query -W -f='${Version}' python3-pika"),
        "loadavg_start": sh("cat /proc/loadavg"),
    }


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def write_markdown(path, results):
    m = results["machine"]
    cells = {}
    for r in results["matrix"]:
        cells.setdefault((r["client"], r["server"], r["mode"], r["reply"]), []).append(r)
    summary = {k: summarize(v) for k, v in cells.items()}
    L = []
    L.append("# End-to-end RPC benchmarks\n")
    L.append("Generated by `bench/run_matrix.py` (do not edit by hand). Fibonacci RPC, "
             f"fib({results['n']}) per call, one private RabbitMQ for every cell, one run.\n")
    L.append(f"- Date: {results['date']}")
    L.append(f"- Command: `{results['command']}`")
    L.append(f"- Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}")
    L.append(f"- Versions: RabbitMQ {m['rabbitmq']}, Erlang {m['erlang']}, Boost {m['boost']}, gcc {m['gcc']}, "
             f"librabbitmq {m['librabbitmq']}, pika {m['pika']}")
    L.append(f"- Load average at start: `{m['loadavg_start']}`; at end: `{results.get('loadavg_end', '?')}`")
    L.append("")
    L.append("**Note on load.** " + results["load_note"])
    L.append("")
    L.append("## Matrix (medians)\n")
    L.append("seq = inflight 1 / server prefetch 1; pipe = inflight 64 / prefetch 64. Ratios are against the "
             "rabbitmq-c client + rabbitmq-c server cell of the same mode and reply queue (throughput: "
             "higher is better; p50: lower is better). writes/RPC: write-family syscalls (write, writev, "
             "send, sendto, sendmsg) of the client process and of the server process per call, counted with "
             "`perf stat` on the syscall tracepoints (setup and warmup included); in brackets the server's "
             "socket writes alone, without write(2) (console output). Server CPU µs/call and context switches/RPC: `perf stat` task-clock and context-switches "
             "of the server process over the client's run, per call (the server idles between runs).\n")
    L.append("| client | server | mode | reply queue | rpc/s | p50 µs | p99 µs | p99.9 µs | client CPU µs/call "
             "| server CPU µs/call | server ctx switches/RPC | client writes/RPC | server writes/RPC (socket) | rpc/s vs rmqc | p50 vs rmqc | reps |")
    L.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        for reply in REPLIES:
            base = summary.get(("rabbitmq-c", "rabbitmq-c", mode, reply))
            for server in SERVERS:
                for client in CLIENTS:
                    s = summary.get((client, server, mode, reply))
                    if not s:
                        continue
                    L.append(f"| {client} | {server} | {mode} | {reply} | {fmt(s['rpc/s'], 0)} | {fmt(s['p50_us'])} "
                             f"| {fmt(s['p99_us'])} | {fmt(s['p999_us'])} | {fmt(s['cpu_us_per_call'], 2)} "
                             f"| {fmt(s.get('server_cpu_us_per_call'), 2)} | {fmt(s.get('server_switches_per_rpc'), 2)} "
                             f"| {fmt(s['client_writes_per_rpc'], 2)} | {fmt(s['server_writes_per_rpc'], 2)} "
                             f"({fmt(s['server_socket_writes_per_rpc'], 2)}) "
                             f"| {ratio(s['rpc/s'], base and base['rpc/s'])} "
                             f"| {ratio(s['p50_us'], base and base['p50_us'])} | {s['reps']} |")
    L.append("")
    # The targets, judged on this run.
    def get(c, s, mode, reply, key):
        v = summary.get((c, s, mode, reply))
        return v and v[key]
    L.append("## Targets (issue 7), on this run\n")
    for reply in REPLIES:
        o50, r50 = get("ours", "ours", "seq", reply, "p50_us"), get("rabbitmq-c", "rabbitmq-c", "seq", reply, "p50_us")
        o99, r99 = get("ours", "ours", "seq", reply, "p99_us"), get("rabbitmq-c", "rabbitmq-c", "seq", reply, "p99_us")
        orps, rrps = get("ours", "ours", "pipe", reply, "rpc/s"), get("rabbitmq-c", "rabbitmq-c", "pipe", reply, "rpc/s")
        prps = get("pika", "rabbitmq-c", "pipe", reply, "rpc/s")
        pprps = get("pika", "pika", "pipe", reply, "rpc/s")
        def verdict(a, b, limit, higher):
            if not a or not b:
                return "not run"
            return "met" if (a / b >= limit if higher else a / b <= limit) else "NOT met"
        L.append(f"- {reply}: sequential p50 ours/rmqc = {ratio(o50, r50)} (target ≤ 1.00×: "
                 f"{verdict(o50, r50, 1.0, False)}), p99 = {ratio(o99, r99)} (target ≤ 1.10×: "
                 f"{verdict(o99, r99, 1.1, False)}); pipelined rpc/s ours/rmqc = {ratio(orps, rrps)} (target ≥ "
                 f"1.20×: {verdict(orps, rrps, 1.2, True)}), ours/pika = {ratio(orps, pprps)} (target ≥ 5×: "
                 f"{verdict(orps, pprps, 5.0, True)}; pika's client and server, as rabbitmq-c's figure is its "
                 f"client and server). For reference, ours/pika's client on the rabbitmq-c server = "
                 f"{ratio(orps, prps)}: that cell is bound by the pika client's CPU per call.")
    L.append("")
    if results["inflight_sweep"]:
        L.append("## Scaling with inflight (exclusive reply queue, prefetch = inflight, one run each)\n")
        L.append("| inflight | ours rpc/s | ours p50 µs | rabbitmq-c rpc/s | rabbitmq-c p50 µs | ratio |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        sw = {(r["impl"], r["inflight"]): r for r in results["inflight_sweep"]}
        for k in sorted({r["inflight"] for r in results["inflight_sweep"]}):
            o, c = sw.get(("ours", k)), sw.get(("rabbitmq-c", k))
            L.append(f"| {k} | {fmt(o and o['rpc/s'], 0)} | {fmt(o and o['p50_us'])} | {fmt(c and c['rpc/s'], 0)} "
                     f"| {fmt(c and c['p50_us'])} | {ratio(o and o['rpc/s'], c and c['rpc/s'])} |")
        L.append("")
    if results["server_sweep"]:
        L.append("## Scaling with servers (inflight 64, prefetch 64 each, exclusive reply queue, one run each)\n")
        L.append("| servers | ours rpc/s | ours servers' socket writes/RPC | rabbitmq-c rpc/s | rabbitmq-c servers' socket writes/RPC | ratio |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        sw = {(r["impl"], r["servers"]): r for r in results["server_sweep"]}
        for k in [1, 2, 4]:
            o, c = sw.get(("ours", k)), sw.get(("rabbitmq-c", k))
            if not o and not c:
                continue
            L.append(f"| {k} | {fmt(o and o['rpc/s'], 0)} | {fmt(o and o.get('server_socket_writes_per_rpc'), 2)} "
                     f"| {fmt(c and c['rpc/s'], 0)} | {fmt(c and c.get('server_socket_writes_per_rpc'), 2)} "
                     f"| {ratio(o and o['rpc/s'], c and c['rpc/s'])} |")
        L.append("")
    if results.get("failures"):
        L.append("## Failed runs (left out of the medians)\n")
        L.extend(f"- {f.splitlines()[0]}" for f in results["failures"])
        L.append("")
    L.append("## Plot\n")
    L.append("![latency and throughput per client](benchmarks.png)\n")
    L.append("## Reproduce\n")
    L.append("```sh\ncmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release\n"
             "cmake --build build/bench -j2 --target amqp_rpc_rpc_server amqp_rpc_rpc_bench amqp_rpc_rmqc_rpc_server amqp_rpc_rmqc_rpc_client\n"
             "bench/run_matrix.sh            # --quick: a 30 s smoke run; --from-json F: redo this page\n```\n")
    L.append("## How each cell is run\n")
    L.append("Each client is run as below (pika with a quarter of the calls, at least 200, to keep the run short); "
             "the servers are `examples/rpc_server --prefetch P --workers 0 --quiet` (ours: handlers inline on "
             "the connection's thread, as the single-threaded peers do, and no console line per request), "
             "`bench/peers/rmqc_rpc_server --prefetch P`. Every client sends the same request our client does: "
             "reply_to, correlation_id, expiration (the call timeout, so that the broker drops a request "
             "nobody took in time) and mandatory (an unroutable request comes back at once); the peers' "
             "`--bare` leaves the last two out. Every run's raw figures are in `benchmarks.json`.\n")
    seen = set()
    for r in results["matrix"]:
        key = (r["client"], r["mode"], r["reply"])
        if key in seen or r["rep"] != 0 or r["server"] != "ours":
            continue
        seen.add(key)
        cmd = r["cmd"].replace(results["url"], "URL").replace(ROOT + "/", "")
        L.append(f"- `{cmd}`")
    L.append("")
    # Hand-written analysis (profiles, where the time goes) kept next to the script.
    notes = os.path.join(HERE, "benchmarks_notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read().rstrip() + "\n")
    with open(path, "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"),
                    help="build tree with examples/rpc_server, bench/rpc_bench, bench/rmqc_rpc_*")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=5000, help="measured calls per sequential run (pipelined: 10x)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="smoke run: 300 calls, 1 rep, short sweeps")
    ap.add_argument("--no-scaling", action="store_true", help="skip the inflight and server sweeps")
    ap.add_argument("--url", help="use this broker instead of starting one")
    ap.add_argument("--rmq-dir", default=os.path.join(ROOT, "build", "bench-rmq"))
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
        write_markdown(os.path.join(args.out, "benchmarks.md"), results)
        return subprocess.run([PY, os.path.join(HERE, "plot_matrix.py"), args.from_json,
                               os.path.join(args.out, "benchmarks.png")]).returncode
    if args.quick:
        args.requests, args.reps = 300, 1
    args.inflight_sweep = [1, 4, 16, 64, 256] if args.quick else [1, 2, 4, 8, 16, 32, 64, 128, 256]
    args.build = os.path.abspath(args.build)
    for b in ["examples/rpc_server", "bench/rpc_bench", "bench/rmqc_rpc_server", "bench/rmqc_rpc_client"]:
        if not os.access(os.path.join(args.build, b), os.X_OK):
            sys.exit(f"run_matrix: {os.path.join(args.build, b)} missing: build the targets amqp_rpc_rpc_server "
                     f"amqp_rpc_rpc_bench amqp_rpc_rmqc_rpc_server amqp_rpc_rmqc_rpc_client first")
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
               "perf": args.perf, "failures": [], "matrix": [], "inflight_sweep": [], "server_sweep": []}
    with Broker(args.url, args.rmq_dir) as broker:
        results["url"] = broker.url
        log(f"broker {broker.url}")
        run_matrix(args, broker.url, logdir, results)
        if not args.no_scaling:
            run_scaling(args, broker.url, logdir, results)
    results["loadavg_end"] = sh("cat /proc/loadavg")
    with open(os.path.join(args.out, "benchmarks.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(os.path.join(args.out, "benchmarks.md"), results)
    log(f"wrote {args.out}/benchmarks.md and benchmarks.json")
    plot = subprocess.run([PY, os.path.join(HERE, "plot_matrix.py"), os.path.join(args.out, "benchmarks.json"),
                           os.path.join(args.out, "benchmarks.png")])
    if plot.returncode != 0:
        log("plot_matrix.py failed: no PNG (is python3-matplotlib installed?)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
