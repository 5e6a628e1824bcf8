#!/usr/bin/python3
"""Fibonacci RPC benchmark client on pika: a peer of bench/rpc_bench for issue 7.

Same work as ours and bench/peers/rmqc_rpc_client.c: one BlockingConnection and channel, an
exclusive server-named reply queue (or direct reply-to) consumed with auto_ack, requests published
as our client publishes them (reply_to, correlation_id, expiration = the timeout in ms, mandatory;
--bare: reply_to and correlation_id only), --inflight calls kept outstanding (publish K, then each reply
publishes the next from inside process_data_events), replies matched by correlation_id and checked
against fib(n). The first --warmup calls are not measured. Prints one line:
    rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
"""
import argparse
import sys
import time

import pika

from py_peer import fib, result_line


def fail(msg):
    print(f" [!] Error: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--queue", default="rpc_queue")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds without any reply")
    ap.add_argument("--direct-reply-to", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--bare", action="store_true", help="no expiration, not mandatory")
    args = ap.parse_args()
    if args.requests < 1 or args.inflight < 1 or args.warmup < 0 or args.n < 0:
        ap.error("--requests and --inflight must be >= 1, --warmup and --n >= 0")

    try:
        conn = pika.BlockingConnection(pika.URLParameters(args.url))
    except pika.exceptions.AMQPError as e:
        fail(f"cannot connect to {args.url}: {e!r}")
    ch = conn.channel()
    if args.direct_reply_to:
        reply_to = "amq.rabbitmq.reply-to"
    else:
        reply_to = ch.queue_declare(queue="", exclusive=True).method.queue

    expiration = None if args.bare else str(int(args.timeout * 1000))
    total = args.warmup + args.requests
    body = str(args.n).encode()
    expected = str(fib(args.n)).encode()
    sent_at = [0] * total
    answered = bytearray(total)
    latencies = []
    state = {"sent": 0, "done": 0, "stray": 0, "t0": 0, "c0": 0.0}

    def publish():
        i = state["sent"]
        sent_at[i] = time.perf_counter_ns()
        ch.basic_publish(exchange="", routing_key=args.queue, body=body,
                         properties=pika.BasicProperties(reply_to=reply_to, correlation_id=str(i),
                                                         expiration=expiration),
                         mandatory=not args.bare)
        state["sent"] = i + 1

    def on_reply(_ch, _method, props, reply_body):
        t = time.perf_counter_ns()
        try:
            i = int(props.correlation_id or "")
        except ValueError:
            i = -1
        if not 0 <= i < total or answered[i]:
            state["stray"] += 1  # not ours, or a duplicate: dropped as the RPC pattern does
            return
        if reply_body != expected:
            fail(f"wrong reply to fib({args.n}): {reply_body[:80]!r} (expected {expected.decode()})")
        answered[i] = 1
        state["done"] += 1
        if i >= args.warmup:
            latencies.append(t - sent_at[i])
        if state["done"] == args.warmup:
            state["t0"], state["c0"] = time.perf_counter_ns(), time.process_time()
        if state["sent"] < total:
            publish()

    ch.basic_consume(queue=reply_to, on_message_callback=on_reply, auto_ack=True)
    state["t0"], state["c0"] = time.perf_counter_ns(), time.process_time()
    while state["sent"] < min(args.inflight, total):
        publish()
    try:
        # process_data_events may return without dispatching a reply (e.g. when a publish from
        # inside a callback already read the next deliveries), so progress is judged by time.
        last_done, last_progress = -1, time.monotonic()
        while state["done"] < total:
            conn.process_data_events(time_limit=1)
            now = time.monotonic()
            if state["done"] != last_done:
                last_done, last_progress = state["done"], now
            elif now - last_progress > args.timeout:
                fail(f"no reply within {args.timeout:g} s ({state['done']} of {total} answered)")
    except pika.exceptions.AMQPError as e:
        fail(f"{e!r}")
    elapsed_ns = time.perf_counter_ns() - state["t0"]
    cpu_s = time.process_time() - state["c0"]

    if state["stray"]:
        print(f" [x] {state['stray']} replies with unknown correlation ids dropped", file=sys.stderr)
    print(result_line("pika", latencies, elapsed_ns, cpu_s, args.json))
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
