#!/usr/bin/python3
"""Fibonacci RPC on aio-pika's own RPC helper, aio_pika.patterns.RPC: a benchmark peer (issue 19).

    aiopika_rpc.py server --url URL [--queue Q] [--prefetch P] [--echo]
    aiopika_rpc.py client --url URL [--queue Q] [--requests N] [--warmup W] [--inflight K] [--n N]
                          [--size B] [--json] [--timeout S]

patterns.RPC as its users take it (RPC.create, register, call), with one change: its serializer.
The pattern pickles the call's kwargs and the result by default; the documented way to change
that is to override serialize/deserialize (its JsonRPC does so), and FibRPC below puts our
Fibonacci format on the wire instead: request body "20", reply body "6765" (--size B: a B-byte
body, echoed). What the pattern keeps, and what that means against the other peers:
- its client takes replies only on its own exclusive, auto-delete, server-named queue (bound to its
  dead-letter exchange): no direct reply-to;
- its client accepts a reply only with the AMQP `type` property "result" (or "error"), which
  only aio-pika's server sets: against our server or any other, every call would fail with
  "Unknown message type", so its client is run against its own server only;
- its server declares the request queue with x-dead-letter-exchange=rpc.dlx (so that expired calls
  come back to the caller): a queue no other server declares the same, so it gets its own queue;
  any client in our format can call it (its replies carry type=result, which others ignore);
- calls are published as ours are: reply_to, correlation_id, expiration (the timeout), mandatory;
  plus the pattern's own headers (From), type, timestamp and priority.
--inflight calls are kept outstanding by K tasks each awaiting one call after another.
"""
import argparse
import asyncio
import signal
import sys
import time

import aio_pika
from aio_pika.patterns import RPC
from aio_pika.patterns.rpc import RPCMessageType

from py_peer import echo_body, fib, result_line

# Bounds the work one request can ask for, as the pika peer does.
MAX_N = 10000


class FibRPC(RPC):
    """patterns.RPC with our wire format instead of pickle: the call's one argument `body` is the
    request body as is, the result is the reply body (bytes as is, anything else as str)."""
    CONTENT_TYPE = None

    def serialize(self, data):
        if isinstance(data, dict):
            return data["body"]
        if isinstance(data, (bytes, bytearray)):
            return bytes(data)
        return str(data).encode()

    async def deserialize_message(self, message):
        # A reply carries type "result" or "error"; a call from a client other than this
        # pattern's carries no type at all, and is a call all the same.
        if message.type in (RPCMessageType.RESULT.value, RPCMessageType.ERROR.value):
            return message.body
        return {"body": message.body}


async def serve(args):
    conn = await aio_pika.connect(args.url)
    channel = await conn.channel()
    await channel.set_qos(prefetch_count=args.prefetch)
    rpc = await FibRPC.create(channel)

    async def fibonacci(*, body):
        n = int(body.decode("ascii"))  # a ValueError becomes the pattern's error reply
        if not 0 <= n <= MAX_N:
            raise ValueError(f"n out of range (0..{MAX_N})")
        return fib(n)

    async def echo(*, body):
        return body

    await rpc.register(args.queue, echo if args.echo else fibonacci, auto_delete=False)
    print(f" [x] Awaiting RPC requests on '{args.queue}' (prefetch {args.prefetch})", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await rpc.close()
    await conn.close()
    print(" [x] Stopped", file=sys.stderr)
    return 0


async def call_all(args):
    conn = await aio_pika.connect(args.url)
    channel = await conn.channel()
    rpc = await FibRPC.create(channel)
    if args.size >= 0:
        body = expected = echo_body(args.size)
    else:
        body, expected = str(args.n).encode(), str(fib(args.n)).encode()
    total = args.warmup + args.requests
    latencies = []
    state = {"next": 0, "done": 0, "t0": time.perf_counter_ns(), "c0": time.process_time()}

    async def lane():
        while state["next"] < total:
            i = state["next"]
            state["next"] = i + 1
            start = time.perf_counter_ns()
            reply = await asyncio.wait_for(rpc.call(args.queue, kwargs={"body": body}, expiration=args.timeout),
                                           args.timeout)
            end = time.perf_counter_ns()
            if reply != expected:
                raise RuntimeError(f"wrong reply ({len(reply)} bytes): {reply[:80]!r}")
            if i >= args.warmup:
                latencies.append(end - start)
            state["done"] += 1
            if state["done"] == args.warmup:
                state["t0"], state["c0"] = time.perf_counter_ns(), time.process_time()

    await asyncio.gather(*(lane() for _ in range(min(args.inflight, total))))
    elapsed_ns = time.perf_counter_ns() - state["t0"]
    cpu_s = time.process_time() - state["c0"]
    await rpc.close()
    await conn.close()
    return result_line("aio-pika", latencies, elapsed_ns, cpu_s, args.json)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["client", "server"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--queue", default="rpc_queue")
    ap.add_argument("--prefetch", type=int, default=1)
    ap.add_argument("--echo", action="store_true")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--size", type=int, default=-1)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--direct-reply-to", action="store_true",
                    help="not supported by patterns.RPC: refused with exit status 3")
    args = ap.parse_args()
    if args.role == "server":
        return asyncio.run(serve(args))
    if args.direct_reply_to:
        print(" [!] aio_pika.patterns.RPC takes replies on its own queue only: no direct reply-to", file=sys.stderr)
        return 3
    if args.requests < 1 or args.inflight < 1 or args.warmup < 0 or not 0 <= args.n <= MAX_N:
        ap.error("--requests and --inflight must be >= 1, --warmup >= 0, --n 0..10000")
    try:
        line = asyncio.run(call_all(args))
    except (RuntimeError, asyncio.TimeoutError, aio_pika.exceptions.AMQPException) as e:
        print(f" [!] Error: {e!r}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
