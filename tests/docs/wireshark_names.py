"""Wireshark's AMQP dissector names 0-9-1 method arguments as the 0-8 spec did. These are the
differences: (class-id.method-id, or "*" for every method, Wireshark's name) -> (0-9-1 name, why).
Any other Wireshark name is the 0-9-1 name with '_' for '-' (routing_key = routing-key).

Used by capture_decode_test.py (our decode against Wireshark's), checked by
wireshark_names_test.py against `tshark -G fields` and the spec XML, and shown as the table in
docs/frames.md ("Wireshark's field names"), which that test compares with RENAMED."""

RENAMED = {
    ("*", "ticket"): ("reserved-1", "0-8's access ticket (exchange.*, queue.*, basic.publish/consume/get)"),
    ("*", "nowait"): ("no-wait", "spelling"),
    ("10.40", "capabilities"): ("reserved-1", "connection.open; 0-8's capabilities"),
    ("10.40", "insist"): ("reserved-2", "connection.open; 0-8's insist"),
    ("10.41", "known_hosts"): ("reserved-1", "connection.open-ok; 0-8's known-hosts"),
    ("20.10", "out_of_band"): ("reserved-1", "channel.open; 0-8's out-of-band"),
    ("20.11", "channel_id"): ("reserved-1", "channel.open-ok; 0-8's channel-id"),
    ("40.10", "auto_delete"): ("reserved-2", "exchange.declare; RabbitMQ's extended XML, our decoder and trace say "
                                             "`auto-delete` (RabbitMQ acts on it)"),
    ("40.10", "internal"): ("reserved-3", "exchange.declare; RabbitMQ's extended XML, our decoder and trace say "
                                          "`internal` (RabbitMQ acts on it)"),
    ("60.20", "filter"): ("arguments", "basic.consume; 0-8's filter"),
}

# Basic properties (`amqp.method.properties.<name>`) whose names differ: bit 2 is 0-9's cluster-id.
PROPERTY_RENAMED = {"cluster_id": "reserved"}

# Wireshark's own counters, not fields on the wire.
SYNTHETIC = {"publish_number"}

# RabbitMQ extensions newer than Debian's extended XML: connection.blocked's reason.
RABBIT_EXTENSIONS = {"reason"}

# Arguments of 0-8 methods and classes that 0-9-1 dropped (access, file, stream, dtx, tunnel,
# connection.redirect, ...): Wireshark still knows them; no 0-9-1 frame carries them.
ZERO_EIGHT_ONLY = {
    "cluster_id", "consume_rate", "content_size", "dtx_identifier", "heartbeat_max", "heartbeat_min", "host",
    "identifier", "known_hosts_bytes", "meta_data", "read", "realm", "staged_size", "write",
}


def our_name(method, ws_name):
    """The 0-9-1 name of Wireshark's `amqp.method.arguments.<ws_name>` in method 'class.method'."""
    for key in ((method, ws_name), ("*", ws_name)):
        if key in RENAMED:
            return RENAMED[key][0]
    return ws_name.replace("_", "-")
