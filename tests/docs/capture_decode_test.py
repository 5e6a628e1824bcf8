#!/usr/bin/python3
"""amqp_decode on a checked-in capture of a real session (captures/session.pcapng, made by
make_capture.py) against Wireshark's reading of the same file: every AMQP connection, both
directions, the same frames in the same order (type, channel, class.method), and every method
argument, body-size and basic property Wireshark shows, with the same value.

    capture_decode_test.py AMQP_DECODE [CAPTURE]

Exit status 0 pass, 1 fail, 77 skipped (no tshark)."""
import json
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import wireshark_names  # noqa: E402

SKIP = 77
HEAD = re.compile(r"^\[\s*[\d.]+\] (>>|<<) (?:sent|received)\s+channel (\d+)  (.*)$")
TITLE = re.compile(r"^== connection \d+: client \S+:(\d+) -> broker \S+:(\d+)")
FIELD = re.compile(r"^    (\S+)\s{2,}(.*)$")


def ours(tool, capture):
    """{client port: {"sent": [frame], "received": [frame]}, ...}, broker port; frame =
    (type, channel, method or None, {field: value})."""
    out = subprocess.run([tool, "--no-hex", str(capture)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"FAIL: amqp_decode exited {out.returncode}: {out.stderr}")
    conns, cur, frame, broker = {}, None, None, None
    for line in out.stdout.splitlines():
        m = TITLE.match(line)
        if m:
            cur = conns.setdefault(int(m.group(1)), {"sent": [], "received": []})
            broker = int(m.group(2))
            continue
        m = HEAD.match(line)
        if m:
            what = m.group(3)
            mm = re.search(r"method \S+ \((\d+)\.(\d+)\)", what)
            ftype = "1" if mm else "2" if what.startswith("content header") else "3" if what.startswith("body") \
                else "8" if what.startswith("heartbeat") else "?"
            frame = (ftype, m.group(2), f"{mm.group(1)}.{mm.group(2)}" if mm else None, {})
            cur["sent" if m.group(1) == ">>" else "received"].append(frame)
            continue
        m = FIELD.match(line)
        if m and frame is not None:
            frame[3][m.group(1)] = m.group(2)
        elif not line.startswith("      "):
            frame = None if not line.startswith("    ") else frame
    return conns, broker


def theirs(capture, broker):
    out = subprocess.run(["tshark", "-r", str(capture), "-d", f"tcp.port=={broker},amqp", "-Y", "amqp", "-T", "json",
                          "--no-duplicate-keys", "-J", "tcp amqp"], capture_output=True, timeout=120, check=True)
    conns = {}
    for packet in json.loads(out.stdout or b"[]"):
        layers = packet["_source"]["layers"]
        tcp = layers["tcp"]
        to_broker = int(tcp["tcp.dstport"]) == broker
        client = int(tcp["tcp.srcport"] if to_broker else tcp["tcp.dstport"])
        side = conns.setdefault(client, {"sent": [], "received": []})["sent" if to_broker else "received"]
        pdus = layers["amqp"] if isinstance(layers["amqp"], list) else [layers["amqp"]]
        for pdu in pdus:
            if not isinstance(pdu, dict) or "amqp.type" not in pdu:
                continue  # the protocol header
            t = pdu["amqp.type"]
            method = f"{pdu['amqp.method.class']}.{pdu['amqp.method.method']}" if t == "1" else None
            fields = {}
            args = pdu.get("amqp.method.arguments")
            if isinstance(args, dict):
                for k, v in args.items():
                    fields[("arg", k.rsplit(".", 1)[-1])] = v
            if t == "2":
                fields[("arg", "body_size")] = pdu.get("amqp.header.body-size")
                props = pdu.get("amqp.header.properties")
                if isinstance(props, dict):
                    for k, v in props.items():
                        fields[("prop", k.rsplit(".", 1)[-1])] = v
            side.append((t, pdu["amqp.channel"], method, fields))
    return conns


def same_value(ws, mine):
    if mine is None:
        return False
    if mine.startswith("<masked "):  # our trace never shows the PLAIN response; Wireshark does
        return int(mine.split()[1]) == len(ws.split(":"))
    if mine in ("true", "false"):
        return ws == ("1" if mine == "true" else "0")
    value = mine
    m = re.match(r'^"(.*)"(?:  \(.*\))?$', mine)
    if m:
        value = m.group(1)
    value = value.split("  (")[0]
    if ":" in ws and re.fullmatch(r"([0-9a-f]{2}:)+[0-9a-f]{2}", ws):  # Wireshark shows long strings as bytes
        try:
            ws = bytes.fromhex(ws.replace(":", "")).decode()
        except UnicodeDecodeError:
            return False
    if ws == value:
        return True
    # a numeric field we annotate, e.g. "60 (basic)", or a sorted-names note
    return value.split(" ")[0] == ws or sorted(value.split()) == sorted(ws.split())


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    capture = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "captures" / "session.pcapng"
    if shutil.which("tshark") is None:
        print("SKIP: tshark not installed")
        return SKIP
    mine, broker = ours(tool, capture)
    ws = theirs(capture, broker)
    failures, compared = 0, 0
    if set(mine) != set(ws) or not ws:
        print(f"FAIL: connections differ: ours {sorted(mine)}, Wireshark's {sorted(ws)}")
        return 1
    for client in sorted(ws):
        for side in ("sent", "received"):
            a, b = mine[client][side], ws[client][side]
            if [f[:3] for f in a] != [f[:3] for f in b]:
                failures += 1
                print(f"FAIL connection from port {client}, {side}: frames differ\n  ours:      "
                      f"{[f[:3] for f in a]}\n  Wireshark: {[f[:3] for f in b]}")
                continue
            for (t, ch, method, my_fields), (_, _, _, ws_fields) in zip(a, b):
                for (kind, name), value in ws_fields.items():
                    if value is None or isinstance(value, dict) or name in wireshark_names.SYNTHETIC:
                        continue
                    if value == "" and name in ("arguments", "filter", "capabilities"):
                        continue  # an empty table: Wireshark shows nothing, we show "(table, 0 bytes)"
                    mine_name = wireshark_names.our_name(method or "", name) if kind == "arg" else \
                        wireshark_names.PROPERTY_RENAMED.get(name, name.replace("_", "-"))
                    if kind == "arg" and mine_name not in my_fields:
                        # Our names are RabbitMQ's extended XML's where it names a 0-9-1 reserved
                        # argument (exchange.declare's auto-delete, internal) or spells it its own
                        # way (confirm.select's nowait).
                        mine_name = next((n for n in (name.replace("_", "-"), name) if n in my_fields), mine_name)
                    compared += 1
                    if not same_value(value, my_fields.get(mine_name)):
                        failures += 1
                        print(f"FAIL port {client} {side} {method or t} on channel {ch}: Wireshark {name} = "
                              f"{value!r}, ours {mine_name} = {my_fields.get(mine_name)!r}")
            print(f"ok   connection from port {client}, {side}: {len(a)} frames, same as Wireshark's")
    print(f"{compared} field values compared")
    if compared < 50:
        print("FAIL: too few fields compared: the parsing of one side no longer matches its output")
        return 1
    print("PASS" if failures == 0 else f"{failures} difference(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
