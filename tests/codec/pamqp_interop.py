#!/usr/bin/python3
"""Cross-check (b): pamqp (Debian python3-pamqp) as an independent AMQP 0-9-1 framer.

1. Every frame `codec_tool golden` encodes (all implemented methods with distinctive values,
   messages with all 14 properties and with none, a heartbeat) is unmarshalled by pamqp, and
   pamqp's values must equal the values our decoder printed for the same bytes.
2. pamqp marshals a set of frames (every method we implement, a header with every property,
   tables with every type pamqp writes); `codec_tool decode` must accept each and print the
   values pamqp put in.
Arguments are compared in wire order (pamqp's __slots__ order, our field order).

usage: pamqp_interop.py CODEC_TOOL
"""
import datetime
import decimal
import json
import subprocess
import sys

from pamqp import body, commands as c, frame, header, heartbeat

problems = []


def raw(s):
    """Our JSON strings carry one code point per byte."""
    return s.encode("latin-1")


def our_value(tag, v):
    """Our [tag, value] table value -> what pamqp would decode it to."""
    if tag in "bBsuIil":
        return int(v)
    if tag == "t":
        return bool(v)
    if tag in "fd":
        return float(v)
    if tag == "D":
        scale, value = v
        return decimal.Decimal(value) / (decimal.Decimal(10) ** scale)
    if tag == "S":
        b = raw(v)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return b
    if tag == "x":
        return bytearray(raw(v))
    if tag == "T":
        return datetime.datetime.utcfromtimestamp(v)
    if tag == "V":
        return None
    if tag == "A":
        return [our_value(t, x) for t, x in v]
    if tag == "F":
        return our_table(v)
    raise ValueError(tag)


def our_table(t):
    return {k.encode("latin-1").decode("utf-8"): our_value(tag, v) for k, (tag, v) in t.items()}


def same(ours, theirs, kind):
    """Compare one argument/property: ours from JSON, theirs from pamqp."""
    if kind == "table":
        return our_table(ours) == (theirs or {})
    if isinstance(ours, str):
        b = raw(ours)
        if isinstance(theirs, (bytes, bytearray)):
            return b == bytes(theirs)
        return b.decode("utf-8", "replace") == (theirs if theirs is not None else "")
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return bool(ours) == bool(theirs)
    return ours == theirs


def method_kinds(obj):
    """pamqp's declared wire types per slot (e.g. 'shortstr', 'table')."""
    return [getattr(obj, "_" + s, None) for s in obj.__slots__]


def compare_method(ours, obj, where):
    our_fields = list(ours["fields"].items())
    slots = list(obj.__slots__)
    if obj.name.lower() != ours["method"].replace("-", ""). lower().replace("_", "") and \
       obj.name.lower().replace("-", "") != ours["method"].lower().replace("-", ""):
        problems.append(f"{where}: pamqp says {obj.name}, we say {ours['method']}")
        return
    if len(our_fields) != len(slots):
        problems.append(f"{where}: {len(our_fields)} arguments, pamqp has {len(slots)}: {slots}")
        return
    for (name, v), slot in zip(our_fields, slots):
        kind = getattr(obj, "_" + slot, None)
        theirs = getattr(obj, slot)
        if not same(v, theirs, "table" if kind == "table" else None):
            problems.append(f"{where} {ours['method']}.{name}: ours {v!r}, pamqp {theirs!r}")


PROPS = ["content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id",
         "reply_to", "expiration", "message_id", "timestamp", "message_type", "user_id", "app_id",
         "cluster_id"]


def compare_header(ours, obj, where):
    if ours["body_size"] != obj.body_size or ours["weight"] != obj.weight:
        problems.append(f"{where}: body_size/weight {ours['body_size']}/{ours['weight']} vs "
                        f"{obj.body_size}/{obj.weight}")
    p = obj.properties
    for name in PROPS:
        theirs = getattr(p, name)
        if name not in ours["properties"]:
            if theirs not in (None, {}, ""):
                problems.append(f"{where}: property {name} absent in ours, pamqp {theirs!r}")
            continue
        v = ours["properties"][name]
        if name == "timestamp":
            ok = theirs == datetime.datetime.utcfromtimestamp(v)
        else:
            ok = same(v, theirs, "table" if name == "headers" else None)
        if not ok:
            problems.append(f"{where}: property {name}: ours {v!r}, pamqp {theirs!r}")


def compare_frame(ours, consumed, channel, obj, nbytes, where):
    if consumed != nbytes:
        problems.append(f"{where}: pamqp consumed {consumed} of {nbytes} bytes")
    if ours.get("error"):
        problems.append(f"{where}: we failed to decode: {ours['error']}")
        return
    if channel != ours["channel"]:
        problems.append(f"{where}: channel {ours['channel']} vs pamqp {channel}")
    t = ours["type"]
    if t == 1:
        compare_method(ours, obj, where)
    elif t == 2:
        compare_header(ours, obj, where)
    elif t == 3:
        if bytes.fromhex(ours["payload"]) != obj.value:
            problems.append(f"{where}: body differs")
    elif t == 8:
        if not isinstance(obj, heartbeat.Heartbeat):
            problems.append(f"{where}: pamqp did not see a heartbeat")


def ours_to_pamqp(tool):
    out = subprocess.run([tool, "golden"], check=True, capture_output=True, text=True).stdout
    n = 0
    for line in out.splitlines():
        rec = json.loads(line)
        data = bytes.fromhex(rec["hex"])
        try:
            consumed, channel, obj = frame.unmarshal(data)
        except Exception as e:  # pamqp refusing our bytes is a finding
            problems.append(f"ours->pamqp frame {n}: pamqp failed: {e!r} on {rec['hex']}")
            n += 1
            continue
        compare_frame(rec["decoded"], consumed, channel, obj, len(data), f"ours->pamqp frame {n}")
        n += 1
    return n


def pamqp_frames():
    table = {
        "bool": True, "i8": 5,  # pamqp 3.2.1 cannot write a negative int8 (packs it unsigned)
         "i16": -300, "u16": 65000, "i32": -70000, "u32": 4000000000,
        "i64": -5000000000, "float": 1.5, "dec": decimal.Decimal("123.45"), "str": "héllo",
        "ts": datetime.datetime(2023, 11, 14, 22, 13, 20), "nested": {"a": [1, "x", None]},
        "void": None, "bytes": bytearray(b"\x00\xff"),
        "capabilities": {"publisher_confirms": True, "basic.nack": True},
    }
    props = c.Basic.Properties(
        content_type="application/json", content_encoding="gzip", headers=table, delivery_mode=2,
        priority=9, correlation_id="c1", reply_to="amq.rabbitmq.reply-to", expiration="60000",
        message_id="m1", timestamp=datetime.datetime(2023, 11, 14, 22, 13, 20), message_type="t",
        user_id="guest", app_id="fib")  # pamqp refuses to write cluster_id (deprecated)
    return [
        c.Connection.Start(0, 9, {"product": "RabbitMQ", "capabilities": {"basic.nack": True}},
                           "AMQPLAIN PLAIN", "en_US"),
        c.Connection.StartOk({"product": "pamqp"}, "PLAIN", "\0guest\0guest", "en_US"),
        c.Connection.Secure("ch"), c.Connection.SecureOk("rs"),
        c.Connection.Tune(2047, 131072, 60), c.Connection.TuneOk(1, 4096, 30),
        c.Connection.Open("/vh"), c.Connection.OpenOk(),
        c.Connection.Close(320, "bye", 60, 40), c.Connection.CloseOk(),
        c.Connection.Blocked("mem"), c.Connection.Unblocked(),
        c.Channel.Open(), c.Channel.OpenOk(), c.Channel.Flow(True), c.Channel.FlowOk(False),
        c.Channel.Close(404, "NOT_FOUND", 50, 10), c.Channel.CloseOk(),
        c.Exchange.Declare(0, "ex", "topic", False, True, True, False, False, {"alternate-exchange": "ae"}),
        c.Exchange.DeclareOk(), c.Exchange.Delete(0, "ex", True, False), c.Exchange.DeleteOk(),
        c.Queue.Declare(0, "rpc_queue", False, True, False, True, False, {"x-expires": 60000}),
        c.Queue.Bind(0, "q", "ex", "a.*", True, {"x-match": "all"}), c.Queue.BindOk(),
        c.Queue.Unbind(0, "q", "ex", "a.#", {"x-match": "any"}), c.Queue.UnbindOk(),
        c.Queue.DeclareOk("amq.gen-A", 3, 1), c.Queue.Purge(0, "q", True), c.Queue.PurgeOk(7),
        c.Queue.Delete(0, "q", True, False, True), c.Queue.DeleteOk(2),
        c.Basic.Qos(0, 1, True), c.Basic.QosOk(),
        c.Basic.Consume(0, "rpc_queue", "ctag", False, True, False, False, {"x-priority": 5}),
        c.Basic.ConsumeOk("ctag"), c.Basic.Cancel("ctag", True), c.Basic.CancelOk("ctag"),
        c.Basic.Publish(0, "", "rpc_queue", True, False), c.Basic.Return(312, "NO_ROUTE", "", "q"),
        c.Basic.Deliver("ctag", 5, True, "", "rpc_queue"), c.Basic.Get(0, "q", True),
        c.Basic.GetOk(9, False, "", "q", 4), c.Basic.GetEmpty(), c.Basic.Ack(3, True),
        c.Basic.Reject(4, False), c.Basic.Recover(True), c.Basic.RecoverOk(),
        c.Basic.Nack(6, False, True), c.Confirm.Select(True), c.Confirm.SelectOk(),
        header.ContentHeader(0, 14, props),
        header.ContentHeader(0, 2**62, c.Basic.Properties()),
        body.ContentBody(b"fib(30)=832040"),
        heartbeat.Heartbeat(),
    ]


def pamqp_to_ours(tool):
    frames = pamqp_frames()
    encoded = [frame.marshal(f, 0 if isinstance(f, heartbeat.Heartbeat) else 7) for f in frames]
    out = subprocess.run([tool, "decode"], input="\n".join(e.hex() for e in encoded) + "\n",
                         check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    if len(lines) != len(frames):
        problems.append(f"pamqp->ours: {len(frames)} frames in, {len(lines)} lines out")
    for i, (f, e, line) in enumerate(zip(frames, encoded, lines)):
        ours = json.loads(line)
        compare_frame(ours, len(e), 0 if isinstance(f, heartbeat.Heartbeat) else 7, f, len(e),
                      f"pamqp->ours frame {i} ({type(f).__name__})")
    return len(frames)


def main():
    tool = sys.argv[1]
    a = ours_to_pamqp(tool)
    b = pamqp_to_ours(tool)
    print(f"ours->pamqp: {a} frames; pamqp->ours: {b} frames")
    for p in problems:
        print("MISMATCH:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
