"""Instructions per RPC of each client and each server (issue 19), counted by callgrind.

`perf stat -e instructions` reports <not supported> on this VM (no hardware counters exposed), so
every count here is valgrind --tool=callgrind's Ir (instructions executed, all threads), which is
repeatable where wall time is not. A process's count includes its start-up (an interpreter's or a
JIT's: hundreds of millions of instructions), so each figure is a difference of two runs that differ
only in the number of calls: (Ir(N2 calls) - Ir(N1 calls)) / (N2 - N1), warmup 0.

- client X: X's client under callgrind against our server (--workers 0 --quiet, native; aio-pika's
  client against its own server, the only one it accepts replies from);
- server Y: Y's server under callgrind, called by our client (native) in the same reply mode.
Both in seq (inflight 1 / prefetch 1) and pipe (inflight 64 / prefetch 64) and in the reply mode
each client supports (exclusive where it can, else direct reply-to). The Go peer runs with
GODEBUG=asyncpreemptoff=1: the Go runtime's preemption signal (SIGURG) trips an assertion in
callgrind 3.19; it changes no instruction on the RPC path. For the same reason (callgrind asserts
when it hands a signal to a Go program) the Go server is not stopped by SIGTERM but exits by itself
after the calls (--stop-after).

The callgrind files are kept (bench-logs/callgrind/<run's start>/ under --rmq-dir, named by role,
kind, mode, reply queue, n and calls): the native programs' counts are split by component from them
(matrix_callgrind.py), as the same difference of the two runs per call.
"""
import os
import subprocess
import time

import matrix_callgrind
import matrix_procs as procs

CALLS = {"seq": (100, 500), "pipe": (640, 3200)}  # mode -> (N1, N2)
QUICK_CALLS = {"seq": (50, 250), "pipe": (320, 1280)}
MODES = {"seq": (1, 1), "pipe": (64, 64)}
NATIVE = {"ours", "ours-default", "rabbitmq-c"}


def callgrind_prefix(outfile):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile]


def read_ir(outfile):
    with open(outfile) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {outfile}")


def env_for(kind):
    env = dict(os.environ)
    if kind == "go":
        env["GODEBUG"] = "asyncpreemptoff=1"
    return env


def run(cmd, env, timeout):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()[-2000:]}")


def callgrind_file(args, role, kind, mode, reply, n):
    """Where a run's callgrind output is kept (the page's component split is read from these files;
    `callgrind_annotate FILE` shows them function by function)."""
    d = args.callgrind_dir
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"{role}-{kind}-{mode}-{reply}-n{args.n}-{n}calls.out")


def client_ir(args, url, logdir, kind, mode, reply, calls):
    inflight, prefetch = MODES[mode]
    # Against our server where the client can play with it (all but aio-pika's: its own).
    server = "ours" if "ours" in procs.SERVERS_OF[kind] else procs.OWN_SERVER[kind]
    queue = f"instr_c_{kind}_{server}_{mode}_{reply}"
    srv = procs.Server(server, args.build, url, queue, prefetch, logdir)
    files = []
    try:
        for n in calls:
            out = callgrind_file(args, "client", kind, mode, reply, n)
            cmd = callgrind_prefix(out) + procs.client_cmd(kind, args.build, url, queue, inflight, n, 0, reply, args.n)
            run(cmd, env_for(kind), args.client_timeout * 4)
            files.append(out)
    finally:
        srv.stop()
    return files


def server_ir(args, url, logdir, kind, mode, reply, calls):
    inflight, prefetch = MODES[mode]
    files = []
    for n in calls:
        queue = f"instr_s_{kind}_{mode}_{reply}_{n}"
        out = callgrind_file(args, "server", kind, mode, reply, n)
        # The Go peer stops after the calls by itself: callgrind cannot deliver it a signal.
        srv = procs.Server(kind, args.build, url, queue, prefetch, logdir, wrap=callgrind_prefix(out),
                           ready_timeout=300, env=env_for(kind), stop_after=n if kind == "go" else None)
        try:
            run(procs.client_cmd("ours", args.build, url, queue, inflight, n, 0, reply, args.n), None,
                args.client_timeout * 4)
        finally:
            # callgrind writes its totals when the program exits: give it time.
            srv.stop(timeout=120)
        files.append(out)
    return files


def measure(files, calls, kind):
    """(instructions per RPC, {component: instructions per RPC} or None) from the two runs' files; the
    split only for the native programs (ours and rabbitmq-c's), whose functions name their component."""
    irs = [read_ir(f) for f in files]
    split = None
    if kind in NATIVE:
        split = matrix_callgrind.per_rpc(files[0], files[1], calls[0], calls[1])
    return (irs[1] - irs[0]) / (calls[1] - calls[0]), split


def reply_for(kind):
    return procs.REPLIES_OF.get(kind, ["exclusive"])[0]


def run_instructions(args, url, logdir, results, log):
    table = CALLS if not args.quick else QUICK_CALLS
    # One folder per run: rows taken into a later page (--instructions-from) still name their files.
    args.callgrind_dir = os.path.join(logdir, "callgrind", time.strftime("%Y%m%d-%H%M%S"))
    for mode in args.instr_modes:
        jobs = [("client", k, reply_for(k), client_ir) for k in args.clients] + \
               [("server", k, "exclusive", server_ir) for k in args.servers]
        for role, kind, reply, count in jobs:
            try:
                files = count(args, url, logdir, kind, mode, reply, table[mode])
                v, split = measure(files, table[mode], kind)
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
                log(f"instructions: {role} {kind} {mode} FAILED: {e}")
                results["failures"].append(f"instructions {role} {kind} {mode}: {e}")
                continue
            results["instructions"].append({"role": role, "kind": kind, "mode": mode, "reply": reply,
                                            "calls": table[mode], "ir_per_rpc": v, "components": split,
                                            "callgrind_files": files})
            log(f"instructions: {role} {kind:12} {mode:4} {reply:9}: {v:12,.0f} per RPC" +
                ("" if not split else " (" + ", ".join(f"{k} {x:,.0f}" for k, x in split.items() if abs(x) >= 1) + ")"))
