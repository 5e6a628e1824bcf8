#!/usr/bin/python3
"""Plot of bench/run_matrix.py's results: per client and server, latency p50/p99 (sequential) and
throughput (pipelined), medians over the repetitions; plus the inflight sweep when present.

    bench/plot_matrix.py docs/benchmarks.json docs/benchmarks.png
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402

CLIENTS = ["ours", "rabbitmq-c", "pika"]
SERVERS = ["ours", "rabbitmq-c", "pika"]  # pika's server appears with pika's client only
REPLIES = ["exclusive", "direct"]
COLORS = {"ours": "tab:blue", "rabbitmq-c": "tab:orange", "pika": "tab:green"}


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else 0.0


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    cells = {}
    for r in res["matrix"]:
        cells.setdefault((r["client"], r["server"], r["mode"], r["reply"]), []).append(r)

    present = {k[1] for k in cells}
    groups = [(s, rep) for s in SERVERS if s in present for rep in REPLIES]
    short = {"rabbitmq-c": "rmqc"}
    labels = [f"{short.get(s, s)} server\n{rep}" for s, rep in groups]
    width = 0.8 / len(CLIENTS)
    has_sweep = bool(res.get("inflight_sweep"))
    fig, axes = plt.subplots(1, 3 if has_sweep else 2, figsize=(17 if has_sweep else 12, 5))

    ax = axes[0]
    for i, c in enumerate(CLIENTS):
        xs = [g + (i - 1) * width for g in range(len(groups))]
        p50 = [med(cells.get((c, s, "seq", rep), []), "p50_us") for s, rep in groups]
        p99 = [med(cells.get((c, s, "seq", rep), []), "p99_us") for s, rep in groups]
        ax.bar(xs, p99, width, color=COLORS[c], alpha=0.35)
        ax.bar(xs, p50, width, color=COLORS[c], label=f"{c} client")
        p999 = [med(cells.get((c, s, "seq", rep), []), "p999_us") for s, rep in groups]
        ax.scatter(xs, p999, marker="_", s=120, color="black", label="p99.9" if i == 0 else None, zorder=3)
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_yscale("log")  # p99 on a loaded machine is 10-100x p50
    ax.set_ylabel("latency µs, log scale (solid p50, light p99, tick p99.9)")
    ax.set_title("Sequential (inflight 1, prefetch 1)")
    ax.legend(fontsize=8)

    ax = axes[1]
    for i, c in enumerate(CLIENTS):
        xs = [g + (i - 1) * width for g in range(len(groups))]
        rps = [med(cells.get((c, s, "pipe", rep), []), "rpc/s") for s, rep in groups]
        ax.bar(xs, rps, width, color=COLORS[c], label=f"{c} client")
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_ylabel("calls per second")
    ax.set_title("Pipelined (inflight 64, prefetch 64)")
    ax.legend(fontsize=8)

    if has_sweep:
        ax = axes[2]
        for impl in ["ours", "rabbitmq-c"]:
            pts = sorted((r["inflight"], r["rpc/s"]) for r in res["inflight_sweep"] if r["impl"] == impl)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS[impl],
                        label=f"{impl} client + server")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("inflight (= prefetch)")
        ax.set_ylabel("calls per second")
        ax.set_title("Scaling with inflight (exclusive reply queue)")
        ax.legend(fontsize=8)

    load = (res["machine"].get("loadavg_start") or "?").split()[0]
    fig.suptitle(f"Fibonacci RPC fib({res['n']}), {res['date']} ({res['machine']['nproc']} CPUs, "
                 f"load average {load} at start)")
    fig.tight_layout()
    fig.savefig(dst, dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
