"""Wireshark's AMQP dissector names 0-9-1 fields as the 0-8 spec did; these are the differences,
as (class.method or '*', Wireshark's argument name) -> the 0-9-1 name. A name not listed is the
0-9-1 name with '_' for '-' (routing_key = routing-key). Used by capture_decode_test.py, which
fails on any argument Wireshark shows that neither rule maps, and shown in docs/frames.md."""

# (class-id.method-id or "*", Wireshark field suffix) -> 0-9-1 argument name
RENAMED = {
    ("*", "ticket"): "reserved-1",             # access ticket (0-8), reserved in 0-9-1
    ("10.40", "capabilities"): "reserved-1",   # connection.open
    ("10.40", "insist"): "reserved-2",         # connection.open
    ("10.41", "known_hosts"): "reserved-1",    # connection.open-ok
    ("20.10", "out_of_band"): "reserved-1",    # channel.open
    ("20.11", "channel_id"): "reserved-1",     # channel.open-ok
    ("60.20", "filter"): "arguments",          # basic.consume
    ("*", "nowait"): "no-wait",
}

# Wireshark's own counters, not fields on the wire.
SYNTHETIC = {"publish_number"}


def our_name(method, ws_name):
    """The 0-9-1 name of Wireshark's `amqp.method.arguments.<ws_name>` in method 'class.method'."""
    for key in ((method, ws_name), ("*", ws_name)):
        if key in RENAMED:
            return RENAMED[key]
    return ws_name.replace("_", "-")
