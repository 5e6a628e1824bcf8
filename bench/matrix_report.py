"""The page bench/run_matrix.py writes (docs/benchmarks.md) from a run's results, and the run's
machine and versions."""
import os
import platform
import re
import statistics
import subprocess

import matrix_bounds
import matrix_procs as procs
import matrix_size
import matrix_targets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODES = {"seq": (1, 1), "pipe": (64, 64)}
REPLIES = ["exclusive", "direct"]


def median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    keys = ["rpc/s", "p50_us", "p99_us", "p999_us", "cpu_us_per_call", "client_writes_per_rpc",
            "server_writes_per_rpc", "server_socket_writes_per_rpc", "server_cpu_us_per_call", "server_switches_per_rpc", "client_reads_per_rpc", "server_reads_per_rpc",
            "client_task_us_per_call", "client_switches_per_rpc", "broker_cpu_us_per_call", "broker_switches_per_rpc"]
    return {k: median(runs, k) for k in keys} | {"reps": len(runs)}


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
        "go": sh("go version | cut -d' ' -f3"),
        "amqp091-go": sh("dpkg-query -W -f='${Version}' golang-github-rabbitmq-amqp091-go-dev"),
        "aio-pika": sh("dpkg-query -W -f='${Version}' python3-aio-pika"),
        "node": sh("node --version"),
        "rabbitmq-client": sh(f"sed -n 's/.*\"version\": \"\\(.*\\)\".*/\\1/p' "
                              f"{procs.NODE_DIR}/node_modules/rabbitmq-client/package.json | head -1"),
        "valgrind": sh("valgrind --version"),
        "loadavg_start": sh("cat /proc/loadavg"),
    }


def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return "–" if not a or not b else f"{a / b:.2f}×"


def summaries(results):
    cells = {}
    for r in results["matrix"]:
        cells.setdefault((r["client"], r["server"], r["mode"], r["reply"]), []).append(r)
    return {k: summarize(v) for k, v in cells.items()}


def targets(results):
    return matrix_targets.evaluate(summaries(results), results.get("instructions", []),
                                   matrix_size.size_summary(results))


def instructions_markdown(results):
    rows = results.get("instructions", [])
    if not rows:
        return []
    L = ["## Instructions per RPC (callgrind)\n",
         "Instructions executed per call (all threads, user space), from valgrind --tool=callgrind: "
         "(Ir of a run of N2 calls − Ir of a run of N1 calls) / (N2 − N1), so that start-up is not "
         "counted (`perf stat -e instructions` is not supported on this VM). Clients against our server "
         "(`--workers 0 --quiet`; aio-pika's against its own), servers called by our client; reply queue as listed. Far more repeatable "
         "than wall time: the native programs' counts move by a few per cent between runs, the "
         "garbage-collected runtimes' (Go, Node, Python) by up to ~10 %.\n",
         *(["These counts come from earlier runs than the rest of this page (`--instructions-from`; "
            "instruction counts do not depend on the load), a row from the last of them that has it: "
            + "; ".join(f"{s['date']}, `{s['command']}`, load average at its start `{s.get('loadavg_start')}`"
                        for s in results.get("instructions_sources", [])) + ".\n"]
           if results.get("instructions_sources") else []),
         "| role | kind | mode | reply queue | N1, N2 | instructions/RPC | vs ours | counted |",
         "|---|---|---|---|---|---:|---:|---|"]
    ours = {(r["role"], r["mode"]): r["ir_per_rpc"] for r in rows if r["kind"] == "ours"}
    for r in sorted(rows, key=lambda r: (r["role"], r["mode"] != "seq", r["ir_per_rpc"])):
        L.append(f"| {r['role']} | {r['kind']} | {r['mode']} | {r['reply']} | {r['calls'][0]}, {r['calls'][1]} "
                 f"| {fmt(r['ir_per_rpc'], 0)} | {ratio(r['ir_per_rpc'], ours.get((r['role'], r['mode'])))} "
                 f"| {r.get('source') or 'this run'} |")
    L.append("")
    return L


def write_markdown(path, results):
    m = results["machine"]
    summary = summaries(results)
    L = []
    L.append("# End-to-end RPC benchmarks\n")
    L.append("Generated by `bench/run_matrix.py` (do not edit by hand). Fibonacci RPC, "
             f"fib({results['n']}) per call, one private RabbitMQ for every cell, one run.\n")
    L.append(f"- Date: {results['date']}")
    L.append(f"- Command: `{results['command']}`")
    L.append(f"- Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}")
    L.append(f"- Versions: RabbitMQ {m['rabbitmq']}, Erlang {m['erlang']}, Boost {m['boost']}, gcc {m['gcc']}, "
             f"librabbitmq {m['librabbitmq']}, pika {m['pika']}, Go {m.get('go', '?')} with amqp091-go "
             f"{m.get('amqp091-go', '?')}, aio-pika {m.get('aio-pika', '?')}, Node {m.get('node', '?')} with "
             f"rabbitmq-client {m.get('rabbitmq-client', '?')}, {m.get('valgrind', '?')}")
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
             "socket writes alone, without write(2) (console output; but Go's runtime and Node write to "
             "sockets with write(2) too: for them the total is the socket writes, the bracket 0; ours-default "
             "adds its console line per request as one write(2)). Server CPU µs/call and context switches/RPC: `perf stat` task-clock and context-switches "
             "of the server process over the client's run, per call (the server idles between runs).\n")
    L.append("| client | server | mode | reply queue | rpc/s | p50 µs | p99 µs | p99.9 µs | client CPU µs/call "
             "| server CPU µs/call | server ctx switches/RPC | client writes/RPC | server writes/RPC (socket) | rpc/s vs rmqc | p50 vs rmqc | reps |")
    L.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        for reply in REPLIES:
            base = summary.get(("rabbitmq-c", "rabbitmq-c", mode, reply))
            for server in procs.SERVERS:
                for client in procs.CLIENTS:
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
    L.extend(instructions_markdown(results))
    L.extend(matrix_size.size_markdown(results, fmt, ratio))
    L.append("## Targets (issue 19), on this run\n")
    L.append("Peer pair = a peer's client with its own server; best = the highest rpc/s or lowest p50 among "
             "them (rabbitmq-c, pika, go, node, aio-pika). Our server in both configurations: `ours` is "
             "`--workers 0 --quiet`, `ours-default` the README's command line.\n")
    target_lines = targets(results)
    L.extend(f"- {t}" for t in target_lines)
    L.append("")
    L.extend(matrix_bounds.bounds_markdown(results, summary, target_lines, fmt))
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
    if results.get("sizes"):
        L.append("![MB/s and p50 against body size](benchmarks-sizes.png)\n")
    L.append("## Reproduce\n")
    L.append("```sh\ncmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release\n"
             "cmake --build build/bench -j2 --target amqp_rpc_rpc_server amqp_rpc_rpc_bench "
             "amqp_rpc_rpc_echo_server amqp_rpc_rmqc_rpc_server amqp_rpc_rmqc_rpc_client\n"
             "scripts/deps.sh                # the peers: golang-go + amqp091-go, aio-pika, nodejs + npm ci, valgrind\n"
             "bench/run_matrix.sh            # --quick: a few minutes' smoke run; --from-json F: redo this page\n```\n")
    L.append("## How each cell is run\n")
    L.append("Each client is run as below (pika, node and aio-pika with a quarter of the calls, at least 200, "
             "to keep the run short); the servers are `examples/rpc_server --prefetch P --workers 0 --quiet` "
             "(`ours`: handlers inline on the connection's thread, as the single-threaded peers do, and no "
             "console line per request), `examples/rpc_server --prefetch P` (`ours-default`: the README's "
             "command, its output to a file), and each peer's server with `--prefetch P` (bench/peers/). "
             "Every client sends the same request our client does: "
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


