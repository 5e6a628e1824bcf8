"""Message-size runs (issue 19): echo calls with request and reply bodies of 16 B .. 1 MiB, each
pair a client and its own echo server (ours: bench/rpc_bench --size and bench/rpc_echo_server;
rabbitmq-c's and Go's pairs with --size / --echo), inflight 8 / prefetch 8, exclusive reply queue,
the pairs interleaved within each repetition. MB/s counts the body one way (rpc/s x B). With perf,
each run also counts the CPU of the client, its server and the broker (matrix_perf.measured_run),
per MB and as a share of a core: whether CPU or waiting bounds the rate. fib(FIB_N) is one more
point, placed by its reply's size: each pair's own Fibonacci server, not the echo one."""
import os
import shlex
import statistics
import subprocess

import matrix_procs as procs
from matrix_perf import measured_run

SIZES = [16, 256, 4096, 65536, 262144, 1048576]
QUICK_SIZES = [16, 4096, 65536, 1048576]
PAIRS = ["ours", "rabbitmq-c", "go"]
# fib(n) for a large n is one point of the size table, placed by its reply's size: every pair's own
# Fibonacci server computes it (ours `--workers 0 --quiet`).
FIB_N = 10000
INFLIGHT = 8


def calls_for(size, quick):
    """Enough calls to measure, at most ~32 MiB each way per run (16 MiB quick)."""
    budget = (16 if quick else 32) << 20
    return max(40, min(1000 if quick else 3000, budget // max(size, 1)))


def fib_text_len(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return len(str(a))


def with_cpu_per_mb(res, size, nproc):
    """CPU per MB of body (one way, as MB/s counts it) of client, server and broker, and the share of
    a core each used over the run (task-clock / wall time): whether CPU or waiting bounds the rate."""
    for who, key in (("client", "client_task_us_per_call"), ("server", "server_cpu_us_per_call"),
                     ("broker", "broker_cpu_us_per_call")):
        us = res.get(key)
        res[f"{who}_cpu_ms_per_mb"] = None if us is None else us * 1000.0 / size
        counts = {"client": res.get("client_syscalls"), "server": res.get("server_syscalls"),
                  "broker": res.get("broker_counts")}[who]
        ms = (counts or {}).get("task-clock")
        res[f"{who}_cores"] = None if ms is None or not res.get("wall_s") else ms / (res["wall_s"] * 1000.0)
    res["nproc"] = nproc
    return res


def one_size_run(args, url, server, pair, size, n, fib_n=None):
    warmup = max(n // 10, 4)
    queue = server.queue
    cmd = procs.client_cmd(pair, args.build, url, queue, INFLIGHT, n, warmup, "exclusive",
                           fib_n if fib_n else args.n, size=None if fib_n else size)
    res = measured_run(args, cmd, n + warmup, [server.proc.pid], "size")
    res.update(pair=pair, size=size, inflight=INFLIGHT, mb_s=res["rpc/s"] * size / 1e6, cmd=shlex.join(cmd))
    return with_cpu_per_mb(res, size, os.cpu_count())


def run_sizes(args, url, logdir, results, log):
    sizes = QUICK_SIZES if args.quick else SIZES
    reps = max(1, min(args.reps, 3))
    fib_size = fib_text_len(FIB_N)
    results["size_fib"] = {"n": FIB_N, "reply_bytes": fib_size, "request_bytes": len(str(FIB_N))}
    servers = {}
    try:
        for pair in PAIRS:
            servers[pair] = procs.Server(pair, args.build, url, f"size_{pair}", INFLIGHT, logdir, echo=True)
        for pair in PAIRS:
            servers[(pair, "fib")] = procs.Server(pair, args.build, url, f"sizefib_{pair}", INFLIGHT, logdir)
        for rep in range(reps):
            for size in sizes + [("fib", fib_size)]:
                for pair in PAIRS:
                    fib_n = FIB_N if isinstance(size, tuple) else None
                    body = size[1] if fib_n else size
                    n = calls_for(body, args.quick) if not fib_n else (300 if args.quick else 1000)
                    try:
                        res = one_size_run(args, url, servers[(pair, "fib") if fib_n else pair], pair, body, n, fib_n)
                    except (RuntimeError, ValueError, subprocess.SubprocessError) as e:
                        log(f"size FAILED: {e}")
                        results["failures"].append(f"size {pair} {'fib' if fib_n else body} B rep {rep}: {e}")
                        continue
                    res.update(rep=rep, fib_n=fib_n)
                    results["sizes"].append(res)
                    log(f"size {pair:10} {body:8} B{' fib' if fib_n else ''} rep {rep}: {res['rpc/s']:9.0f} rpc/s "
                        f"{res['mb_s']:8.1f} MB/s p50 {res['p50_us']:9.1f} us  CPU ms/MB client "
                        f"{_f(res['client_cpu_ms_per_mb'])} server {_f(res['server_cpu_ms_per_mb'])} "
                        f"broker {_f(res['broker_cpu_ms_per_mb'])}")
    finally:
        for s in servers.values():
            s.stop()


def _f(v):
    return "–" if v is None else f"{v:.2f}"


CPU_KEYS = ["client_cpu_ms_per_mb", "server_cpu_ms_per_mb", "broker_cpu_ms_per_mb", "client_cores",
            "server_cores", "broker_cores"]


def size_summary(results, fib=False):
    """{(pair, size): {"rpc/s", "mb_s", "p50_us", CPU per MB and cores..., "reps"}} medians; the echo
    runs, or with fib=True the fib(n) point's."""
    cells = {}
    for r in results.get("sizes", []):
        if bool(r.get("fib_n")) == fib:
            cells.setdefault((r["pair"], r["size"]), []).append(r)

    def med(v, m):
        xs = [x[m] for x in v if x.get(m) is not None]
        return statistics.median(xs) if xs else None
    return {k: {m: med(v, m) for m in ["rpc/s", "mb_s", "p50_us"] + CPU_KEYS} | {"reps": len(v)}
            for k, v in cells.items()}


def size_markdown(results, fmt, ratio):
    s = size_summary(results)
    if not s:
        return []
    fib = size_summary(results, fib=True)
    info = results.get("size_fib") or {}
    fib_n = info.get("n") or next((r["fib_n"] for r in results.get("sizes", []) if r.get("fib_n")), None)
    rows = [(size, False) for size in sorted({k[1] for k in s})] + [(size, True) for size in sorted({k[1] for k in fib})]
    rows.sort(key=lambda r: (r[0], r[1]))
    L = ["## Message size (echo, inflight 8 / prefetch 8, exclusive reply queue, medians)\n",
         "Each pair is a client and its own echo server; MB/s is the body one way (rpc/s × size). "
         "Ratios: ours against rabbitmq-c's pair. Plot: [benchmarks-sizes.png](benchmarks-sizes.png).\n"]
    if info:
        L.append(f"The **fib({info['n']:,})** row is one point of the same scale: a Fibonacci call (request "
                 f"{info['request_bytes']} B, reply {info['reply_bytes']:,} B, placed by its reply's size, MB/s "
                 f"counting the reply), each pair's own Fibonacci server (ours: `--workers 0 --quiet`), same "
                 f"inflight and prefetch.\n")
    L += ["| body | " + " | ".join(f"{p} rpc/s | {p} MB/s | {p} p50 µs" for p in PAIRS) + " | MB/s ours/rmqc |",
          "|---:|" + "---:|" * (3 * len(PAIRS) + 1)]
    for size, is_fib in rows:
        src = fib if is_fib else s
        row = [f"fib({fib_n:,}): {size:,} B reply" if is_fib else f"{size:,} B"]
        for p in PAIRS:
            c = src.get((p, size))
            row += [fmt(c and c["rpc/s"], 0), fmt(c and c["mb_s"], 1), fmt(c and c["p50_us"])]
        o, r = src.get(("ours", size)), src.get(("rabbitmq-c", size))
        row.append(ratio(o and o["mb_s"], r and r["mb_s"]))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    cpu = size_cpu_markdown(results, fmt)
    if cpu:
        L += ["CPU of each process per MB of body (one way), and the share of a core it used over the run: "
              "`perf stat` task-clock of the client, of its server and of the broker's beam.smp over the client's "
              "run (start-up, warmup included) / the MB moved, and / the run's wall time.\n"] + cpu
    return L


def size_cpu_markdown(results, fmt):
    """The size runs' CPU per MB and share of a core of client, server and broker (perf task-clock over
    each run): when every share is well below a core, the pair waits; near one, that process's CPU
    bounds it."""
    s = size_summary(results)
    if not s or all(c.get("client_cpu_ms_per_mb") is None for c in s.values()):
        return []
    L = ["| body | pair | MB/s | CPU ms/MB client | server | broker | cores used: client | server | broker |",
         "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sorted({k[1] for k in s}):
        for p in PAIRS:
            c = s.get((p, size))
            if c:
                L.append(f"| {size:,} B | {p} | {fmt(c['mb_s'], 1)} | {fmt(c['client_cpu_ms_per_mb'], 2)} "
                         f"| {fmt(c['server_cpu_ms_per_mb'], 2)} | {fmt(c['broker_cpu_ms_per_mb'], 2)} "
                         f"| {fmt(c['client_cores'], 2)} | {fmt(c['server_cores'], 2)} | {fmt(c['broker_cores'], 2)} |")
    L.append("")
    return L
