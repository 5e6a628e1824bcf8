"""Issue 19's targets, judged on one run of bench/run_matrix.py: a list of lines, each ending in
"met", "NOT met" or "not run"."""
import statistics

import matrix_procs as procs

OUR_SERVERS = ["ours", "ours-default"]


def _verdict(a, b, limit, higher):
    if not a or not b:
        return "not run"
    return "met" if (a / b >= limit if higher else a / b <= limit) else "NOT met"


def _ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def _peer_pairs(summary, mode, reply, key, best):
    """(best value, pair name) over the peers' own pairs (client with its own server)."""
    vals = [(summary[(c, procs.OWN_SERVER[c], mode, reply)][key], c) for c in procs.CLIENTS
            if c != "ours" and (c, procs.OWN_SERVER[c], mode, reply) in summary
            and summary[(c, procs.OWN_SERVER[c], mode, reply)].get(key)]
    return best(vals) if vals else (None, None)


def evaluate(summary, instructions, size_summary):
    L = []
    pair_targets = [("pipe", "rpc/s", max, "pipelined rpc/s", "≥ 1.20×", 1.2, True),
                    ("seq", "p50_us", min, "sequential p50", "≤ 1.00×", 1.0, False)]
    for mode, key, best, what, target, limit, higher in pair_targets:
        for reply in ["exclusive", "direct"]:
            peer, who = _peer_pairs(summary, mode, reply, key, best)
            for srv in OUR_SERVERS:
                o = summary.get(("ours", srv, mode, reply), {}).get(key)
                L.append(f"{what}, {reply}, our client + {srv} server / best peer pair ({who}): "
                         f"{_ratio(o, peer)} (target {target}): {_verdict(o, peer, limit, higher)}")
    ir = {}
    for r in instructions:
        ir[(r["role"], r["kind"], r["mode"])] = r["ir_per_rpc"]
    for mode in sorted({r["mode"] for r in instructions}, reverse=True):
        peers = [(v, k[1]) for k, v in ir.items() if k[0] == "client" and k[2] == mode and k[1] != "ours"]
        best, who = min(peers) if peers else (None, None)
        o = ir.get(("client", "ours", mode))
        L.append(f"instructions per RPC, {mode}, our client / best peer client ({who}): {_ratio(o, best)} "
                 f"(target ≤ 0.50×): {_verdict(o, best, 0.5, False)}")
        peers = [(v, k[1]) for k, v in ir.items() if k[0] == "server" and k[2] == mode and k[1] not in OUR_SERVERS]
        best, who = min(peers) if peers else (None, None)
        for srv in OUR_SERVERS:
            o = ir.get(("server", srv, mode))
            L.append(f"instructions per RPC, {mode}, {srv} server / best peer server ({who}): {_ratio(o, best)} "
                     f"(target ≤ 0.50×): {_verdict(o, best, 0.5, False)}")
    for size in [65536, 1048576]:
        o = size_summary.get(("ours", size), {}).get("mb_s")
        r = size_summary.get(("rabbitmq-c", size), {}).get("mb_s")
        L.append(f"MB/s at {size // 1024} KiB, our pair / rabbitmq-c's: {_ratio(o, r)} (target ≥ 1.20×): "
                 f"{_verdict(o, r, 1.2, True)}")
    return L


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None
