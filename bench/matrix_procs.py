"""The programs bench/run_matrix.py runs: every client and server kind, how each is started, which
reply modes and servers each client can play with, and the server process wrapper.

Kinds: ours (bench/rpc_bench; examples/rpc_server --workers 0 --quiet), ours-default (server only:
examples/rpc_server with the README's flags, i.e. none but --prefetch), rabbitmq-c, pika, go
(amqp091-go), node (rabbitmq-client's RPCClient and consumer), aio-pika (patterns.RPC).
"""
import os
import shlex
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
READY = "Awaiting RPC requests"
NODE_DIR = os.path.join(HERE, "peers", "node")

CLIENTS = ["ours", "rabbitmq-c", "pika", "go", "node", "aio-pika"]
SERVERS = ["ours", "ours-default", "rabbitmq-c", "pika", "go", "node", "aio-pika"]
# Every client plays against our server (both configurations) and its own; aio-pika's client only
# against its own server (it accepts replies with its `type` property only: bench/peers/aiopika_rpc.py).
OWN_SERVER = {"ours": "ours", "rabbitmq-c": "rabbitmq-c", "pika": "pika", "go": "go", "node": "node",
              "aio-pika": "aio-pika"}
SERVERS_OF = {c: (["aio-pika"] if c == "aio-pika" else ["ours", "ours-default"] + ([] if c == "ours" else [c]))
              for c in CLIENTS}
# Reply modes a client can use: node's RPCClient has direct reply-to only, aio-pika's RPC its own queue only.
REPLIES_OF = {"node": ["direct"], "aio-pika": ["exclusive"]}
# Servers that can echo a body (the message-size runs).
ECHO_SERVERS = {"ours", "rabbitmq-c", "go", "node", "aio-pika"}
# Interpreted clients: a quarter of the calls (at least 200) keeps a run short.
SLOW = {"pika", "node", "aio-pika"}


def go_binary(build):
    """The Go peer, built into the build tree on first use (and again when a source is newer)."""
    out = os.path.join(build, "bench", "amqp091_rpc")
    src = os.path.join(HERE, "peers", "go")
    newest = max(os.path.getmtime(os.path.join(src, f)) for f in os.listdir(src))
    if not os.path.exists(out) or os.path.getmtime(out) < newest:
        subprocess.run([os.path.join(src, "build.sh"), out], check=True)
    return out


def available(kind, build):
    """Why a kind cannot run here, or None."""
    if kind == "go":
        try:
            go_binary(build)
        except (OSError, subprocess.CalledProcessError) as e:
            return f"Go peer not built ({e}): apt-get install golang-go golang-github-rabbitmq-amqp091-go-dev"
    if kind == "node" and not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "rabbitmq-client")):
        return "Node peer not installed: scripts/deps.sh (npm ci in bench/peers/node)"
    if kind == "aio-pika":
        r = subprocess.run([PY, "-c", "import aio_pika"], capture_output=True)
        if r.returncode != 0:
            return "aio-pika missing: apt-get install python3-aio-pika"
    return None


def server_cmd(kind, build, url, queue, prefetch, echo=False, stop_after=None):
    common = ["--url", url, "--queue", queue, "--prefetch", str(prefetch)]
    if stop_after is not None:
        if kind != "go":
            raise ValueError("--stop-after: the Go peer's server only")
        common += ["--stop-after", str(stop_after)]
    if kind in ("ours", "ours-default") and echo:
        return [os.path.join(build, "bench", "rpc_echo_server")] + common
    if kind == "ours":
        # Handlers inline on the connection's thread, as the single-threaded peers do, and no
        # console line per request.
        return [os.path.join(build, "examples", "rpc_server")] + common + ["--workers", "0", "--quiet"]
    if kind == "ours-default":
        return [os.path.join(build, "examples", "rpc_server")] + common
    extra = ["--echo"] if echo else []
    if kind == "rabbitmq-c":
        return [os.path.join(build, "bench", "rmqc_rpc_server")] + common + extra
    if kind == "pika":
        return [PY, os.path.join(HERE, "peers", "pika_rpc_server.py")] + common
    if kind == "go":
        return [go_binary(build), "server"] + common + extra
    if kind == "node":
        return ["node", os.path.join(NODE_DIR, "node_rpc_server.js")] + common + extra
    if kind == "aio-pika":
        return [PY, os.path.join(HERE, "peers", "aiopika_rpc.py"), "server"] + common + extra
    raise ValueError(kind)


def client_cmd(kind, build, url, queue, inflight, requests, warmup, reply, n, size=None):
    common = ["--url", url, "--queue", queue, "--inflight", str(inflight), "--requests", str(requests),
              "--warmup", str(warmup), "--n", str(n), "--json"]
    if size is not None:
        common += ["--size", str(size)]
    if reply == "direct":
        common.append("--direct-reply-to")
    if kind == "ours":
        return [os.path.join(build, "bench", "rpc_bench")] + common
    if kind == "rabbitmq-c":
        return [os.path.join(build, "bench", "rmqc_rpc_client")] + common
    if kind == "pika":
        return [PY, os.path.join(HERE, "peers", "pika_rpc_client.py")] + common
    if kind == "go":
        return [go_binary(build), "client"] + common
    if kind == "node":
        return ["node", os.path.join(NODE_DIR, "node_rpc_client.js")] + common
    if kind == "aio-pika":
        return [PY, os.path.join(HERE, "peers", "aiopika_rpc.py"), "client"] + common
    raise ValueError(kind)


class Server:
    """One RPC server process on `queue`, started (optionally under `wrap`, e.g. valgrind) and
    waited for until it prints READY; stopped with SIGTERM."""

    def __init__(self, kind, build, url, queue, prefetch, logdir, echo=False, wrap=(), ready_timeout=60, env=None,
                 stop_after=None):
        cmd = list(wrap) + server_cmd(kind, build, url, queue, prefetch, echo, stop_after)
        self.cmd = cmd
        self.kind = kind
        self.queue = queue
        self.stop_after = stop_after
        # The servers' output (ours with the default flags: a line per request) goes to a file,
        # not a terminal, as a service's does.
        self.logpath = os.path.join(logdir, f"server-{kind}-{queue}-{time.time_ns()}.log")
        self.logfile = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logfile, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            with open(self.logpath, errors="replace") as f:
                if READY in f.read(65536):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop(keep_log=True)
        raise RuntimeError(f"server did not start: {shlex.join(cmd)} (see {self.logpath})")

    def stop(self, keep_log=False, timeout=15):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None and self.stop_after is not None:
            try:
                self.proc.wait(timeout=timeout)  # it stops by itself
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()
        if not keep_log:
            try:
                os.remove(self.logpath)
            except OSError:
                pass
        return self.proc.returncode
