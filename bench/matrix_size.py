"""Message-size runs (issue 19): echo calls with request and reply bodies of 16 B .. 1 MiB, each
pair a client and its own echo server (ours: bench/rpc_bench --size and bench/rpc_echo_server;
rabbitmq-c's and Go's pairs with --size / --echo), inflight 8 / prefetch 8, exclusive reply queue,
the pairs interleaved within each repetition. MB/s counts the body one way (rpc/s x B)."""
import json
import shlex
import statistics
import subprocess

import matrix_procs as procs

SIZES = [16, 256, 4096, 65536, 262144, 1048576]
QUICK_SIZES = [16, 4096, 65536, 1048576]
PAIRS = ["ours", "rabbitmq-c", "go"]
INFLIGHT = 8


def calls_for(size, quick):
    """Enough calls to measure, at most ~32 MiB each way per run (16 MiB quick)."""
    budget = (16 if quick else 32) << 20
    return max(40, min(1000 if quick else 3000, budget // max(size, 1)))


def run_client(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"client failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr.strip()[-1000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_sizes(args, url, logdir, results, log):
    sizes = QUICK_SIZES if args.quick else SIZES
    reps = max(1, min(args.reps, 3))
    servers = {}
    try:
        for pair in PAIRS:
            servers[pair] = procs.Server(pair, args.build, url, f"size_{pair}", INFLIGHT, logdir, echo=True)
        for rep in range(reps):
            for size in sizes:
                for pair in PAIRS:
                    n = calls_for(size, args.quick)
                    cmd = procs.client_cmd(pair, args.build, url, f"size_{pair}", INFLIGHT, n, max(n // 10, 4),
                                           "exclusive", args.n, size=size)
                    try:
                        res = run_client(cmd, args.client_timeout)
                    except (RuntimeError, subprocess.SubprocessError) as e:
                        log(f"size FAILED: {e}")
                        results["failures"].append(f"size {pair} {size} B rep {rep}: {e}")
                        continue
                    res.update(pair=pair, size=size, rep=rep, inflight=INFLIGHT, mb_s=res["rpc/s"] * size / 1e6)
                    results["sizes"].append(res)
                    log(f"size {pair:10} {size:8} B rep {rep}: {res['rpc/s']:9.0f} rpc/s {res['mb_s']:8.1f} MB/s "
                        f"p50 {res['p50_us']:9.1f} us")
    finally:
        for s in servers.values():
            s.stop()


def size_summary(results):
    """{(pair, size): {"rpc/s", "mb_s", "p50_us", "reps"}} medians."""
    cells = {}
    for r in results.get("sizes", []):
        cells.setdefault((r["pair"], r["size"]), []).append(r)
    return {k: {m: statistics.median(x[m] for x in v) for m in ("rpc/s", "mb_s", "p50_us")} | {"reps": len(v)}
            for k, v in cells.items()}


def size_markdown(results, fmt, ratio):
    s = size_summary(results)
    if not s:
        return []
    sizes = sorted({k[1] for k in s})
    L = ["## Message size (echo, inflight 8 / prefetch 8, exclusive reply queue, medians)\n",
         "Each pair is a client and its own echo server; MB/s is the body one way (rpc/s × size). "
         "Ratios: ours against rabbitmq-c's pair.\n",
         "| body | " + " | ".join(f"{p} rpc/s | {p} MB/s | {p} p50 µs" for p in PAIRS) + " | MB/s ours/rmqc |",
         "|---:|" + "---:|" * (3 * len(PAIRS) + 1)]
    for size in sizes:
        row = [f"{size:,} B"]
        for p in PAIRS:
            c = s.get((p, size))
            row += [fmt(c and c["rpc/s"], 0), fmt(c and c["mb_s"], 1), fmt(c and c["p50_us"])]
        o, r = s.get(("ours", size)), s.get(("rabbitmq-c", size))
        row.append(ratio(o and o["mb_s"], r and r["mb_s"]))
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    return L
