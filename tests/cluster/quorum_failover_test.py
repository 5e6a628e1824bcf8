#!/usr/bin/python3
"""A quorum queue keeps its confirmed messages when its leader's node is SIGKILLed.

Raw pika on the cluster the `rabbitmq_cluster` ctest fixture starts (scripts/rabbitmq.sh
cluster): declare a durable quorum queue through node 1, publish N persistent messages with
publisher confirms, SIGKILL the node that leads the queue, consume every message from a
surviving node, then restart the killed node and check that it rejoins.

  quorum_failover_test.py --script scripts/rabbitmq.sh --dir CLUSTER_DIR [--count N]
"""
import argparse
import os
import sys
import time

import pika

from cluster_support import Cluster, connect, delete_queue, fail

ELECTION_WAIT = 60


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
    with Cluster(args.script, args.dir) as cluster:
        check(cluster, args.count)


def check(cluster, count):
    urls = cluster.urls
    queue = f"cluster-quorum-failover-{os.getpid()}"

    publish(urls[0], queue, count)
    print(f"published {count} confirmed persistent messages to quorum queue {queue} via node 1")

    leader = cluster.leader_index(queue)
    print(f"leader of {queue}: node {leader}")
    cluster.kill(leader)

    survivor = 1 if leader != 1 else 2
    seen = consume_all(urls[survivor - 1], queue, count)
    expected = {str(i).encode() for i in range(count)}
    missing = sorted(int(b) for b in expected - set(seen))
    extra = set(seen) - expected
    print(f"consumed {len(seen)} distinct messages from node {survivor} "
          f"({sum(seen.values()) - len(seen)} redelivered)")
    if missing or extra:
        fail(f"after killing node {leader}: missing {missing[:20]} ({len(missing)}), unexpected {list(extra)[:5]}")

    cluster.restart(leader)

    delete_queue(urls[0], queue)
    print("PASS")


if __name__ == "__main__":
    main()
