#!/usr/bin/python3
"""Generate docs/beyond.md and docs/beyond.html, the second walkthrough: the protocol beyond the
happy path, from a real capture (tests/docs/captures/beyond.pcapng, made by
`make_capture.py --scenario beyond` against a broker) decoded by amqp_decode. The prose per scene
is SCENES below; the frames are amqp_decode's, never edited by hand.

    gen_beyond.py AMQP_DECODE            write both pages
    gen_beyond.py AMQP_DECODE --check    exit 1 with a diff if either is stale (test docs_beyond_fresh)

Run from anywhere; the capture is named by its path from the repository's root, as the pages show it."""
import difflib
import pathlib
import re
import subprocess
import sys
import textwrap

REPO = pathlib.Path(__file__).resolve().parents[2]
CAPTURE = "tests/docs/captures/beyond.pcapng"
HANDSHAKE = re.compile(r"method connection\.(start|start-ok|tune|tune-ok|open|open-ok) \(")
REF = "https://www.rabbitmq.com/amqp-0-9-1-reference.html"

# One scene per connection of the capture, in capture order: (title, explanation, keep handshake).
SCENES = [
    ("A refused login: 403 in connection.close",
     "`rpc_client` with a wrong password. The broker reads `connection.start-ok`'s PLAIN response "
     "(masked here: our decoder never shows it; Wireshark does), refuses it, and answers with "
     f"[`connection.close`]({REF}#connection.close) 403 ACCESS_REFUSED instead of `connection.tune`, then "
     "closes the socket. RabbitMQ does this because the client announced the `authentication_failure_close` "
     "capability in its client-properties; without it, the broker would just close the socket. The spec "
     "marks 403 a soft error; RabbitMQ uses it on the connection here. Our client reports "
     "`authentication_failed` and exits 1.", True),
    ("An unroutable request: basic.return 312 NO_ROUTE",
     "`rpc_client --queue nobody_home`: no server has declared that queue, so the default exchange has "
     "nowhere to route the request. Because the client publishes with `mandatory` set, the broker hands "
     f"the message back in a [`basic.return`]({REF}#basic.return) (a method + content header + body, like a "
     "delivery) with reply code 312 NO_ROUTE, a code the 0-9-1 XML does not list (0-9 had it; see "
     "[reply-codes.md](reply-codes.md)). The client fails the call at once instead of waiting for its "
     "timeout, and closes the connection normally (200).", False),
    ("Another client: pika declares a durable queue",
     "Python's pika (a second, independent implementation on the same wire) declares `durable_q` as "
     "durable, for the next scene. Compare its `connection.start-ok` and `queue.declare` bits with ours.",
     False),
    ("A redeclare with other settings: the broker closes the channel with 406",
     "`rpc_server --queue durable_q` declares the queue non-durable. The queue exists with other settings, "
     f"so the broker closes the channel with [`channel.close`]({REF}#channel.close) 406 PRECONDITION_FAILED "
     "(its class-id and method-id name the method at fault: 50.10, queue.declare). A soft error: only the "
     "channel ends; the client answers `channel.close-ok`. The connection could open another channel; our "
     "server reports the error and exits.", False),
    ("pika removes the queue", "Cleaning up after the previous scene.", False),
    ("A topic exchange: a binding, a routed publish, an unbind, a return",
     "`topic_demo` ([examples/topic_demo.cpp](../examples/topic_demo.cpp)) declares a topic exchange with "
     f"[`exchange.declare`]({REF}#exchange.declare): type `topic`, then five bits (passive, durable, "
     "auto-delete, internal, no-wait; 0-9-1 names auto-delete and internal reserved-2 and "
     "reserved-3, RabbitMQ's extended XML gives them these meanings). It declares a server-named exclusive "
     "queue and binds it to the exchange "
     f"with [`queue.bind`]({REF}#queue.bind) and the binding key `fib.*`. A topic exchange compares "
     "dot-separated words: `*` matches exactly one word, `#` zero or more. A mandatory "
     f"[`basic.publish`]({REF}#basic.publish) to the exchange with routing key `fib.request` matches the "
     "binding, so the broker delivers it to the queue's consumer; the `basic.deliver` names the exchange and "
     f"the routing key it was published with. After [`queue.unbind`]({REF}#queue.unbind) (the same queue, "
     "exchange, key and arguments; unlike `queue.bind` it has no no-wait bit) the same publish matches "
     "nothing and comes back as `basic.return` 312 NO_ROUTE, as in scene 2. Then "
     f"[`exchange.delete`]({REF}#exchange.delete) (if-unused false: delete it even with "
     "bindings left). `exchange.declare`, `queue.bind`, `queue.unbind` and `exchange.delete` are synchronous: "
     "the client waits for each one's `-ok` before it sends the next.", False),
    ("A missing exchange: the broker closes the channel with 404",
     "`topic_demo --exchange no_such_exchange --passive` declares the exchange with passive set, which asks "
     "only whether it exists. It does not, so the broker answers with "
     f"[`channel.close`]({REF}#channel.close) 404 NOT_FOUND; class-id and method-id name the method at "
     "fault (40.10, exchange.declare). 404 is a soft error, a channel's: the client answers "
     "`channel.close-ok`, the connection stays open, and our program closes it normally (200) and exits 1. "
     "A binding to a missing queue or exchange, a `basic.consume` on a missing queue, and a publish to a "
     "missing exchange get the same 404 (the publish's after the fact, as `basic.publish` has no reply).",
     False),
    ("A publisher confirm: pika's confirm.select and the broker's basic.ack",
     f"pika puts its channel into confirm mode with [`confirm.select`]({REF}#confirm.select) (class 85: a "
     "RabbitMQ extension, in its extended spec XML but not in the 0-9-1 specification) and waits for "
     "`confirm.select-ok`. From then on the "
     "broker counts the channel's publishes 1, 2, 3, ... and settles each with "
     f"[`basic.ack`]({REF}#basic.ack), its delivery-tag that count, once it has taken responsibility for "
     "the message (here: routed to the queue; for a persistent message in a durable queue, written to "
     "disk). `multiple` set would settle every number up to the tag at once; a `basic.nack` would say the "
     "broker lost the message. It is the same `basic.ack` a consumer sends to settle a delivery, sent the "
     "other way.", False),
    ("An idle server: heartbeats, and a large reply",
     "`rpc_server` with `?heartbeat=1` in its URL: the negotiated interval is 1 s, and each peer sends its "
     "own heartbeat frame (`08 00 00 00 00 00 00 ce`, always on channel 0) when it has sent nothing else "
     "for a while; we send ours every half interval. They are not answers to each other: each side only "
     "checks that it hears something ([§4.2.7](https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf)). "
     "Then a request for fib(100000) arrives, and the server's 20 899-byte reply leaves as one body frame: "
     "the server negotiated the broker's frame-max, 131072.", False),
    ("A small frame_max: one message, several body frames",
     "`rpc_client` with `?frame_max=4096` in its URL tunes the connection down to 4096-byte frames, so the "
     "broker delivers the same 20 899-byte reply as one content header and six body frames: five of "
     "4088 bytes (4096 minus the 8 bytes of frame overhead) and one of 459. The frames of one message are "
     f"consecutive on their channel ([§4.2.6](https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf)); "
     "`body-size` in the header says when the body is complete.", False),
]

PDF = "https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf"


def spec(methods, sections):
    """A scene's "Spec:" line: each method in RabbitMQ's Complete Reference, each section of the spec."""
    refs = ", ".join(f"[`{m}`]({REF}#{m})" for m in methods)
    secs = ", ".join(f"[§{n}]({PDF}) ({what})" for n, what in sections)
    return f"Spec: class reference {refs}; {secs}."


# One per scene, in the order of SCENES.
SPECS = [
    spec(["connection.start-ok", "connection.close"], [("2.2.4", "the connection class"), ("4.8", "error handling")]),
    spec(["basic.publish", "basic.return"], [("2.2.8", "the basic class"), ("4.2.6", "content framing")]),
    spec(["queue.declare"], [("2.2.7", "the queue class")]),
    spec(["queue.declare", "channel.close"], [("4.5", "channel closing"), ("4.8", "error handling")]),
    spec(["queue.delete"], [("2.2.7", "the queue class")]),
    spec(["exchange.declare", "queue.bind", "queue.unbind", "exchange.delete"],
         [("2.2.6", "the exchange class"), ("2.2.7", "the queue class")]),
    spec(["exchange.declare", "channel.close"], [("4.5", "channel closing"), ("4.8", "error handling")]),
    spec(["confirm.select", "basic.ack"], [("2.2.8", "the basic class; confirms are RabbitMQ's, not the spec's")]),
    spec(["connection.tune", "connection.tune-ok"], [("4.2.7", "heartbeat frames")]),
    spec(["connection.tune-ok"], [("4.2.3", "general frame format"), ("4.2.6", "content framing")]),
]

INTRO = f"""# Beyond the happy path: failures, routing, confirms, heartbeats and split bodies on the wire

The second walkthrough. [walkthrough.md](walkthrough.md) follows one RPC that works; this page
shows what the wire looks like when things go wrong, get routed or get large, one scene per
connection, all captured from real programs against RabbitMQ (`{CAPTURE}`, made by
`tests/docs/make_capture.py --scenario beyond`) and decoded by `amqp_decode` (frames, fields, no hex;
the handshake is shown once). The same capture as an interactive page, with every byte:
[beyond.html](beyond.html).

Generated by `tests/docs/gen_beyond.py`; `docs_beyond_fresh` checks it is current.
"""


def decode(tool):
    p = subprocess.run([tool, "--no-hex", CAPTURE], cwd=REPO, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit(f"gen_beyond: amqp_decode exited {p.returncode}: {p.stderr}")
    return p.stdout


def connections(text):
    """[(title line, [frame block text])] per connection."""
    out = []
    for part in re.split(r"^== ", text, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        blocks = [b.strip("\n") for b in re.split(r"\n\n(?=\[)", body.strip("\n")) if b.strip()]
        out.append((title, blocks))
    return out


def fill(text):
    return textwrap.fill(text, 100, break_long_words=False, break_on_hyphens=False)


def render(tool):
    conns = connections(decode(tool))
    if len(conns) != len(SCENES) or len(SPECS) != len(SCENES):
        sys.exit(f"gen_beyond: the capture has {len(conns)} connections, SCENES describes {len(SCENES)}")
    md = [INTRO]
    for i, ((title, blocks), (name, prose, keep), spec_line) in enumerate(zip(conns, SCENES, SPECS), 1):
        md.append(f"## {i}. {name}\n\n{fill(prose)}\n\n{fill(spec_line)}"
                  f"\n\n`{title.split('  (')[0]}`\n\n```text")
        skipped = 0
        for b in blocks:
            if not keep and HANDSHAKE.search(b.split("\n", 1)[0]):
                skipped += 1
                continue
            if skipped:
                md.append(f"... the handshake: {skipped} frames, as in walkthrough.md ...\n")
                skipped = 0
            md.append(b + "\n")
        md.append("```\n")
    return "\n".join(md)


def page(tool, out):
    p = subprocess.run([tool, "--html", str(out), CAPTURE], cwd=REPO, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        sys.exit(f"gen_beyond: amqp_decode --html exited {p.returncode}: {p.stderr}")


def main():
    tool = str(pathlib.Path(sys.argv[1]).resolve())
    check = "--check" in sys.argv[2:]
    md_path, html_path = REPO / "docs" / "beyond.md", REPO / "docs" / "beyond.html"
    md = render(tool)
    if not check:
        md_path.write_text(md)
        page(tool, html_path)
        print(f"wrote {md_path} and {html_path}")
        return 0
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        fresh_html = pathlib.Path(d) / "beyond.html"
        page(tool, fresh_html)
        stale = []
        for path, fresh in ((md_path, md), (html_path, fresh_html.read_text())):
            old = path.read_text() if path.exists() else ""
            if old != fresh:
                stale.append(path)
                sys.stdout.writelines(list(difflib.unified_diff(old.splitlines(True), fresh.splitlines(True),
                                                                str(path), "regenerated"))[:40])
    if stale:
        print("FAIL stale: " + ", ".join(str(p) for p in stale) + "; regenerate with tests/docs/gen_beyond.py")
        return 1
    print("ok   docs/beyond.md and docs/beyond.html are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
