#!/usr/bin/python3
"""amqp_decode's TCP reassembly on captures built here byte by byte (classic pcap, Ethernet, IPv4,
TCP): a client stream (the handshake from golden/client_handshake.hex) and a broker stream
(golden/server_handshake.hex), cut into segments that arrive out of order, retransmitted, and
overlapping. The frames decoded from the capture must be exactly those decoded from the two
streams' bytes given whole; a capture that lost a segment must say how many bytes are missing.

    reassembly_test.py AMQP_DECODE"""
import pathlib
import re
import struct
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
CLIENT, BROKER = ("127.0.0.1", 40000), ("127.0.0.1", 5672)  # written into packets only: no traffic


def hex_file(name):
    text = (HERE / "golden" / name).read_text()
    return bytes.fromhex(re.sub(r"0x|[\s,:]", "", text))


def checksum_free_packet(src, dst, seq, payload, flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0,
                     bytes(map(int, src[0].split("."))), bytes(map(int, dst[0].split("."))))
    eth = b"\x00" * 12 + b"\x08\x00"
    return eth + ip + tcp + payload


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
        for i, data in enumerate(packets):
            f.write(struct.pack("<IIII", 1000, i * 1000, len(data), len(data)) + data)


def segments(data, isn, cuts):
    """(seq, bytes) pieces of `data` at the given cut offsets."""
    edges = [0, *cuts, len(data)]
    return [(isn + 1 + a, data[a:b]) for a, b in zip(edges, edges[1:])]


def frames(output):
    """The decoded frames, without timestamps, titles and comment lines, in order per direction."""
    blocks, cur = {">>": [], "<<": [], "--": []}, None
    for line in output.splitlines():
        line = re.sub(r"^\[\s*[\d.]+\] ", "", line)
        if line.startswith(("#", "==")):
            continue
        m = re.match(r"^(>>|<<|--) ", line)
        if m:
            cur = [line[3:].strip()]
            blocks[m.group(1)].append(cur)
        elif cur is not None and line:
            cur.append(line)
    return blocks


def run(tool, path, *args):
    p = subprocess.run([tool, *args, str(path)], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def main():
    tool = sys.argv[1]
    c, b = hex_file("client_handshake.hex"), hex_file("server_handshake.hex")
    cs = segments(c, 1000, [5, 20, 60, 200])  # the protocol header itself is cut after 5 bytes
    bs = segments(b, 5000, [100, 300])
    syn = checksum_free_packet(CLIENT, BROKER, 1000, b"", flags=0x02)
    synack = checksum_free_packet(BROKER, CLIENT, 5000, b"", flags=0x12)
    pkt = lambda side, s: checksum_free_packet(*((CLIENT, BROKER) if side == "c" else (BROKER, CLIENT)), *s)
    overlap = (cs[1][0] - 3, c[2:20] + c[20:30])  # 3 bytes already seen, then 10 of the next segment
    good = [syn, synack, pkt("c", cs[0]), pkt("c", cs[2]), pkt("c", overlap), pkt("c", cs[1]), pkt("b", bs[0]),
            pkt("c", cs[1]), pkt("b", bs[2]), pkt("b", bs[1]), pkt("c", cs[4]), pkt("c", cs[3]), pkt("b", bs[0])]
    lost = [syn, synack, pkt("c", cs[0]), pkt("c", cs[1]), pkt("c", cs[3]), pkt("b", bs[0]), pkt("b", bs[1]),
            pkt("b", bs[2])]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        (d / "client.bin").write_bytes(c)
        (d / "broker.bin").write_bytes(b)
        write_pcap(d / "good.pcap", good)
        write_pcap(d / "lost.pcap", lost)
        rc, out, err = run(tool, d / "good.pcap", "--no-hex")
        got = frames(out)
        want_c = frames(run(tool, d / "client.bin", "--sent", "--no-hex")[1])[">>"]
        want_b = frames(run(tool, d / "broker.bin", "--received", "--no-hex")[1])["<<"]
        if rc != 0 or got[">>"] != want_c or got["<<"] != want_b or len(want_c) < 4 or len(want_b) < 3:
            failures += 1
            print(f"FAIL out-of-order, retransmitted and overlapping segments (exit {rc}):\n{out}\n{err}")
        else:
            print(f"ok   reordered/retransmitted/overlapping segments: {len(want_c)} client and {len(want_b)} broker "
                  "frames, as from the whole streams")
        rc, out, err = run(tool, d / "lost.pcap", "--no-hex")
        missing = cs[2][1]
        if rc != 1 or f"missing {len(missing)} byte(s)" not in out + err:
            failures += 1
            print(f"FAIL a lost segment ({len(missing)} bytes) is not reported (exit {rc}):\n{out}\n{err}")
        else:
            print(f"ok   a lost segment: 'missing {len(missing)} byte(s)' reported, exit 1")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
