#!/usr/bin/python3
"""The tutorial's FibonacciRpcClient, played by pika for the interop tests.

Each of --clients threads opens its own connection (pika is not thread-safe) and asks for every
--n in turn. One line per answer, in a fixed format the C++ test parses:
  client=<i> n=<n> value=<decimal>          (plain text reply, or JSON "response")
  client=<i> n=<n> error=<reason>           (JSON "error")
  client=<i> body=<raw body> ctype=<content_type>   (--raw: sends the --body text as is)
"""
import argparse
import json
import sys
import threading
import uuid

import pika

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)


class FibonacciRpcClient:
    def __init__(self, url, queue):
        self.queue = queue
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue="", exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(queue=self.callback_queue, on_message_callback=self.on_response,
                                   auto_ack=True)
        self.response = None
        self.corr_id = None

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:
            self.response = (body, props.content_type)

    def call(self, body, timeout=60):
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(exchange="", routing_key=self.queue,
                                   properties=pika.BasicProperties(reply_to=self.callback_queue,
                                                                   correlation_id=self.corr_id),
                                   body=body)
        waited = 0
        while self.response is None and waited < timeout:
            self.connection.process_data_events(time_limit=1)
            waited += 1
        if self.response is None:
            raise TimeoutError(f"RPC call timed out after {timeout} seconds")
        return self.response

    def close(self):
        self.connection.close()


def run_client(i, args, lines, lock):
    client = FibonacciRpcClient(args.url, args.queue)
    try:
        if args.raw is not None:
            body, ctype = client.call(args.raw.encode())
            out = [f"client={i} body={body.decode()} ctype={ctype}"]
        else:
            out = []
            for n in args.n:
                body, ctype = client.call(str(n).encode())
                if body.startswith(b"{"):
                    reply = json.loads(body)
                    if reply["error"] is not None:
                        out.append(f"client={i} n={n} error={reply['error']}")
                    else:
                        out.append(f"client={i} n={n} value={int(reply['response'])}")
                else:
                    out.append(f"client={i} n={n} value={int(body)}")
        with lock:
            lines.extend(out)
    finally:
        client.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--queue", default="rpc_queue")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--raw", default=None)
    ap.add_argument("n", type=int, nargs="*", default=[30])
    args = ap.parse_args()
    lines, lock = [], threading.Lock()
    errors = []

    def guarded(i):
        try:
            run_client(i, args, lines, lock)
        except Exception as e:
            with lock:
                errors.append(f"client={i} failed: {e!r}")

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for line in sorted(lines):
        print(line)
    for e in errors:
        print(e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
