#!/usr/bin/python3
"""A quorum queue keeps its confirmed messages when its leader's node is SIGKILLed.

Raw pika on the cluster the `rabbitmq_cluster` ctest fixture starts (scripts/rabbitmq.sh
cluster): declare a durable quorum queue through node 1, publish N persistent messages with
publisher confirms, SIGKILL the node that leads the queue, consume every message from a
surviving node, then restart the killed node and check that it rejoins.

  quorum_failover_test.py --script scripts/rabbitmq.sh --dir CLUSTER_DIR [--count N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import pika

# Generous for a busy 2-core machine; the ctest TIMEOUT bounds the whole run.
CTL_TIMEOUT = 90
ELECTION_WAIT = 60


def fail(text):
    print(f"FAIL: {text}", file=sys.stderr)
    sys.exit(1)


def run(args, *extra, timeout=CTL_TIMEOUT):
    cmd = [args.script, "cluster", *extra, "--dir", args.dir]
    # Bounded even if rabbitmq.sh's own bounds fail; its output goes to the test log.
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    print(f"$ {' '.join(cmd[1:])} -> {done.returncode}\n{done.stdout}", end="")
    return done


def ctl_json(args, node, *ctl_args):
    done = subprocess.run([args.script, "cluster", "ctl", str(node), "--dir", args.dir, "--", "-q", *ctl_args,
                           "--formatter", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=CTL_TIMEOUT)
    if done.returncode != 0:
        fail(f"rabbitmqctl {' '.join(ctl_args)} on node {node}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def connect(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.blocked_connection_timeout = 30
    return pika.BlockingConnection(params)


def publish(url, queue, count):
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    props = pika.BasicProperties(delivery_mode=2)  # persistent
    for i in range(count):
        # In confirm mode pika raises on a nack (NackError) or an unroutable return.
        ch.basic_publish("", queue, str(i).encode(), props, mandatory=True)
    conn.close()


def leader_index(args, queue):
    # A few tries: the leader is known once the queue's members have elected one.
    row = None
    for _ in range(10):
        rows = [r for r in ctl_json(args, 1, "list_queues", "name", "leader", "type") if r.get("name") == queue]
        row = rows[0] if rows else None
        m = re.match(r"amqp-rpc-c(\d+)-", str(row.get("leader", ""))) if row else None
        if m:
            return int(m.group(1))
        time.sleep(1)
    fail(f"queue {queue} has no leader node: {row}")


def consume_all(url, queue, count):
    """Every body from the queue, until `count` distinct ones or the bound; retries while the
    surviving nodes elect a new leader (a declare or get refused meanwhile)."""
    seen = {}
    deadline = time.monotonic() + ELECTION_WAIT
    last_error = None
    while len(seen) < count and time.monotonic() < deadline:
        try:
            conn = connect(url)
            try:
                ch = conn.channel()
                while len(seen) < count and time.monotonic() < deadline:
                    method, _, body = ch.basic_get(queue)
                    if method is None:
                        time.sleep(0.2)
                        continue
                    seen[body] = seen.get(body, 0) + 1
                    ch.basic_ack(method.delivery_tag)
            finally:
                if conn.is_open:
                    conn.close()
        except pika.exceptions.AMQPError as e:
            last_error = e
            time.sleep(1)
    if len(seen) < count and last_error is not None:
        print(f"last error while consuming: {last_error!r}", file=sys.stderr)
    return seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()

    with open(os.path.join(args.dir, "amqp_urls")) as f:
        urls = f.read().strip().split(",")
    if len(urls) != 3:
        fail(f"expected a three-node cluster, got URLs {urls}")
    queue = f"cluster-quorum-failover-{os.getpid()}"

    publish(urls[0], queue, args.count)
    print(f"published {args.count} confirmed persistent messages to quorum queue {queue} via node 1")

    leader = leader_index(args, queue)
    print(f"leader of {queue}: node {leader}")
    if run(args, "kill", str(leader)).returncode != 0:
        fail(f"cluster kill {leader} failed")

    survivor = 1 if leader != 1 else 2
    seen = consume_all(urls[survivor - 1], queue, args.count)
    expected = {str(i).encode() for i in range(args.count)}
    missing = sorted(int(b) for b in expected - set(seen))
    extra = set(seen) - expected
    print(f"consumed {len(seen)} distinct messages from node {survivor} "
          f"({sum(seen.values()) - len(seen)} redelivered)")
    if missing or extra:
        fail(f"after killing node {leader}: missing {missing[:20]} ({len(missing)}), unexpected {list(extra)[:5]}")

    if run(args, "restart", str(leader), timeout=240).returncode != 0:
        fail(f"cluster restart {leader} failed")
    running = ctl_json(args, survivor, "cluster_status").get("running_nodes", [])
    if len(running) != 3:
        fail(f"after restarting node {leader}, running nodes: {running}")
    print(f"node {leader} rejoined: running nodes {running}")

    conn = connect(urls[0])
    conn.channel().queue_delete(queue)
    conn.close()
    print("PASS")


if __name__ == "__main__":
    main()
