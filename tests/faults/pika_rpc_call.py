#!/usr/bin/python3
"""One tutorial Fibonacci RPC call with pika, following our example programs' contract, so that
run_fault_matrix.py can be tried (and compared) with an independent client:

    pika_rpc_call.py --url URL [n] [timeout_s]

prints " [.] Got <value>" and exits 0, or prints " [!] Error: <reason>" to stderr and exits 1.
"""
import argparse
import sys
import time
import uuid

import pika


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("n", nargs="?", type=int, default=10)
    ap.add_argument("timeout", nargs="?", type=float, default=30.0)
    args = ap.parse_args()
    try:
        params = pika.URLParameters(args.url)
        params.heartbeat = 2
        params.socket_timeout = args.timeout
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        queue = ch.queue_declare("", exclusive=True).method.queue
        replies = []
        corr = str(uuid.uuid4())

        def on_reply(_ch, _m, props, body):
            if props.correlation_id == corr:  # strays are dropped, as the tutorial does
                replies.append((props, body))

        ch.basic_consume(queue, on_reply, auto_ack=True)
        ch.basic_publish("", "rpc_queue", str(args.n).encode(),
                         pika.BasicProperties(reply_to=queue, correlation_id=corr))
        deadline = time.monotonic() + args.timeout
        while not replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"RPC call timed out after {args.timeout:g} seconds")
            conn.process_data_events(time_limit=0.2)
        props, body = replies[0]
        if props.content_type == "application/json":
            raise RuntimeError(f"server error: {body.decode(errors='replace')}")
        try:
            value = int(body)
        except ValueError:
            raise RuntimeError(f"reply is not a number: {body[:60]!r}") from None
        print(f" [.] Got {value}")
        conn.close()
        return 0
    except Exception as e:  # the contract: one line naming the cause, non-zero exit
        print(f" [!] Error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
