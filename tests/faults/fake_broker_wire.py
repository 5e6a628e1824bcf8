"""The fake broker's wire helpers and constants: raw frames, short and long strings, the
connection.start payload, what RabbitMQ 3.10 announces (fake_broker.py's Session and its faults
build on these)."""
import struct
import sys

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = b"\xce"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
ERROR_TEXT = "fib: n out of range (fake broker)"
# RabbitMQ 4.3 (deprecated feature transient_nonexcl_queues denied by default): the text
# rabbit_deprecated_features builds for a denied feature, after "INTERNAL_ERROR - ", cut as RabbitMQ
# cuts a reply text longer than 255 bytes (252 bytes and "...").
TRANSIENT_REFUSAL = (
    "INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated.\n"
    "By default, this feature is not permitted anymore.\n"
    "The feature will be removed from a future major RabbitMQ version, regardless of the "
    "configuration; actual version to be determined.\n"
    "To continue using this feature when it is not permitted by default, set the following "
    "parameter in your configuration:\n"
    "    \"deprecated_features.permit.transient_nonexcl_queues = true\"")
TRANSIENT_REFUSAL = (TRANSIENT_REFUSAL.encode()[:252] + b"...").decode()
# Basic.Properties flag bits (AMQP 0-9-1 section 4.2.6.1: first property is the highest bit).
FLAG_HEADERS = 0x2000
FLAG_CORRELATION_ID = 0x0400


def log(msg):
    print(f"fake_broker: {msg}", file=sys.stderr, flush=True)


def out(line):
    print(line, flush=True)


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def raw_frame(frame_type, channel, payload, end=FRAME_END):
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + end


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">B", len(b)) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def server_properties():
    """What RabbitMQ 3.10 announces in connection.start."""
    return {
        "capabilities": {
            "publisher_confirms": True, "exchange_exchange_bindings": True, "basic.nack": True,
            "consumer_cancel_notify": True, "connection.blocked": True,
            "consumer_priorities": True, "authentication_failure_close": True,
            "per_consumer_qos": True, "direct_reply_to": True,
        },
        "cluster_name": "fake@localhost",
        "copyright": "Copyright (c) 2007-2022 VMware, Inc. or its affiliates.",
        "information": "A scripted fault-injecting test peer, not RabbitMQ",
        "platform": "Erlang/OTP 25.2",
        "product": "RabbitMQ",
        "version": "3.10.8",
    }


def nested_table(depth):
    """Field-table bytes (with length prefix) nesting `depth` tables, 6 bytes per level."""
    inner = b""
    for _ in range(depth):
        inner = shortstr(b"") + b"F" + struct.pack(">I", len(inner)) + inner
    return struct.pack(">I", len(inner)) + inner


def start_payload(table_bytes):
    """connection.start method payload with the given raw server-properties table."""
    return (struct.pack(">HHBB", 10, 10, 0, 9) + table_bytes + longstr("PLAIN AMQPLAIN")
            + longstr("en_US"))


def header_payload(body_size, props_flags, props_bytes):
    return struct.pack(">HHQH", 60, 0, body_size, props_flags) + props_bytes
