#!/usr/bin/python3
"""Plots of bench/run_matrix.py's results: every cell's sequential p50 and pipelined throughput
(medians over the repetitions, one horizontal bar per client -> server, reply queue) in PNG, and,
when the run has message-size runs, MB/s and p50 against body size per pair, with the fib(n) point,
in PNG's name with -sizes (docs/benchmarks-sizes.png).

    bench/plot_matrix.py docs/benchmarks.json docs/benchmarks.png
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"ours": "tab:blue", "rabbitmq-c": "tab:orange", "pika": "tab:green", "go": "tab:cyan",
          "node": "tab:olive", "aio-pika": "tab:purple"}


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def bars(ax, cells, mode, key, title, xlabel, log):
    rows = []
    for (client, server, m, reply), runs in cells.items():
        v = med(runs, key) if m == mode else None
        if v:
            rows.append((v, f"{client} → {server} ({reply[:4]})", client))
    rows.sort(reverse=key == "p50_us")
    if not rows:
        ax.set_visible(False)
        return
    ax.barh(range(len(rows)), [r[0] for r in rows], color=[COLORS.get(r[2], "gray") for r in rows])
    ax.set_yticks(range(len(rows)), [r[1] for r in rows], fontsize=6)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)


def size_points(sizes, pair, key, fib):
    by = {}
    for r in sizes:
        if r["pair"] == pair and bool(r.get("fib_n")) == fib and r.get(key) is not None:
            by.setdefault(r["size"], []).append(r[key])
    return sorted((s, statistics.median(v)) for s, v in by.items())


def plot_sizes(res, dst):
    """MB/s and p50 against body size, one line per pair (echo), the fib(n) point as a star at its
    reply's size."""
    sizes = res.get("sizes") or []
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    fib_n = (res.get("size_fib") or {}).get("n")
    for ax, key, label in ((axes[0], "mb_s", "MB/s, body one way (higher is better)"),
                           (axes[1], "p50_us", "p50 µs (lower is better)")):
        for pair in sorted({r["pair"] for r in sizes}):
            pts = size_points(sizes, pair, key, False)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS.get(pair, "gray"),
                    label=f"{pair} pair (echo)")
            fib = size_points(sizes, pair, key, True)
            if fib:
                ax.scatter([p[0] for p in fib], [p[1] for p in fib], marker="*", s=160, zorder=3,
                           color=COLORS.get(pair, "gray"), edgecolors="black", label=f"{pair} pair, fib({fib_n})")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("body bytes (echo: request and reply; fib: reply)")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title("Throughput against message size (inflight 8, prefetch 8)")
    axes[1].set_title("Latency against message size")
    fig.suptitle(f"Message size, {res['date']} ({res['machine']['nproc']} CPUs)")
    fig.tight_layout()
    fig.savefig(dst, dpi=90)


def sizes_path(dst):
    """docs/benchmarks.png -> docs/benchmarks-sizes.png"""
    stem, dot, ext = dst.rpartition(".")
    return f"{stem}-sizes.{ext}" if dot else dst + "-sizes"


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    cells = {}
    for r in res["matrix"]:
        cells.setdefault((r["client"], r["server"], r["mode"], r["reply"]), []).append(r)
    fig, axes = plt.subplots(1, 2, figsize=(12, 8))
    bars(axes[0], cells, "seq", "p50_us", "Sequential p50 (inflight 1, prefetch 1)", "µs, log scale (lower is better)",
         True)
    bars(axes[1], cells, "pipe", "rpc/s", "Pipelined (inflight 64, prefetch 64)", "calls per second", False)
    load = (res["machine"].get("loadavg_start") or "?").split()[0]
    fig.suptitle(f"Fibonacci RPC fib({res['n']}), {res['date']} ({res['machine']['nproc']} CPUs, "
                 f"load average {load} at start)")
    fig.tight_layout()
    fig.savefig(dst, dpi=90)
    if res.get("sizes"):
        plot_sizes(res, sizes_path(dst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
