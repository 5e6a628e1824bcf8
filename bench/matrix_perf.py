"""`perf stat` counting for bench/run_matrix.py: the client, its server(s) and the broker's beam.smp
over one client run, so that a cell says where a call's CPU went (issue 19: "what bounds it").

Every count is taken over the whole client run (setup and warmup calls included) and divided by the
calls made (measured + warmup); the servers and the broker idle between runs, so what they count is
the run's. From the broker's count, what it spends idle over the same time (its statistics timers, idle
connections of the other servers; measured once before the first run) is taken off. What remains
is the broker's CPU (user and kernel) for the calls: the routing and delivery, and its schedulers'
wake-ups (RabbitMQ starts beam with +sbwt none, so they sleep rather than spin when idle).
"""
import json
import os
import shlex
import signal
import subprocess
import time

WRITE_CALLS = ["write", "writev", "sendto", "sendmsg", "sendmmsg"]
READ_CALLS = ["read", "readv", "recvfrom", "recvmsg", "recvmmsg"]
PERF_EVENTS = ",".join(["task-clock", "context-switches"] + [f"syscalls:sys_enter_{c}" for c in WRITE_CALLS + READ_CALLS])
CPU_EVENTS = "task-clock,context-switches"


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

    def __init__(self, pids, path, events=PERF_EVENTS):
        self.path = path
        self.proc = subprocess.Popen(["perf", "stat", "-x,", "-o", path, "-e", events, "-p",
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


def _cpu_us(counts, calls):
    return counts.get("task-clock", 0.0) * 1000.0 / calls if counts else None


def _switches(counts, calls):
    return counts.get("context-switches", 0) / calls if counts else None


def broker_pid_of(rmq_dir, given=None):
    """The broker's beam.smp: `given`, else the pid file scripts/rabbitmq.sh keeps in rmq_dir; None
    when there is none or the process is not a beam.smp (a stale file)."""
    pid = given
    if pid is None:
        try:
            with open(os.path.join(rmq_dir, "rabbitmq.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
    try:
        with open(f"/proc/{pid}/comm") as f:
            return pid if f.read().strip().startswith("beam") else None
    except OSError:
        return None


def beam_wait_flags(pid):
    """beam.smp's scheduler busy-wait flags (-sbwt ...) from its command line: whether its idle
    schedulers spin (CPU counted against the calls) or sleep."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    flags = {}
    for i, a in enumerate(argv[:-1]):
        if a.startswith("-sbwt") or a.startswith("+sbwt"):
            flags[a.lstrip("+-")] = argv[i + 1]  # the last one given wins, as in erl
    return " ".join(f"+{k} {v}" for k, v in flags.items()) or "none given (Erlang's default: medium busy-wait)"


def idle_cpu_ms_per_s(pid, logdir, seconds=2.0):
    """CPU (ms per second) a process spends while nothing calls it: the broker's timers and statistics,
    taken off the broker's count of each run in proportion to the run's length."""
    counter = SyscallCounter([pid], os.path.join(logdir, f"perf-idle-{pid}-{time.time_ns()}.txt"), CPU_EVENTS)
    t0 = time.monotonic()
    time.sleep(seconds)
    counts = counter.stop()
    return counts.get("task-clock", 0.0) / (time.monotonic() - t0 + 0.3)  # + perf's attach time


def measured_run(args, cmd, calls, server_pids, tag):
    """Runs a client command (its JSON result returned, with "wall_s"); with perf (args.perf), also the
    write and read syscalls, CPU and context switches per call of the client and of the servers, and
    the broker's CPU and context switches per call when args.broker_pid is known."""
    if not args.perf:
        t0 = time.monotonic()
        res = run_client(cmd, args.client_timeout)
        res["wall_s"] = time.monotonic() - t0
        return res
    tag = f"{tag}-{os.getpid()}-{time.time_ns()}"
    client_out = os.path.join(args.logdir, f"perf-client-{tag}.txt")
    counter = SyscallCounter(server_pids, os.path.join(args.logdir, f"perf-server-{tag}.txt"))
    broker = None
    try:
        if args.broker_pid:
            b0 = time.monotonic()
            broker = SyscallCounter([args.broker_pid], os.path.join(args.logdir, f"perf-broker-{tag}.txt"),
                                    CPU_EVENTS)
        t0 = time.monotonic()
        res = run_client(["perf", "stat", "-x,", "-o", client_out, "-e", PERF_EVENTS, "--"] + cmd,
                         args.client_timeout)
        res["wall_s"] = time.monotonic() - t0
    finally:
        broker_counts = broker.stop() if broker else {}
        if broker:
            res_window = time.monotonic() - b0
        server_counts = counter.stop()
    if broker_counts.get("task-clock") is not None:
        # What the broker does anyway over the counted window is not the calls' (the idle rate is
        # measured once, before the first run: matrix_perf.idle_cpu_ms_per_s).
        gross = broker_counts["task-clock"]
        broker_counts["task-clock-gross"] = gross
        broker_counts["window_s"] = res_window
        broker_counts["task-clock"] = max(0.0, gross - getattr(args, "broker_idle_ms_per_s", 0.0) * res_window)
    client_counts = read_perf(client_out)
    try:
        os.remove(client_out)
    except OSError:
        pass
    res["client_syscalls"] = client_counts
    res["server_syscalls"] = server_counts
    res["broker_counts"] = broker_counts
    res["calls_counted"] = calls
    res["client_writes_per_rpc"] = per_rpc(client_counts, calls, WRITE_CALLS)
    res["server_writes_per_rpc"] = per_rpc(server_counts, calls, WRITE_CALLS)
    res["client_reads_per_rpc"] = per_rpc(client_counts, calls, READ_CALLS)
    res["server_reads_per_rpc"] = per_rpc(server_counts, calls, READ_CALLS)
    # Our example server prints a line per request (write(2) to its log): not socket traffic.
    res["server_socket_writes_per_rpc"] = per_rpc(server_counts, calls, [c for c in WRITE_CALLS if c != "write"])
    res["client_task_us_per_call"] = _cpu_us(client_counts, calls)
    res["client_switches_per_rpc"] = _switches(client_counts, calls)
    res["server_cpu_us_per_call"] = _cpu_us(server_counts, calls)
    res["server_switches_per_rpc"] = _switches(server_counts, calls)
    res["broker_cpu_us_per_call"] = _cpu_us(broker_counts, calls)
    res["broker_switches_per_rpc"] = _switches(broker_counts, calls)
    return res
