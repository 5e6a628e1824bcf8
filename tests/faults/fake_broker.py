#!/usr/bin/python3
"""A scripted, hostile AMQP 0-9-1 "broker" for fault tests (issue 8).

It listens on 127.0.0.1 on a free port, prints ``PORT=<n>`` as its first stdout line (flushed),
accepts --connections connections one after the other, and plays --scenario on each. Correct
frames come from pamqp (an independent framer); broken ones are written as raw bytes.

Unless a scenario says otherwise, the broker does a correct handshake the way RabbitMQ 3.10 does
(connection.start with RabbitMQ-like server-properties, tune channel_max=2047 frame_max=131072
heartbeat=--heartbeat, open-ok), then answers channel.open, queue.declare (server-named queues
get "amq.gen-..." names), basic.qos, basic.consume, confirm.select, exchange.declare, queue.bind,
basic.cancel, channel.close and connection.close; acks are accepted and ignored. It is also a
tiny RPC server: a basic.publish whose properties carry reply_to is answered with a
basic.deliver of str(fib(int(body))) to the consumer of the reply_to queue (or of
amq.rabbitmq.reply-to), with the request's correlation_id. The faults "after the request" below
replace that answer to the first request.

Scenarios (what the broker sends -> what a correct client must do). "Fail" means: exit non-zero
within a few seconds with an error whose text names the cause (the regex the fault matrix
checks is in SCENARIOS[...].cause); never a crash, a sanitizer report, a hang or a big
allocation. "close N" is the connection.close reply code a careful client sends before
closing the socket (the fault matrix reports it; see --expect-close).

  ok                        correct RPC answer -> print the right value, exit 0, close 200.
  wrong_protocol_header     answers the client's protocol header with "AMQP\\x00\\x00\\x08\\x00" and
                            closes (as RabbitMQ does for a version it does not speak) -> fail,
                            naming the protocol version/header.
  bad_frame_end             after the request: a basic.deliver frame whose frame-end octet is 0x00
                            instead of 0xCE -> fail: 501 FRAME_ERROR.
  huge_frame_size           after the request: a frame header claiming a 0xFFFFFFF0-byte payload,
                            then 16 bytes -> fail at once (no allocation, no waiting for 4 GiB):
                            501 FRAME_ERROR, frame too large.
  truncated_method          after the request: a well-framed basic.deliver whose arguments stop
                            after 3 bytes -> fail: 502 SYNTAX_ERROR (or 501), method does not decode.
  unknown_table_tag         after the request: the reply's content header carries a headers table
                            with an entry of unknown type tag 'Z' -> the call fails naming the
                            tag (a per-message fault: the connection stays, close 200).
  deep_table                connection.start whose server-properties nest tables 20000 deep
                            (~120 KB) -> fail: a client enforcing the 4096-byte pre-tune frame
                            limit rejects the frame (501); one that reads it must stop at its
                            nesting limit (502). No stack overflow.
  deep_table_deliver        after the request: the reply's headers nest tables 20000 deep (as deep
                            as the negotiated frame_max allows) -> the call fails naming the
                            nesting limit (per-message, close 200). No stack overflow.
  unknown_method            after the request: a method frame for class 60 method 999 ->
                            fail: 540 NOT_IMPLEMENTED (503 accepted).
  heartbeat_on_channel      after the request: a heartbeat frame on channel 1 -> fail: 501/503/505.
  body_longer_than_declared after the request: a reply whose header declares body-size 2 followed by
                            a 10-byte body frame -> fail: 501 FRAME_ERROR / 505 UNEXPECTED_FRAME.
  body_size_2_62            after the request: a reply whose header declares body-size 2^62, then
                            one small body frame, then silence -> fail at once with a
                            message-size error (no allocation of the declared size).
  garbage                   after the request: 64 bytes that are not AMQP frames (first byte 'G',
                            an unknown frame type) -> fail: 501 FRAME_ERROR.
  eof_mid_frame             after the request: the first 5 bytes of a frame header, then EOF ->
                            fail: connection lost/closed (no hang).
  silence_after_heartbeat   tune proposes heartbeat=1 (whatever --heartbeat says); the broker never
                            sends a heartbeat and, after the request, nothing at all -> fail
                            within ~2-3 s naming the missed heartbeats (a client whose call
                            timeout fires first has not noticed the dead connection).
  forced_close_320          after the request: connection.close 320 CONNECTION_FORCED -> fail
                            naming 320 / CONNECTION_FORCED; the client answers close-ok.
  channel_close_405         the first queue.declare is answered with channel.close 405
                            RESOURCE_LOCKED -> fail naming 405 / RESOURCE_LOCKED; the client
                            answers channel.close-ok.
  refuse_transient_queue    RabbitMQ 4.3's refusal of a transient non-exclusive queue: a
                            queue.declare neither durable nor exclusive is answered with
                            connection.close 541 INTERNAL_ERROR naming the deprecated feature
                            transient_nonexcl_queues (its text as RabbitMQ builds it, capped at
                            255 bytes) -> a client's exclusive reply queue passes: the right
                            answer, close 200; a server declaring the tutorial's queue fails
                            naming the fix (--queue-type classic|quorum) and answers close-ok.
  silent_declare            never answers a queue.declare (handshake, channel.open and the rest are
                            answered) -> a client or server setting itself up must not wait for ever:
                            fail within its connection_timeout naming queue.declare.
  wrong_corr_ids_first      after the request: three replies with a wrong correlation id, without
                            one, and with a prefix of the right one, then the right reply ->
                            the right answer, exit 0 (the strays are dropped).
  reply_not_a_number        after the request: a reply "not-a-number" with the right correlation id
                            -> fail: the reply is not a number.
  error_reply               after the request: {"response": null, "error": "fib: n out of range
                            (fake broker)"} as application/json -> fail showing the server's error.
  auth_refused              after start-ok: connection.close 403 ACCESS_REFUSED -> fail naming 403 /
                            ACCESS_REFUSED / authentication.
  close_after_start_ok      after start-ok: the socket is closed (old brokers' way of refusing a
                            login) -> fail: connection closed during the handshake / auth.

Stdout lines (each flushed): PORT=<n> first; REPLIED=<body> for each correct RPC answer sent;
with --expect-close, after the fault (or, for ok, after the answer) everything the client sends
is recorded: CLIENT_SENT=<Class.Method> per method frame, then one final line per connection:
CLIENT_CLOSE=<reply code> (the client sent connection.close), CLIENT_EOF (it closed the socket
without connection.close), CLIENT_BAD_BYTES (it sent bytes that do not decode) or CLIENT_SILENT
(nothing for --close-wait seconds). Log lines go to stderr.
"""
import argparse
import itertools
import select
import socket
import struct
import sys
import time

from pamqp import base as pbase
from pamqp import body as pbody
from pamqp import commands
from pamqp import exceptions as pexc
from pamqp import frame as pframe
from pamqp import header as pheader
from pamqp import heartbeat as pheartbeat

from fake_broker_faults import ClientGone, FaultActions
from fake_broker_wire import (DIRECT_REPLY_TO, ERROR_TEXT, PROTOCOL_HEADER, TRANSIENT_REFUSAL,  # noqa: F401
                              log, nested_table, out, raw_frame, server_properties, start_payload)

class Scenario:
    """One scripted behaviour: when the fault fires and the text a client's error should show."""

    def __init__(self, cause, right_answer=False):
        self.cause = cause  # regex (case-insensitive) for the client's stderr
        self.right_answer = right_answer  # True: the client must succeed with the right value


SCENARIOS = {
    "ok": Scenario(r"", right_answer=True),
    "wrong_protocol_header": Scenario(r"protocol|version|header"),
    "bad_frame_end": Scenario(r"501|FRAME_ERROR|frame.?end"),
    "huge_frame_size": Scenario(r"501|FRAME_ERROR|frame.*(size|large|max|big)"),
    "truncated_method": Scenario(r"50[12]|SYNTAX_ERROR|FRAME_ERROR|truncat|short|decod"),
    "unknown_table_tag": Scenario(r"502|SYNTAX_ERROR|tag|table"),
    "deep_table": Scenario(r"50[12]|SYNTAX_ERROR|FRAME_ERROR|nest|deep|depth|frame.*(size|large|max)"),
    "deep_table_deliver": Scenario(r"502|SYNTAX_ERROR|nest|deep|depth"),
    "unknown_method": Scenario(r"540|503|NOT_IMPLEMENTED|COMMAND_INVALID|unknown method"),
    "heartbeat_on_channel": Scenario(r"50[135]|FRAME_ERROR|UNEXPECTED_FRAME|COMMAND_INVALID|heartbeat"),
    "body_longer_than_declared": Scenario(r"50[15]|FRAME_ERROR|UNEXPECTED_FRAME|body"),
    "body_size_2_62": Scenario(r"501|FRAME_ERROR|body|message size|too (large|big)"),
    "garbage": Scenario(r"501|FRAME_ERROR|frame type|frame"),
    "eof_mid_frame": Scenario(r"connection (lost|closed|reset)|end of (file|stream)|\bEOF\b|eof|closed"),
    # A call timeout ("RPC call timed out") is not the cause: the missed heartbeats are.
    "silence_after_heartbeat": Scenario(r"heartbeat|connection (timed? ?out|lost|dead)"),
    "forced_close_320": Scenario(r"320|CONNECTION_FORCED"),
    "channel_close_405": Scenario(r"405|RESOURCE_LOCKED"),
    # Our clients' reply queues are exclusive (or direct reply-to): 4.3 lets them through.
    "refuse_transient_queue": Scenario(r"", right_answer=True),
    "silent_declare": Scenario(r"did not answer queue\.declare within \d+ ms"),
    "wrong_corr_ids_first": Scenario(r"", right_answer=True),
    "reply_not_a_number": Scenario(r"not a number|number|invalid|parse|integer"),
    "error_reply": Scenario(r"fake broker"),
    "auth_refused": Scenario(r"403|ACCESS_REFUSED|auth"),
    "close_after_start_ok": Scenario(r"closed|lost|reset|\bEOF\b|end of (file|stream)|auth|handshake"),
}

# Faults that replace the answer to the first RPC request.
AFTER_REQUEST = {
    "bad_frame_end", "huge_frame_size", "truncated_method", "unknown_table_tag",
    "deep_table_deliver", "unknown_method", "heartbeat_on_channel", "body_longer_than_declared",
    "body_size_2_62", "garbage", "eof_mid_frame", "silence_after_heartbeat", "forced_close_320",
    "wrong_corr_ids_first", "reply_not_a_number", "error_reply",
}


class SessionOver(Exception):
    """The scenario has played out and the client's reaction is recorded."""


class Session(FaultActions):
    """One accepted connection: reads the client's frames and plays the scenario on it."""

    def __init__(self, sock, args):
        self.sock = sock
        self.args = args
        self.scenario = args.scenario
        self.buf = b""
        self.heartbeat = 0  # negotiated, seconds
        self.frame_max = 131072
        self.last_sent = time.monotonic()
        self.consumers = {}  # queue name -> (channel, consumer tag)
        self.ctag_seq = itertools.count(1)
        self.queue_seq = itertools.count(1)
        self.delivery_seq = itertools.count(1)
        self.confirm_seq = {}  # channel -> next publish seq (confirm mode)
        self.pending_publish = None  # (channel, method, header, body bytes) being assembled
        self.requests = 0
        self.declares = 0
        self.reported = False
        self.silent = False

    # ---- output
    def report(self, line):
        """The one CLIENT_* verdict line for this connection (with --expect-close)."""
        if self.args.expect_close and not self.reported:
            out(line)
        self.reported = True

    def send(self, data):
        if self.silent:
            return
        self.sock.sendall(data)
        self.last_sent = time.monotonic()

    def send_frame(self, channel, value):
        self.send(pframe.marshal(value, channel))

    # ---- input
    def _fill(self, deadline):
        """Reads more bytes into the buffer; keeps heartbeats going while waiting."""
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise TimeoutError
            wait = 0.5 if deadline is None else min(0.5, deadline - now)
            if self.heartbeat and not self.silent:
                hb_due = self.last_sent + self.heartbeat / 2.0
                if now >= hb_due:
                    self.send_frame(0, pheartbeat.Heartbeat())
                    continue
                wait = min(wait, hb_due - now)
            ready, _, _ = select.select([self.sock], [], [], max(wait, 0.0))
            if not ready:
                continue
            try:
                data = self.sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                raise ClientGone
            self.buf += data
            return

    def read_exact(self, n, deadline=None):
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_frame(self, deadline=None):
        """Returns (channel, pamqp frame object); raises ValueError for bytes that do not decode."""
        head = self.read_exact(7, deadline)
        ftype, channel, size = struct.unpack(">BHI", head)
        if size > 1 << 20:
            raise ValueError(f"client frame of {size} bytes")
        rest = self.read_exact(size + 1, deadline)
        try:
            _, channel, value = pframe.unmarshal(head + rest)
        except (pexc.UnmarshalingException, struct.error, ValueError) as e:
            raise ValueError(f"client frame type {ftype} does not decode: {e}") from None
        return channel, value

    def expect(self, cls):
        deadline = time.monotonic() + self.args.step_timeout
        while True:
            channel, value = self.read_frame(deadline)
            if isinstance(value, pheartbeat.Heartbeat):
                continue
            if not isinstance(value, cls):
                raise ValueError(f"expected {cls.__name__}, client sent {value.name}")
            return channel, value

    # ---- handshake
    def handshake(self):
        deadline = time.monotonic() + self.args.step_timeout
        header = self.read_exact(8, deadline)
        if self.scenario == "wrong_protocol_header":
            self.send(b"AMQP\x00\x00\x08\x00")
            return False
        if header != PROTOCOL_HEADER:
            log(f"client sent protocol header {header!r}; answering ours and closing")
            self.send(PROTOCOL_HEADER)
            return False
        if self.scenario == "deep_table":
            self.send(raw_frame(1, 0, start_payload(nested_table(20000))))
            return self.after_fault()
        self.send_frame(0, commands.Connection.Start(
            server_properties=server_properties(), mechanisms="PLAIN AMQPLAIN", locales="en_US"))
        self.expect(commands.Connection.StartOk)
        if self.scenario == "auth_refused":
            self.send_frame(0, commands.Connection.Close(
                reply_code=403,
                reply_text="ACCESS_REFUSED - Login was refused using authentication mechanism "
                           "PLAIN. For details see the broker logfile.",
                class_id=0, method_id=0))
            return self.after_fault()
        if self.scenario == "close_after_start_ok":
            return False
        proposed = 1 if self.scenario == "silence_after_heartbeat" else self.args.heartbeat
        self.send_frame(0, commands.Connection.Tune(
            channel_max=2047, frame_max=131072, heartbeat=proposed))
        _, tune_ok = self.expect(commands.Connection.TuneOk)
        self.frame_max = tune_ok.frame_max or 131072
        self.heartbeat = tune_ok.heartbeat
        if self.scenario == "silence_after_heartbeat":
            self.heartbeat = 0  # never send one: that is the fault
            if tune_ok.heartbeat == 0:
                log("client turned heartbeats off; silence will only be noticed by its timeouts")
        self.expect(commands.Connection.Open)
        self.send_frame(0, commands.Connection.OpenOk())
        return True

    # ---- the broker loop
    def serve(self):
        deadline = time.monotonic() + self.args.lifetime
        while True:
            channel, value = self.read_frame(deadline)
            if self.pending_publish is not None:
                self.collect_content(channel, value)
                continue
            if isinstance(value, pheartbeat.Heartbeat):
                continue
            if not isinstance(value, pbase.Frame):
                raise ValueError(f"unexpected {type(value).__name__} frame outside a publish")
            if self.on_method(channel, value) is False:
                return

    def on_method(self, channel, m):
        C = commands
        if isinstance(m, C.Channel.Open):
            self.send_frame(channel, C.Channel.OpenOk())
        elif isinstance(m, C.Channel.Close):
            self.send_frame(channel, C.Channel.CloseOk())
        elif isinstance(m, C.Channel.CloseOk):
            pass
        elif isinstance(m, C.Queue.Declare):
            self.declares += 1
            if self.scenario == "silent_declare":
                log("queue.declare left unanswered")
                return None
            if self.scenario == "channel_close_405" and self.declares == 1:
                self.send_frame(channel, C.Channel.Close(
                    reply_code=405,
                    reply_text=f"RESOURCE_LOCKED - cannot obtain exclusive access to locked "
                               f"queue '{m.queue or 'rpc_queue'}' in vhost '/'",
                    class_id=50, method_id=10))
                return self.after_fault()
            if self.scenario == "refuse_transient_queue" and not m.durable and not m.exclusive:
                self.send_frame(0, C.Connection.Close(
                    reply_code=541, reply_text=TRANSIENT_REFUSAL, class_id=50, method_id=10))
                return self.after_fault()
            name = m.queue or f"amq.gen-fake{next(self.queue_seq):04d}"
            if not m.nowait:
                self.send_frame(channel, C.Queue.DeclareOk(
                    queue=name, message_count=0, consumer_count=0))
        elif isinstance(m, C.Basic.Qos):
            self.send_frame(channel, C.Basic.QosOk())
        elif isinstance(m, C.Basic.Consume):
            tag = m.consumer_tag or f"amq.ctag-fake{next(self.ctag_seq):04d}"
            self.consumers[m.queue] = (channel, tag)
            if not m.nowait:
                self.send_frame(channel, C.Basic.ConsumeOk(consumer_tag=tag))
        elif isinstance(m, C.Basic.Cancel):
            for q, (_, tag) in list(self.consumers.items()):
                if tag == m.consumer_tag:
                    del self.consumers[q]
            if not m.nowait:
                self.send_frame(channel, C.Basic.CancelOk(consumer_tag=m.consumer_tag))
        elif isinstance(m, C.Confirm.Select):
            self.confirm_seq[channel] = 1
            if not m.nowait:
                self.send_frame(channel, C.Confirm.SelectOk())
        elif isinstance(m, C.Exchange.Declare):
            if not m.nowait:
                self.send_frame(channel, C.Exchange.DeclareOk())
        elif isinstance(m, C.Queue.Bind):
            if not m.nowait:
                self.send_frame(channel, C.Queue.BindOk())
        elif isinstance(m, C.Queue.Delete):
            if not m.nowait:
                self.send_frame(channel, C.Queue.DeleteOk(message_count=0))
        elif isinstance(m, C.Basic.Publish):
            self.pending_publish = [channel, m, None, b""]
        elif isinstance(m, (C.Basic.Ack, C.Basic.Nack, C.Basic.Reject)):
            pass
        elif isinstance(m, C.Connection.Close):
            self.report(f"CLIENT_CLOSE={m.reply_code}")
            log(f"client closed the connection: {m.reply_code} {m.reply_text}")
            self.send_frame(0, C.Connection.CloseOk())
            return False
        else:
            log(f"ignoring {m.name} on channel {channel}")
        return True

    def collect_content(self, channel, value):
        p = self.pending_publish
        if isinstance(value, pheartbeat.Heartbeat):
            return
        if p[2] is None:
            if not isinstance(value, pheader.ContentHeader) or channel != p[0]:
                raise ValueError(f"expected a content header after basic.publish, got {value.name}")
            p[2] = value
        else:
            if not isinstance(value, pbody.ContentBody) or channel != p[0]:
                raise ValueError(f"expected a content body, got {value.name}")
            p[3] += value.value
        if p[2].body_size <= len(p[3]):
            self.pending_publish = None
            self.on_publish(p[0], p[1], p[2].properties, p[3])

    def on_publish(self, channel, method, props, body):
        if channel in self.confirm_seq:
            self.send_frame(channel, commands.Basic.Ack(delivery_tag=self.confirm_seq[channel]))
            self.confirm_seq[channel] += 1
        reply_to = props.reply_to
        if not reply_to:
            consumer = self.consumers.get(method.routing_key)
            if consumer:  # a plain message to a queue this client consumes: loop it back
                self.deliver(consumer, method.routing_key, props, body)
            return
        self.requests += 1
        consumer = self.consumers.get(reply_to)
        if consumer is None and reply_to.startswith(DIRECT_REPLY_TO):
            consumer = self.consumers.get(DIRECT_REPLY_TO)
        if consumer is None:
            log(f"request with reply_to={reply_to!r} but no consumer on it; dropped")
            return
        corr = props.correlation_id
        if self.scenario in AFTER_REQUEST and self.requests == 1:
            self.inject(consumer, reply_to, corr, body)
            if self.scenario != "wrong_corr_ids_first":
                self.after_fault()
                raise SessionOver
            return
        self.answer(consumer, reply_to, corr, body)

    def run(self):
        try:
            if self.handshake():
                self.serve()
        except SessionOver:
            pass
        except ClientGone:
            self.report("CLIENT_EOF")
        except TimeoutError:
            log("client was silent for too long")
            self.report("CLIENT_SILENT")
        except (ValueError, OSError) as e:
            log(f"stopping: {e}")
            self.report("CLIENT_BAD_BYTES")


def main():
    ap = argparse.ArgumentParser(description="A scripted, fault-injecting AMQP 0-9-1 test broker.")
    ap.add_argument("--scenario", default="ok", choices=sorted(SCENARIOS))
    ap.add_argument("--connections", type=int, default=1, help="connections to serve, one at a time")
    ap.add_argument("--heartbeat", type=int, default=60, help="heartbeat proposed in connection.tune")
    ap.add_argument("--expect-close", action="store_true",
                    help="print what the client sends after the fault (CLIENT_* lines)")
    ap.add_argument("--close-wait", type=float, default=5.0,
                    help="seconds to wait for the client's reaction to a fault")
    ap.add_argument("--step-timeout", type=float, default=10.0,
                    help="seconds to wait for each handshake step of the client")
    ap.add_argument("--lifetime", type=float, default=60.0,
                    help="seconds a connection may last, and to wait for each connection")
    ap.add_argument("--list", action="store_true", help="print the scenario names and exit")
    args = ap.parse_args()
    if args.list:
        for name in sorted(SCENARIOS):
            print(name)
        return 0

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    out(f"PORT={srv.getsockname()[1]}")
    srv.settimeout(args.lifetime)
    for _ in range(args.connections):
        try:
            sock, peer = srv.accept()
        except socket.timeout:
            log(f"no connection within {args.lifetime:g} s")
            return 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log(f"connection from {peer[0]}:{peer[1]}, scenario {args.scenario}")
        Session(sock, args).run()
        try:
            sock.close()
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
