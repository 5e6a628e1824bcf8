#!/usr/bin/python3
"""Independent check of what we put on the wire: capture a traced rpc_server + `rpc_client 30`
session with tshark, then let Wireshark's AMQP dissector judge it:

  1. no frame of the capture is malformed (no `_ws.malformed`, no AMQP expert error);
  2. per TCP connection and direction, the frames Wireshark sees (method class.id, content header,
     body) are exactly, and in the same order, the frames our trace printed for that connection.

    tshark_check.py --build BUILD [--url URL] [--workdir DIR]

Exit status 0 pass, 1 fail, 77 skipped (no tshark, or capturing on `lo` is not permitted)."""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import gen_walkthrough  # noqa: E402  (run_session, split_blocks)

SKIP = 77


def trace_frames(trace):
    """Our trace → (sent, received) lists of frame ids: '1:10.10' for a method, '2', '3', '8'."""
    sent, received = [], []
    for block in gen_walkthrough.split_blocks(trace):
        head = block[0]
        if "protocol header" in head:
            continue  # Wireshark shows it as a protocol-header PDU, not a frame
        m = re.search(r"method \S+ \((\d+)\.(\d+)\)", head)
        if m:
            fid = f"1:{m.group(1)}.{m.group(2)}"
        elif "content header" in head:
            fid = "2"
        elif "  body" in head:
            fid = "3"
        elif "heartbeat" in head:
            fid = "8"
        else:
            fid = "?"
        (sent if head.startswith(">>") else received).append(fid)
    return sent, received


def capture_frames(pcap, port):
    """Wireshark's view: {tcp stream: (client→broker frames, broker→client frames)}."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},amqp", "-Y", "amqp",
                          "-T", "json", "--no-duplicate-keys", "-J", "tcp amqp"],
                         capture_output=True, timeout=120, check=True)
    streams = {}
    for packet in json.loads(out.stdout or b"[]"):
        layers = packet["_source"]["layers"]
        tcp = layers["tcp"][0] if isinstance(layers["tcp"], list) else layers["tcp"]
        amqp = layers.get("amqp")
        pdus = amqp if isinstance(amqp, list) else [amqp]
        sent, received = streams.setdefault(tcp["tcp.stream"], ([], []))
        to_broker = int(tcp["tcp.dstport"]) == port
        for pdu in pdus:
            if not isinstance(pdu, dict) or "amqp.type" not in pdu:
                continue  # the protocol header
            t = pdu["amqp.type"]
            fid = f"1:{pdu['amqp.method.class']}.{pdu['amqp.method.method']}" if t == "1" else t
            (sent if to_broker else received).append(fid)
    return streams


def malformed(pcap, port):
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", f"tcp.port=={port},amqp", "-Y",
                          "_ws.malformed || (amqp && _ws.expert.severity >= 6291456)"],
                         capture_output=True, timeout=120, check=True)
    return out.stdout.decode().strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--url")
    ap.add_argument("--workdir")
    args = ap.parse_args()

    if shutil.which("tshark") is None:
        print("SKIP: tshark not installed")
        return SKIP
    url = gen_walkthrough.broker_url(args.url)
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "amqp" or parsed.hostname not in ("127.0.0.1", "localhost"):
        print(f"SKIP: capture needs a plain amqp:// broker on the loopback, not {parsed.scheme}://{parsed.hostname}")
        return SKIP
    port = parsed.port or 5672
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="tshark-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = workdir / "session.pcapng"

    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # tshark says "Capturing on" before its capture child runs; "Capture started" comes once
        # the child has opened the interface and the file.
        if not gen_walkthrough.wait_for_line(cap.stderr, "Capture started", 30):
            cap.kill()
            cap.wait()
            print("SKIP: tshark could not start capturing on lo (permissions?)")
            return SKIP
        server_trace, client_trace, client_out = gen_walkthrough.run_session(args.build, url, workdir)
        time.sleep(1.0)  # let the last segments reach the capture
    finally:
        if cap.poll() is None:
            cap.send_signal(signal.SIGINT)
            try:
                cap.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cap.kill()
                cap.wait()

    print(f"client said: {client_out.strip()}")
    ours = {"rpc_server": trace_frames(server_trace), "rpc_client": trace_frames(client_trace)}
    theirs = capture_frames(pcap, port)
    failures = 0

    bad = malformed(pcap, port)
    if bad:
        print("FAIL: Wireshark reports malformed AMQP / errors:\n" + bad)
        failures += 1
    else:
        print("ok   Wireshark finds no malformed frame and no AMQP expert error")

    total = sum(len(s) + len(r) for s, r in theirs.values())
    if total < 20:
        print(f"FAIL: the capture holds only {total} AMQP frames; expected a whole session")
        failures += 1
    for name, (sent, received) in ours.items():
        match = [sid for sid, pair in theirs.items() if pair == (sent, received)]
        if match:
            print(f"ok   {name}: tcp stream {match[0]}: {len(sent)} frames sent, {len(received)} received, "
                  "same sequence as our trace")
        else:
            failures += 1
            print(f"FAIL: no captured connection carries {name}'s traced frames")
            print(f"  our trace, sent:     {' '.join(sent)}")
            print(f"  our trace, received: {' '.join(received)}")
            for sid, (s, r) in theirs.items():
                print(f"  tcp stream {sid}, to broker:   {' '.join(s)}")
                print(f"  tcp stream {sid}, from broker: {' '.join(r)}")
    if len(theirs) != len(ours):
        print(f"note: {len(theirs)} AMQP connections captured (other tests may share the broker)")
    print("PASS" if failures == 0 else f"{failures} check(s) failed (capture kept in {pcap})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
