#!/usr/bin/python3
"""Plot of bench/run_matrix.py's results: every cell's sequential p50 and pipelined throughput
(medians over the repetitions, one horizontal bar per client -> server, reply queue), and the
message-size runs' MB/s per pair when present.

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


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = json.load(f)
    cells = {}
    for r in res["matrix"]:
        cells.setdefault((r["client"], r["server"], r["mode"], r["reply"]), []).append(r)
    sizes = res.get("sizes") or []
    fig, axes = plt.subplots(1, 3 if sizes else 2, figsize=(18 if sizes else 12, 8))
    bars(axes[0], cells, "seq", "p50_us", "Sequential p50 (inflight 1, prefetch 1)", "µs, log scale (lower is better)",
         True)
    bars(axes[1], cells, "pipe", "rpc/s", "Pipelined (inflight 64, prefetch 64)", "calls per second", False)
    if sizes:
        ax = axes[2]
        for pair in sorted({r["pair"] for r in sizes}):
            by = {}
            for r in sizes:
                if r["pair"] == pair:
                    by.setdefault(r["size"], []).append(r["mb_s"])
            pts = sorted((s, statistics.median(v)) for s, v in by.items())
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS.get(pair, "gray"),
                    label=f"{pair} pair")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("body bytes (request and reply)")
        ax.set_ylabel("MB/s, body one way")
        ax.set_title("Message size (echo, inflight 8, prefetch 8)")
        ax.legend(fontsize=8)
    load = (res["machine"].get("loadavg_start") or "?").split()[0]
    fig.suptitle(f"Fibonacci RPC fib({res['n']}), {res['date']} ({res['machine']['nproc']} CPUs, "
                 f"load average {load} at start)")
    fig.tight_layout()
    fig.savefig(dst, dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
