"""The fake broker's answers and injected faults (a mixin of fake_broker.Session): the RPC answer
to a request, deliveries built right or wrong on purpose, and what is recorded after the fault."""
import json
import socket
import struct
import time

from pamqp import body as pbody
from pamqp import commands
from pamqp import frame as pframe
from pamqp import header as pheader
from pamqp import heartbeat as pheartbeat

from fake_broker_wire import (ERROR_TEXT, FLAG_CORRELATION_ID, FLAG_HEADERS, fib, header_payload,  # noqa: F401
                              log, nested_table, out, raw_frame, shortstr)


class ClientGone(Exception):
    """The client closed the socket."""


class FaultActions:
    """Session methods that answer a request or inject the scenario's fault."""

    def answer(self, consumer, reply_to, corr, body):
        try:
            n = int(body.decode("ascii"))
            if not 0 <= n <= 10000:
                raise ValueError
            text, ctype = str(fib(n)), None
        except (UnicodeDecodeError, ValueError):
            text = json.dumps({"response": None, "error": "request is not a number in 0..10000"})
            ctype = "application/json"
        self.deliver(consumer, reply_to,
                     commands.Basic.Properties(correlation_id=corr, content_type=ctype),
                     text.encode())
        out(f"REPLIED={text}")

    def deliver_method(self, consumer, routing_key):
        channel, tag = consumer
        return commands.Basic.Deliver(consumer_tag=tag, delivery_tag=next(self.delivery_seq),
                                      redelivered=False, exchange="", routing_key=routing_key)

    def deliver(self, consumer, routing_key, props, body):
        channel = consumer[0]
        data = pframe.marshal(self.deliver_method(consumer, routing_key), channel)
        data += pframe.marshal(pheader.ContentHeader(0, len(body), props), channel)
        if body:
            data += pframe.marshal(pbody.ContentBody(body), channel)
        self.send(data)

    def deliver_raw_header(self, consumer, routing_key, header_bytes, body):
        channel = consumer[0]
        data = pframe.marshal(self.deliver_method(consumer, routing_key), channel)
        data += raw_frame(2, channel, header_bytes)
        if body:
            data += pframe.marshal(pbody.ContentBody(body), channel)
        self.send(data)

    # ---- faults after the request
    def inject(self, consumer, reply_to, corr, body):
        s = self.scenario
        ch = consumer[0]
        corr = corr or ""
        log(f"injecting {s}")
        if s == "bad_frame_end":
            payload = pframe.marshal(self.deliver_method(consumer, reply_to), ch)[7:-1]
            self.send(raw_frame(1, ch, payload, end=b"\x00"))
        elif s == "huge_frame_size":
            self.send(struct.pack(">BHI", 1, ch, 0xFFFFFFF0) + b"\x00\x3c\x00\x3c" + b"\x00" * 12)
        elif s == "truncated_method":
            # basic.deliver (60, 60) and the first 3 bytes of its consumer-tag shortstr.
            self.send(raw_frame(1, ch, struct.pack(">HH", 60, 60) + b"\x10ab"))
        elif s == "unknown_table_tag":
            table = shortstr("ok") + b"t\x01" + shortstr("bad") + b"Z\x00\x00\x00\x00"
            props = struct.pack(">I", len(table)) + table + shortstr(corr)
            self.deliver_raw_header(consumer, reply_to,
                                    header_payload(2, FLAG_HEADERS | FLAG_CORRELATION_ID, props),
                                    b"55")
        elif s == "deep_table_deliver":
            room = self.frame_max - 8 - 14 - 4 - len(corr) - 1 - 16
            depth = max(1, min(20000, room // 6))
            if depth < 20000:
                log(f"frame_max {self.frame_max} leaves room for {depth} levels only")
            props = nested_table(depth) + shortstr(corr)
            self.deliver_raw_header(consumer, reply_to,
                                    header_payload(2, FLAG_HEADERS | FLAG_CORRELATION_ID, props),
                                    b"55")
        elif s == "unknown_method":
            self.send(raw_frame(1, ch, struct.pack(">HH", 60, 999) + b"\x00" * 8))
        elif s == "heartbeat_on_channel":
            self.send(raw_frame(8, ch, b""))
        elif s == "body_longer_than_declared":
            props = commands.Basic.Properties(correlation_id=corr)
            data = pframe.marshal(self.deliver_method(consumer, reply_to), ch)
            data += pframe.marshal(pheader.ContentHeader(0, 2, props), ch)
            data += raw_frame(3, ch, b"1234567890")
            self.send(data)
        elif s == "body_size_2_62":
            props = commands.Basic.Properties(correlation_id=corr)
            data = pframe.marshal(self.deliver_method(consumer, reply_to), ch)
            data += pframe.marshal(pheader.ContentHeader(0, 1 << 62, props), ch)
            data += raw_frame(3, ch, b"5" * 100)
            self.send(data)
        elif s == "garbage":
            self.send(bytes((0x47 + 13 * i) & 0xFF for i in range(64)))
        elif s == "eof_mid_frame":
            self.send(pframe.marshal(self.deliver_method(consumer, reply_to), ch)[:5])
            self.sock.shutdown(socket.SHUT_WR)
        elif s == "silence_after_heartbeat":
            self.silent = True
        elif s == "forced_close_320":
            self.send_frame(0, commands.Connection.Close(
                reply_code=320,
                reply_text="CONNECTION_FORCED - broker forced connection closure with reason "
                           "'shutdown'",
                class_id=0, method_id=0))
        elif s == "wrong_corr_ids_first":
            for bad in (f"wrong-{corr}", None, corr[:-1] if len(corr) > 1 else corr + "x"):
                self.deliver(consumer, reply_to, commands.Basic.Properties(correlation_id=bad),
                             b"999")
            self.answer(consumer, reply_to, corr, body)
        elif s == "reply_not_a_number":
            self.deliver(consumer, reply_to, commands.Basic.Properties(correlation_id=corr),
                         b"not-a-number")
        elif s == "error_reply":
            self.deliver(consumer, reply_to,
                         commands.Basic.Properties(correlation_id=corr,
                                                   content_type="application/json"),
                         json.dumps({"response": None, "error": ERROR_TEXT}).encode())
        else:
            raise AssertionError(s)

    def after_fault(self):
        """Records what the client does after a fault (with --expect-close) until it goes away."""
        deadline = time.monotonic() + self.args.close_wait
        self.heartbeat = 0  # a hostile broker need not keep the connection alive
        result = "CLIENT_SILENT"
        try:
            while True:
                channel, value = self.read_frame(deadline)
                if isinstance(value, pheartbeat.Heartbeat):
                    continue
                name = getattr(value, "name", type(value).__name__)
                if self.args.expect_close:
                    out(f"CLIENT_SENT={name}")
                if isinstance(value, commands.Connection.Close):
                    result = f"CLIENT_CLOSE={value.reply_code}"
                    log(f"client closed the connection: {value.reply_code} {value.reply_text}")
                    if not self.silent:
                        self.send_frame(0, commands.Connection.CloseOk())
                    break
                if isinstance(value, commands.Connection.CloseOk):
                    result = "CLIENT_CLOSE_OK"
                    break
                # A client winding down politely (after an error reply, or a channel closed by
                # us) gets its answers, unless the broker already closed the connection.
                broker_closed = ("forced_close_320", "auth_refused", "refuse_transient_queue")
                if self.scenario not in broker_closed and not self.silent:
                    if isinstance(value, commands.Basic.Cancel):
                        self.send_frame(channel, commands.Basic.CancelOk(
                            consumer_tag=value.consumer_tag))
                    elif isinstance(value, commands.Channel.Close):
                        self.send_frame(channel, commands.Channel.CloseOk())
        except ClientGone:
            result = "CLIENT_EOF"
        except TimeoutError:
            result = "CLIENT_SILENT"
        except (ValueError, OSError):
            result = "CLIENT_BAD_BYTES"
        self.report(result)
        return False
