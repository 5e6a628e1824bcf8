#!/usr/bin/python3
"""Fibonacci RPC server on pika (BlockingConnection): a benchmark peer for issue 7.

Same work as our server and bench/peers/rmqc_rpc_server.c: consume --queue with basic.qos
--prefetch, compute fib(n) exactly, publish the decimal text to reply_to through the default
exchange with the request's correlation_id, then ack. A body that is not a non-negative integer
up to 10000 gets {"response": null, "error": "..."} as application/json. Exits 0 on SIGINT/SIGTERM.

    pika_rpc_server.py --url amqp://guest:guest@127.0.0.1:5672/ [--queue rpc_queue] [--prefetch 1]
"""
import argparse
import json
import signal
import sys

import pika

from py_peer import fib

# Bounds the work one request can ask for (fib(10000) has 2090 digits).
MAX_N = 10000


def answer(body):
    """Returns (reply body, content_type or None) for a request body."""
    try:
        n = int(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return json.dumps({"response": None, "error": "request is not a number"}), "application/json"
    if n < 0 or n > MAX_N:
        return (json.dumps({"response": None, "error": f"n out of range (0..{MAX_N})"}),
                "application/json")
    return str(fib(n)), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--queue", default="rpc_queue")
    ap.add_argument("--prefetch", type=int, default=1)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    try:
        conn = pika.BlockingConnection(pika.URLParameters(args.url))
    except pika.exceptions.AMQPError as e:
        print(f" [!] Error: cannot connect to {args.url}: {e!r}", file=sys.stderr)
        return 1
    ch = conn.channel()
    # Declared like the tutorial's server so every server's declaration agrees.
    ch.queue_declare(queue=args.queue)
    ch.basic_qos(prefetch_count=args.prefetch)

    def on_request(ch, method, props, body):
        if props.reply_to:
            text, ctype = answer(body)
            ch.basic_publish(exchange="", routing_key=props.reply_to,
                             properties=pika.BasicProperties(correlation_id=props.correlation_id,
                                                             content_type=ctype),
                             body=text)
        ch.basic_ack(delivery_tag=method.delivery_tag)

    ch.basic_consume(queue=args.queue, on_message_callback=on_request)
    print(f" [x] Awaiting RPC requests on '{args.queue}' (prefetch {args.prefetch})", file=sys.stderr)
    try:
        # Short slices so a signal is noticed between them rather than inside pika's I/O loop.
        while not stop:
            conn.process_data_events(time_limit=0.2)
    except pika.exceptions.AMQPError as e:
        print(f" [!] Error: {e!r}", file=sys.stderr)
        return 1
    conn.close()
    print(" [x] Stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
