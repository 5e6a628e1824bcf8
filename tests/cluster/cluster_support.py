"""What the cluster tests share: the fixture's node URLs, `scripts/rabbitmq.sh cluster` commands,
rabbitmqctl queries, pika connections, and the leader of a quorum queue."""
import json
import os
import re
import subprocess
import sys
import time

import pika

# Generous for a busy 2-core machine; each test's ctest TIMEOUT bounds the whole run.
CTL_TIMEOUT = 90
RESTART_TIMEOUT = 240


def fail(text):
    print(f"FAIL: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


class Cluster:
    """The fixture's cluster: `script` is scripts/rabbitmq.sh, `dir` its --dir."""

    def __init__(self, script, directory):
        self.script = script
        self.dir = directory
        with open(os.path.join(directory, "amqp_urls")) as f:
            self.urls = f.read().strip().split(",")
        if len(self.urls) != 3:
            fail(f"expected a three-node cluster, got URLs {self.urls}")
        self.killed = set()

    def __enter__(self):
        """All three nodes running (a test before this one may have failed with a node down)."""
        status = self.run("status")
        for node in (int(i) for i in re.findall(r"^node (\d) not running", status.stdout, re.M)):
            self.killed.add(node)
        self.restart_killed()
        return self

    def __exit__(self, *exc):
        """Restarts what the test killed, even when it failed: the next test needs all three."""
        self.restart_killed()

    def restart_killed(self):
        for node in sorted(self.killed):
            self.restart(node)

    def url(self, node):
        return self.urls[node - 1]

    def host_port(self, node):
        """'127.0.0.1:PORT' of node `node` (1-based): how errors and logs name it."""
        return re.sub(r"^amqps?://[^@]*@", "", self.url(node)).rstrip("/")

    def port(self, node):
        return int(self.host_port(node).rsplit(":", 1)[1])

    def connected_nodes(self, pid):
        """The nodes process `pid` has an established TCP connection to (from `ss`)."""
        out = subprocess.run(["ss", "-Htnp", "state", "established"], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout
        nodes = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 5 and f"pid={pid}," in line:
                port = parts[3].rsplit(":", 1)[-1]
                nodes.update(n for n in (1, 2, 3) if str(self.port(n)) == port)
        return nodes

    def run(self, *extra, timeout=CTL_TIMEOUT):
        cmd = [self.script, "cluster", *extra, "--dir", self.dir]
        # Bounded even if rabbitmq.sh's own bounds fail; its output goes to the test log.
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        print(f"$ rabbitmq.sh {' '.join(cmd[1:-2])} -> {done.returncode}\n{done.stdout}", end="", flush=True)
        return done

    def kill(self, node):
        self.killed.add(node)
        if self.run("kill", str(node)).returncode != 0:
            fail(f"cluster kill {node} failed")

    def restart(self, node):
        """Boots node `node` again and checks that all three run."""
        if self.run("restart", str(node), timeout=RESTART_TIMEOUT).returncode != 0:
            fail(f"cluster restart {node} failed")
        self.killed.discard(node)
        survivor = 1 if node != 1 else 2
        running = self.ctl_json(survivor, "cluster_status").get("running_nodes", [])
        if len(running) != 3:
            fail(f"after restarting node {node}, running nodes: {running}")
        print(f"node {node} rejoined: running nodes {running}", flush=True)

    def ctl_json(self, node, *ctl_args):
        done = subprocess.run([self.script, "cluster", "ctl", str(node), "--dir", self.dir, "--", "-q", *ctl_args,
                               "--formatter", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=CTL_TIMEOUT)
        if done.returncode != 0:
            fail(f"rabbitmqctl {' '.join(ctl_args)} on node {node}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def queue_row(self, node, queue, *fields):
        rows = [r for r in self.ctl_json(node, "list_queues", "name", *fields) if r.get("name") == queue]
        return rows[0] if rows else None

    def leader_index(self, queue, ask=1):
        """The node (1-based) that leads quorum queue `queue`, asking node `ask`."""
        row = None
        # A few tries: the leader is known once the queue's members have elected one.
        for _ in range(10):
            row = self.queue_row(ask, queue, "leader", "type")
            m = re.match(r"amqp-rpc-c(\d+)-", str(row.get("leader", ""))) if row else None
            if m:
                return int(m.group(1))
            time.sleep(1)
        fail(f"queue {queue} has no leader node: {row}")


def connect(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.blocked_connection_timeout = 30
    return pika.BlockingConnection(params)


def declare_quorum(url, queue, arguments=None, fill=0):
    """Declares durable quorum queue `queue` through `url` (its leader starts on that node) and
    puts `fill` confirmed messages in it."""
    conn = connect(url)
    ch = conn.channel()
    ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum", **(arguments or {})})
    ch.confirm_delivery()
    for i in range(fill):
        ch.basic_publish("", queue, f"filler {i}".encode(), pika.BasicProperties(delivery_mode=2))
    conn.close()


def delete_queue(url, queue):
    conn = connect(url)
    conn.channel().queue_delete(queue)
    conn.close()
