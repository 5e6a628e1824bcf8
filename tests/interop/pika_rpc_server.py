#!/usr/bin/python3
"""The tutorial's rpc_server.py, played by pika for the interop tests.

Plain mode answers str(fib(n)) like the tutorial's first server; --json answers like its
error-handling section: {"response": fib(n), "error": null} or {"response": null, "error": "..."}.
fib is iterative (exact, and fast enough for big n), not the tutorial's recursion.
"""
import argparse
import json
import sys

import pika

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # Python 3.11 refuses str(int) beyond 4300 digits by default


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--queue", default="rpc_queue")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-n", type=int, default=100000)
    args = ap.parse_args()

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    channel.queue_declare(queue=args.queue)

    def on_request(ch, method, props, body):
        try:
            n = int(body)
            if n < 0 or n > args.max_n:
                raise ValueError(f"n must be between 0 and {args.max_n}")
            print(f" [.] fib({n})", flush=True)
            response, error = fib(n), None
        except Exception as e:  # the tutorial's error-handling section
            response, error = None, str(e)
        if args.json:
            reply = json.dumps({"response": response, "error": error})
            ctype = "application/json"
        elif error is None:
            reply, ctype = str(response), None
        else:
            reply = json.dumps({"response": None, "error": error})
            ctype = "application/json"
        ch.basic_publish(exchange="", routing_key=props.reply_to,
                         properties=pika.BasicProperties(correlation_id=props.correlation_id,
                                                         content_type=ctype),
                         body=reply)
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue=args.queue, on_message_callback=on_request)
    print(" [x] Awaiting RPC requests", flush=True)
    channel.start_consuming()


if __name__ == "__main__":
    main()
