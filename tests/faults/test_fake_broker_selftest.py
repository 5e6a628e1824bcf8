#!/usr/bin/python3
"""Self-test of tests/faults/fake_broker.py: each scenario sends what its documentation says.

Two independent clients check it: pika (a real AMQP client: the correct scenarios must complete
an RPC call, the refusals must raise the matching pika exception) and a byte-level client built
on pamqp, which reads the raw bytes after the request and checks the shape of each fault.
Run: /usr/bin/python3 tests/faults/test_fake_broker_selftest.py (unittest; no broker needed).
"""
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import uuid

import pika
from pamqp import commands
from pamqp import frame as pframe
from pamqp import header as pheader

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_broker.py")
sys.path.insert(0, HERE)
import fake_broker  # noqa: E402  (for the scenario table only)


class FakeBroker:
    """Runs fake_broker.py as a subprocess; .port, and .lines() once it has exited."""

    def __init__(self, scenario, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--scenario", scenario, "--expect-close", "--close-wait", "3",
             "--lifetime", "20", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        first = self.proc.stdout.readline().decode() if ready else ""
        if not first.startswith("PORT="):
            self.proc.kill()
            raise RuntimeError(f"fake broker did not print its port: {first!r}")
        self.port = int(first.strip().split("=", 1)[1])
        self.out = None

    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def finish(self, timeout=10):
        """Waits for the broker to exit; returns its stdout lines after PORT=."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"fake broker did not exit: {err.decode()}")
        self.err = err.decode()
        self.out = out.decode().splitlines()
        return self.out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def pika_call(port, n=10, direct=False, limit=5.0):
    """One tutorial-style RPC call; returns every delivery seen as (corr id, ctype, body)."""
    params = pika.ConnectionParameters("127.0.0.1", port, heartbeat=0,
                                       blocked_connection_timeout=limit, socket_timeout=limit)
    conn = pika.BlockingConnection(params)
    try:
        ch = conn.channel()
        q = "amq.rabbitmq.reply-to" if direct else ch.queue_declare("", exclusive=True).method.queue
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((p.correlation_id, p.content_type, b)),
                         auto_ack=True)
        cid = str(uuid.uuid4())
        ch.basic_publish("", "rpc_queue", str(n).encode(),
                         pika.BasicProperties(reply_to=q, correlation_id=cid))
        deadline = time.monotonic() + limit
        while not any(g[0] == cid for g in got) and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.2)
        return cid, got
    finally:
        if conn.is_open:
            conn.close()


class RawClient:
    """A byte-level AMQP client: a correct handshake with pamqp, then raw reads."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.tune = None
        self.start_size = None

    def send(self, channel, value):
        self.sock.sendall(pframe.marshal(value, channel))

    def recv_some(self, timeout):
        """Bytes that arrive within `timeout`; b"" on EOF."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1 << 20)
        except socket.timeout:
            return None

    def read_until_quiet(self, quiet=1.0, limit=8.0, first=4.0):
        """Everything the broker sends until `quiet` seconds pass without data, or EOF. The
        first byte may take up to `first` seconds (a loaded machine delays the broker)."""
        data, eof = self.buf, False
        self.buf = b""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            chunk = self.recv_some(quiet if data else first)
            if chunk is None:
                break
            if chunk == b"":
                eof = True
                break
            data += chunk
        return data, eof

    def read_frame(self):
        while True:
            if len(self.buf) >= 7:
                size = struct.unpack(">I", self.buf[3:7])[0]
                if len(self.buf) >= size + 8:
                    raw, self.buf = self.buf[:size + 8], self.buf[size + 8:]
                    return raw
            chunk = self.recv_some(5)
            if not chunk:
                raise EOFError("broker closed or went silent")
            self.buf += chunk

    def method(self):
        raw = self.read_frame()
        if raw[0] == 1 and len(raw) > 50000:
            self.start_size = len(raw)
            return raw, None
        return raw, pframe.unmarshal(raw)[2]

    def handshake(self):
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        _, start = self.method()
        if start is None:
            return "big-start"
        assert isinstance(start, commands.Connection.Start), start
        self.send(0, commands.Connection.StartOk(
            client_properties={"product": "selftest"}, mechanism="PLAIN",
            response="\0guest\0guest", locale="en_US"))
        _, tune = self.method()
        if not isinstance(tune, commands.Connection.Tune):
            return tune
        self.tune = tune
        self.send(0, commands.Connection.TuneOk(channel_max=tune.channel_max,
                                                frame_max=tune.frame_max,
                                                heartbeat=tune.heartbeat))
        self.send(0, commands.Connection.Open(virtual_host="/"))
        _, ok = self.method()
        assert isinstance(ok, commands.Connection.OpenOk), ok
        return "open"

    def request(self, corr="c-1"):
        """Opens channel 1, a reply queue and its consumer, and publishes one RPC request."""
        self.send(1, commands.Channel.Open())
        assert isinstance(self.method()[1], commands.Channel.OpenOk)
        self.send(1, commands.Queue.Declare(queue="", exclusive=True))
        declared = self.method()[1]
        if not isinstance(declared, commands.Queue.DeclareOk):
            return declared
        self.send(1, commands.Basic.Consume(queue=declared.queue, no_ack=True))
        assert isinstance(self.method()[1], commands.Basic.ConsumeOk)
        props = commands.Basic.Properties(reply_to=declared.queue, correlation_id=corr)
        body = b"10"
        data = pframe.marshal(commands.Basic.Publish(exchange="", routing_key="rpc_queue"), 1)
        data += pframe.marshal(pheader.ContentHeader(0, len(body), props), 1)
        data += struct.pack(">BHI", 3, 1, len(body)) + body + b"\xce"
        self.sock.sendall(data)
        return declared

    def close(self, code=None):
        if code is not None:
            try:
                self.send(0, commands.Connection.Close(reply_code=code, reply_text="selftest",
                                                       class_id=0, method_id=0))
                self.read_until_quiet(quiet=0.5, limit=2)
            except OSError:
                pass
        self.sock.close()


def frames(data):
    """Splits well-framed bytes into (type, channel, payload, end octet) tuples."""
    out, pos = [], 0
    while len(data) - pos >= 7:
        ftype, ch, size = struct.unpack(">BHI", data[pos:pos + 7])
        if size > len(data) - pos - 8:
            break
        out.append((ftype, ch, data[pos + 7:pos + 7 + size], data[pos + 7 + size]))
        pos += size + 8
    return out


class PikaScenarios(unittest.TestCase):
    """pika, an independent client, against the scenarios where its behaviour is well defined."""

    def test_ok_completes_an_rpc_call(self):
        with FakeBroker("ok") as fb:
            cid, got = pika_call(fb.port, n=30)
            self.assertEqual(got, [(cid, None, b"832040")])
            out = fb.finish()
            self.assertIn("REPLIED=832040", out)
            self.assertEqual(out[-1], "CLIENT_CLOSE=200")

    def test_ok_with_direct_reply_to(self):
        with FakeBroker("ok") as fb:
            cid, got = pika_call(fb.port, n=10, direct=True)
            self.assertEqual(got, [(cid, None, b"55")])

    def test_ok_serves_several_connections(self):
        with FakeBroker("ok", "--connections", "2") as fb:
            for n, want in ((1, b"1"), (90, b"2880067194370816120")):
                cid, got = pika_call(fb.port, n=n)
                self.assertEqual(got, [(cid, None, want)])
            self.assertEqual(fb.finish().count("CLIENT_CLOSE=200"), 2)

    def test_wrong_corr_ids_come_before_the_right_reply(self):
        with FakeBroker("wrong_corr_ids_first") as fb:
            cid, got = pika_call(fb.port, n=10)
            self.assertEqual(len(got), 4)
            self.assertEqual(got[-1], (cid, None, b"55"))
            wrong = [g[0] for g in got[:-1]]
            self.assertNotIn(cid, wrong)
            self.assertIn(None, wrong)

    def test_reply_not_a_number(self):
        with FakeBroker("reply_not_a_number") as fb:
            cid, got = pika_call(fb.port)
            self.assertEqual(got, [(cid, None, b"not-a-number")])

    def test_error_reply_is_json(self):
        with FakeBroker("error_reply") as fb:
            cid, got = pika_call(fb.port)
            self.assertEqual(len(got), 1)
            self.assertEqual(got[0][:2], (cid, "application/json"))
            self.assertIn(b'"response": null', got[0][2])
            self.assertIn(fake_broker.ERROR_TEXT.encode(), got[0][2])

    def test_forced_close_320(self):
        with FakeBroker("forced_close_320") as fb:
            with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
                pika_call(fb.port)
            self.assertEqual(cm.exception.reply_code, 320)

    def test_silent_declare_leaves_queue_declare_unanswered(self):
        with FakeBroker("silent_declare") as fb:
            conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", fb.port, heartbeat=0))
            ch = conn.channel()  # answered
            outcome = []

            def declare():
                try:
                    outcome.append(ch.queue_declare("", exclusive=True))
                except pika.exceptions.AMQPError as e:  # the broker goes at the end
                    outcome.append(e)

            waiter = threading.Thread(target=declare, daemon=True)
            waiter.start()
            waiter.join(1.5)
            self.assertTrue(waiter.is_alive(), f"queue.declare was answered: {outcome}")
            fb.proc.kill()
            waiter.join(5)
            self.assertFalse(outcome and not isinstance(outcome[0], pika.exceptions.AMQPError), outcome)

    def test_channel_close_405(self):
        with FakeBroker("channel_close_405") as fb:
            with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
                pika_call(fb.port)
            self.assertEqual(cm.exception.reply_code, 405)
            self.assertIn("CLIENT_SENT=Channel.CloseOk", fb.finish())

    def test_refuse_transient_queue_541_as_rabbitmq_4_3(self):
        # The tutorial's server declaration is refused, closing the connection...
        with FakeBroker("refuse_transient_queue") as fb:
            params = pika.ConnectionParameters("127.0.0.1", fb.port, heartbeat=0)
            conn = pika.BlockingConnection(params)
            with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
                conn.channel().queue_declare("rpc_queue")
            self.assertEqual(cm.exception.reply_code, 541)
            self.assertEqual(cm.exception.reply_text, fake_broker.TRANSIENT_REFUSAL)
            self.assertEqual(len(fake_broker.TRANSIENT_REFUSAL.encode()), 255)
            self.assertIn(fb.finish()[-1], ("CLIENT_CLOSE_OK", "CLIENT_EOF"))
        # ...a client's exclusive reply queue passes.
        with FakeBroker("refuse_transient_queue") as fb:
            cid, got = pika_call(fb.port, n=10)
            self.assertEqual(got, [(cid, None, b"55")])

    def test_auth_refused_403(self):
        with FakeBroker("auth_refused") as fb:
            with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as cm:
                pika_call(fb.port)
            self.assertIn("403", str(cm.exception))

    def test_wrong_protocol_header(self):
        with FakeBroker("wrong_protocol_header") as fb:
            with self.assertRaises(pika.exceptions.IncompatibleProtocolError):
                pika_call(fb.port)

    def test_framing_faults_break_pika(self):
        # pika names these faults; the others it only notices when the broker gives up, and
        # then it reports a lost stream, which the texts below would not match.
        for scenario, text in (("bad_frame_end", "FRAME_END"),
                               ("body_longer_than_declared", "BodyTooLong"),
                               ("unknown_table_tag", "b'Z'"),
                               ("deep_table_deliver", "RecursionError")):
            with self.subTest(scenario), FakeBroker(scenario) as fb:
                with self.assertRaises(pika.exceptions.AMQPError) as cm:
                    pika_call(fb.port)
                self.assertIn(text, str(cm.exception))


class RawScenarios(unittest.TestCase):
    """The exact bytes of each fault, read by a pamqp client that does not interpret them."""

    def fault_bytes(self, scenario, quiet=1.0, first=4.0):
        """Handshake, one request, then the raw bytes that follow (and whether EOF came)."""
        fb = FakeBroker(scenario)
        self.addCleanup(fb.__exit__)
        c = RawClient(fb.port)
        self.addCleanup(c.sock.close)
        self.assertEqual(c.handshake(), "open")
        c.request()
        data, eof = c.read_until_quiet(quiet=quiet, first=first)
        return fb, c, data, eof

    def test_ok_reply_frames(self):
        fb, c, data, _ = self.fault_bytes("ok")
        f = frames(data)
        self.assertEqual([x[0] for x in f], [1, 2, 3])
        self.assertEqual(f[2][2], b"55")
        hdr = pframe.unmarshal(data[len(data) - len(f[2][2]) - 8 - len(f[1][2]) - 8:])[2]
        self.assertEqual(hdr.properties.correlation_id, "c-1")
        c.close(200)
        self.assertEqual(fb.finish()[-1], "CLIENT_CLOSE=200")

    def test_bad_frame_end(self):
        _, _, data, _ = self.fault_bytes("bad_frame_end")
        ftype, ch, payload, end = frames(data)[0]
        self.assertEqual((ftype, ch, end), (1, 1, 0x00))
        self.assertEqual(struct.unpack(">HH", payload[:4]), (60, 60))

    def test_huge_frame_size(self):
        _, _, data, _ = self.fault_bytes("huge_frame_size")
        self.assertEqual(struct.unpack(">BHI", data[:7]), (1, 1, 0xFFFFFFF0))
        self.assertLess(len(data), 64)

    def test_truncated_method(self):
        _, _, data, _ = self.fault_bytes("truncated_method")
        ftype, _, payload, end = frames(data)[0]
        self.assertEqual((ftype, end), (1, 0xCE))
        self.assertEqual(struct.unpack(">HH", payload[:4]), (60, 60))
        with self.assertRaises(Exception):
            pframe.unmarshal(data)

    def test_unknown_table_tag(self):
        _, _, data, _ = self.fault_bytes("unknown_table_tag")
        f = frames(data)
        self.assertEqual([x[0] for x in f], [1, 2, 3])
        self.assertIn(b"\x03badZ", f[1][2])

    def test_deep_table_deliver(self):
        _, c, data, _ = self.fault_bytes("deep_table_deliver")
        f = frames(data)
        self.assertEqual([x[0] for x in f[:2]], [1, 2])
        self.assertLessEqual(len(f[1][2]), c.tune.frame_max - 8)
        self.assertGreaterEqual(f[1][2].count(b"\x00F"), 20000)

    def test_deep_table_in_connection_start(self):
        with FakeBroker("deep_table") as fb:
            c = RawClient(fb.port)
            self.assertEqual(c.handshake(), "big-start")
            self.assertGreater(c.start_size, 20000 * 6)
            c.sock.close()
            self.assertEqual(fb.finish()[-1], "CLIENT_EOF")

    def test_unknown_method(self):
        _, _, data, _ = self.fault_bytes("unknown_method")
        ftype, _, payload, _ = frames(data)[0]
        self.assertEqual((ftype, struct.unpack(">HH", payload[:4])), (1, (60, 999)))

    def test_heartbeat_on_channel(self):
        _, _, data, _ = self.fault_bytes("heartbeat_on_channel")
        self.assertEqual(frames(data)[0][:3], (8, 1, b""))

    def test_body_longer_than_declared(self):
        _, _, data, _ = self.fault_bytes("body_longer_than_declared")
        f = frames(data)
        self.assertEqual(struct.unpack(">Q", f[1][2][4:12])[0], 2)
        self.assertEqual(f[2][2], b"1234567890")

    def test_body_size_2_62(self):
        _, _, data, _ = self.fault_bytes("body_size_2_62")
        f = frames(data)
        self.assertEqual(struct.unpack(">Q", f[1][2][4:12])[0], 1 << 62)
        self.assertEqual(len(f), 3)

    def test_garbage(self):
        _, _, data, _ = self.fault_bytes("garbage")
        self.assertEqual(len(data), 64)
        self.assertEqual(data[0], 0x47)

    def test_eof_mid_frame(self):
        _, _, data, eof = self.fault_bytes("eof_mid_frame")
        self.assertEqual(len(data), 5)
        self.assertTrue(eof)

    def test_silence_after_heartbeat(self):
        _, c, data, eof = self.fault_bytes("silence_after_heartbeat", first=2.5)
        self.assertEqual(c.tune.heartbeat, 1)
        self.assertEqual((data, eof), (b"", False))

    def test_forced_close_320_and_close_ok(self):
        fb, c, data, _ = self.fault_bytes("forced_close_320")
        close = pframe.unmarshal(data)[2]
        self.assertIsInstance(close, commands.Connection.Close)
        self.assertEqual(close.reply_code, 320)
        c.send(0, commands.Connection.CloseOk())
        c.sock.close()
        self.assertEqual(fb.finish()[-1], "CLIENT_CLOSE_OK")

    def test_channel_close_405(self):
        fb = FakeBroker("channel_close_405")
        self.addCleanup(fb.__exit__)
        c = RawClient(fb.port)
        self.assertEqual(c.handshake(), "open")
        closed = c.request()
        self.assertIsInstance(closed, commands.Channel.Close)
        self.assertEqual((closed.reply_code, closed.class_id, closed.method_id), (405, 50, 10))
        c.close(200)
        out = fb.finish()
        self.assertEqual(out[-2:], ["CLIENT_SENT=Connection.Close", "CLIENT_CLOSE=200"])

    def test_auth_refused(self):
        with FakeBroker("auth_refused") as fb:
            c = RawClient(fb.port)
            close = c.handshake()
            self.assertIsInstance(close, commands.Connection.Close)
            self.assertEqual(close.reply_code, 403)
            c.sock.close()

    def test_close_after_start_ok(self):
        with FakeBroker("close_after_start_ok") as fb:
            c = RawClient(fb.port)
            self.addCleanup(c.sock.close)
            with self.assertRaises(EOFError):
                c.handshake()

    def test_wrong_protocol_header(self):
        with FakeBroker("wrong_protocol_header") as fb:
            c = RawClient(fb.port)
            self.addCleanup(c.sock.close)
            c.sock.sendall(b"AMQP\x00\x00\x09\x01")
            data, eof = c.read_until_quiet()
            self.assertEqual((data, eof), (b"AMQP\x00\x00\x08\x00", True))

    def test_error_reply_and_reply_not_a_number_keep_the_correlation_id(self):
        for scenario in ("error_reply", "reply_not_a_number"):
            with self.subTest(scenario):
                _, _, data, _ = self.fault_bytes(scenario)
                f = frames(data)
                self.assertEqual([x[0] for x in f], [1, 2, 3])
                hdr_raw = struct.pack(">BHI", 2, 1, len(f[1][2])) + f[1][2] + b"\xce"
                self.assertEqual(pframe.unmarshal(hdr_raw)[2].properties.correlation_id, "c-1")

    def test_expect_close_records_the_clients_reply_code(self):
        fb, c, _, _ = self.fault_bytes("bad_frame_end")
        c.close(501)
        self.assertEqual(fb.finish()[-2:], ["CLIENT_SENT=Connection.Close", "CLIENT_CLOSE=501"])

    def test_expect_close_records_a_plain_eof(self):
        fb, c, _, _ = self.fault_bytes("garbage")
        c.sock.close()
        self.assertEqual(fb.finish()[-1], "CLIENT_EOF")

    def test_expect_close_records_silence(self):
        fb, _, _, _ = self.fault_bytes("unknown_method")
        self.assertEqual(fb.finish()[-1], "CLIENT_SILENT")


class Documentation(unittest.TestCase):
    def test_every_scenario_is_documented_and_tested(self):
        doc = fake_broker.__doc__
        names = set(dir(PikaScenarios)) | set(dir(RawScenarios))
        source = open(__file__).read()
        for name in fake_broker.SCENARIOS:
            self.assertRegex(doc, rf"\n  {name}\b", f"{name} is not documented")
            self.assertIn(f'"{name}"', source, f"{name} has no self-test")
        self.assertTrue(names)


if __name__ == "__main__":
    unittest.main(verbosity=2)
