"""The page's "What bounds each target not met (measured)" section (issue 19), from one run's figures:
for pipelined rpc/s and sequential p50, where a call's time goes (client, server and broker CPU per call against the
p50); for instructions per RPC, each native process's count split by component (callgrind files,
matrix_callgrind.py); for MB/s, the CPU per MB and the share of a core of client, server and
broker. Only the targets this run did not meet get their part; nothing here is written by hand."""
import os
import statistics

import matrix_callgrind as cg
import matrix_procs as procs
import matrix_size

NATIVE = ["ours", "ours-default", "rabbitmq-c"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _not_met(targets, prefix):
    return [t for t in targets if t.startswith(prefix) and t.endswith("NOT met")]


def _client_cpu(s):
    return s.get("cpu_us_per_call") if s.get("cpu_us_per_call") is not None else s.get("client_task_us_per_call")


def _shown(path):
    """A path as the page shows it: relative to the checkout when inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def _whole(v):
    """A per-call difference of two runs rounds to a small negative where a component did nothing
    per call (start-up jitter): shown as 0."""
    return None if v is None else (0.0 if abs(v) < 0.5 else v)


def _syscalls(s, who):
    w, r = s.get(f"{who}_writes_per_rpc"), s.get(f"{who}_reads_per_rpc")
    return None if w is None or r is None else w + r


def seq_cells(summary, reply):
    """The sequential cells that say who bounds a call: our client on our servers, every peer's pair,
    and rabbitmq-c's client on our server (our server's part with another client)."""
    keys = [("ours", "ours"), ("ours", "ours-default"), ("rabbitmq-c", "ours")]
    keys += [(c, procs.OWN_SERVER[c]) for c in procs.CLIENTS if c != "ours"]
    return [(k, summary[(k[0], k[1], "seq", reply)]) for k in keys if (k[0], k[1], "seq", reply) in summary]


def seq_markdown(results, summary, fmt):
    L = ["### Sequential p50: where a call's time goes\n",
         "Per call (medians of the repetitions): the client's CPU (its own count over the measured calls), the "
         "server's and the broker's (`perf stat` task-clock of the server process and of the broker's beam.smp "
         "over the client's run, per call, warmup and setup included; the broker's idle rate taken off), and "
         "the context switches of each. The broker's figure is all of beam.smp's threads, user and kernel time: "
         "sequential traffic wakes its schedulers for every message (see its context switches), which costs far "
         "more per call than pipelined traffic, where one wake-up serves many messages (beam's busy-wait flags "
         f"in this run: {results.get('broker_wait_flags') or 'not read'}; RabbitMQ's script passes `+sbwt none`, "
         "so its schedulers sleep instead of spinning). It can exceed the p50: beam's threads run in parallel, "
         "and part of its work (the ack, its bookkeeping) follows the reply. "
         "Client and server CPU are the parts a client or server library can change.\n"]
    any_broker = False
    for reply in ["exclusive", "direct"]:
        cells = seq_cells(summary, reply)
        if not cells:
            continue
        L.append(f"**{reply} reply queue**\n")
        L.append("| client → server | reading | client + server CPU µs | broker CPU / (client + server) "
                 "| ctx switches/call client / server / broker | read/write-family syscalls/call "
                 "client / server |")
        L.append("|---|---|---:|---:|---|---|")
        for (client, server), s in cells:
            a, b, c = _client_cpu(s), s.get("server_cpu_us_per_call"), s.get("broker_cpu_us_per_call")
            any_broker |= c is not None
            ours = None if a is None or b is None else a + b
            L.append(f"| {client} → {server} | p50 = {fmt(s['p50_us'])} µs, of which client CPU {fmt(a)}, server "
                     f"CPU {fmt(b)}, broker CPU {fmt(c)} per call | {fmt(ours)} "
                     f"| {'–' if not ours or c is None else f'{c / ours:.1f}×'} "
                     f"| {fmt(s.get('client_switches_per_rpc'), 2)} / {fmt(s.get('server_switches_per_rpc'), 2)} / "
                     f"{fmt(s.get('broker_switches_per_rpc'), 2)} | {fmt(_syscalls(s, 'client'), 2)} / "
                     f"{fmt(_syscalls(s, 'server'), 2)} |")
        L.append("")
        broker = [s.get("broker_cpu_us_per_call") for _, s in cells if s.get("broker_cpu_us_per_call") is not None]
        own = {k: s for k, s in cells}
        ours = own.get(("ours", "ours"))
        if broker and ours and _client_cpu(ours) is not None:
            peers = [(s["p50_us"], k[0], s) for k, s in cells if k[0] != "ours" and k[1] == procs.OWN_SERVER[k[0]]]
            line = (f"Broker CPU per call, {reply}: {min(broker):.1f}–{max(broker):.1f} µs over these cells "
                    f"(median {statistics.median(broker):.1f}); our pair's client + server CPU "
                    f"{_client_cpu(ours) + (ours.get('server_cpu_us_per_call') or 0):.1f} µs")
            if peers:
                p50, who, best = min(peers, key=lambda x: x[0])
                if _client_cpu(best) is not None:
                    line += (f", the best peer pair's ({who}, p50 {p50:.1f} µs) "
                             f"{_client_cpu(best) + (best.get('server_cpu_us_per_call') or 0):.1f} µs")
            L.append(line + ".\n")
    if not any_broker:
        L.append("The broker's CPU was not counted in this run (no perf, or its beam.smp pid unknown: "
                 "`--broker-pid`, or `--rmq-dir` of the broker given by `--url`).\n")
    return L


def instr_markdown(rows, fmt):
    split = [r for r in rows if r.get("components")]
    if not split:
        return ["### Instructions per RPC by component\n",
                "No component split in this run's counts (they come from runs without the callgrind files, "
                "or `--no-instructions`).\n"]
    used = [k for k in cg.COMPONENTS if any(abs(r["components"].get(k, 0)) >= 0.5 for r in split)]
    L = ["### Instructions per RPC by component\n",
         "Each native process's callgrind count (the table above) split by the function each instruction "
         "ran in (own cost, `matrix_callgrind.py`: Asio = `boost::asio::`, ours = `amqp::`/`rpc::`/"
         "`fibonacci::`, the program's own code = the rest of its binary, e.g. rabbitmq-c's main loop and "
         "fib), as the same difference of two runs per call. The callgrind files are kept for "
         "`callgrind_annotate`: " + ", ".join(sorted({_shown(os.path.dirname(r["callgrind_files"][-1]))
                                                      for r in split if r.get("callgrind_files")})) + ".\n",
         "| role | kind | mode | total | " + " | ".join(used) + " |",
         "|---|---|---|---:|" + "---:|" * len(used)]
    for r in sorted(split, key=lambda r: (r["role"], r["mode"] != "seq", NATIVE.index(r["kind"])
                                          if r["kind"] in NATIVE else 9)):
        L.append(f"| {r['role']} | {r['kind']} | {r['mode']} | {fmt(r['ir_per_rpc'], 0)} | "
                 + " | ".join(fmt(_whole(r["components"].get(k)), 0) for k in used) + " |")
    L.append("")
    for r in split:
        if r["kind"] not in NATIVE:
            continue
        parts = sorted(((v, k) for k, v in r["components"].items() if v >= 0.02 * r["ir_per_rpc"]), reverse=True)
        who = {"ours": "our", "ours-default": "our (default flags)", "rabbitmq-c": "rabbitmq-c's"}[r["kind"]]
        L.append(f"- Of {who} {r['role']}'s {r['ir_per_rpc']:,.0f} instructions per {r['mode']} RPC: "
                 + ", ".join(f"{v:,.0f} {k}" for v, k in parts) + ".")
    L.append("")
    return L


def size_markdown(results, fmt):
    s = matrix_size.size_summary(results)
    L = ["### MB/s: CPU or waiting\n",
         "From the message-size section's CPU table: a process near 1.0 core bounds the rate by its CPU (the "
         "broker can use more: it runs a scheduler thread per core, "
         f"{results['machine'].get('nproc', '?')} here); all well below one means the pair waits.\n"]
    for size in [65536, 1048576]:
        o = s.get(("ours", size))
        if not o or o.get("client_cores") is None:
            continue
        cores = {w: o.get(f"{w}_cores") for w in ("client", "server", "broker")}
        busiest = max((v, w) for w, v in cores.items() if v is not None)
        total = sum(v for v in cores.values() if v is not None)
        nproc = results["machine"].get("nproc") or 2
        if total >= 0.9 * nproc:
            verdict = f"the machine's {nproc} cores are busy ({total:.2f} cores in all): CPU bounds it"
        elif busiest[0] >= 0.9:
            verdict = f"the {busiest[1]}'s CPU bounds it ({busiest[0]:.2f} of a core)"
        else:
            verdict = (f"no process is near a full core (busiest: the {busiest[1]}, {busiest[0]:.2f}; "
                       f"{total:.2f} cores in all): the pair waits")
        L.append(f"- {size // 1024} KiB, our pair: {fmt(o['mb_s'], 1)} MB/s; cores used client "
                 f"{fmt(cores['client'], 2)}, server {fmt(cores['server'], 2)}, broker {fmt(cores['broker'], 2)}: "
                 f"{verdict}.")
    if len(L) == 2:
        L.append("No CPU counts for the size runs in this run (no perf, or a run from before they were counted).")
    L.append("")
    return L


def pipe_markdown(summary, fmt):
    L = ["### Pipelined rpc/s: whose CPU\n",
         "Per call, as for the sequential cells; the broker's share of the machine is its CPU per call × rpc/s.\n",
         "| client → server | reply queue | rpc/s | client CPU µs/call | server CPU µs/call | broker CPU µs/call "
         "| broker cores |",
         "|---|---|---:|---:|---:|---:|---:|"]
    for reply in ["exclusive", "direct"]:
        keys = [("ours", "ours"), ("ours", "ours-default")]
        keys += [(c, procs.OWN_SERVER[c]) for c in procs.CLIENTS if c != "ours"]
        for client, server in keys:
            s = summary.get((client, server, "pipe", reply))
            if not s:
                continue
            b = s.get("broker_cpu_us_per_call")
            L.append(f"| {client} → {server} | {reply} | {fmt(s['rpc/s'], 0)} | {fmt(_client_cpu(s), 2)} "
                     f"| {fmt(s.get('server_cpu_us_per_call'), 2)} | {fmt(b, 2)} "
                     f"| {fmt(None if b is None else b * s['rpc/s'] / 1e6, 2)} |")
    L.append("")
    return L


def bounds_markdown(results, summary, targets, fmt):
    """The section, or nothing when every target was met."""
    L = []
    if _not_met(targets, "pipelined rpc/s"):
        L += pipe_markdown(summary, fmt)
    if _not_met(targets, "sequential p50"):
        L += seq_markdown(results, summary, fmt)
    if _not_met(targets, "instructions per RPC"):
        L += instr_markdown(results.get("instructions", []), fmt)
    if _not_met(targets, "MB/s at"):
        L += size_markdown(results, fmt)
    if not L:
        return []
    return ["## What bounds each target not met (measured, this run)\n"] + L
