#!/usr/bin/python3
"""Make the checked-in capture tests/docs/captures/session.pcapng: tshark on `lo` while a traced
rpc_server + `rpc_client N` session runs against a broker (the same session as the walkthrough's).
Needs root (or capture rights) and a broker; the tests only read the file it writes, so CI never
captures live.

    make_capture.py --build BUILD [--url amqp://guest:guest@127.0.0.1:PORT/] [--n 10] [--out FILE]
    make_capture.py --build BUILD --scenario beyond --out tests/docs/captures/beyond.pcapng

The broker runs on whatever port the URL names; the tests find it in the capture (the side that
answered the protocol header)."""
import argparse
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import gen_walkthrough  # noqa: E402  (run_session, wait_for_line, broker_url)


def run(build, name, *args, url, query="", timeout=60, **kw):
    """One of our programs against the broker, traced; returns its exit status."""
    parsed = urllib.parse.urlparse(url)
    target = parsed._replace(query=query).geturl() if query else url
    cmd = [gen_walkthrough.find_program(build, name), "--url", target, *args]
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, **kw).returncode


def beyond_scenes(build, url, work):
    """The scenes of docs/beyond.md, one connection (or two) each, in this order."""
    bad = urllib.parse.urlparse(url)
    bad_url = bad._replace(netloc=f"guest:wrong-password@{bad.hostname}:{bad.port}").geturl()
    # 1. A refused login: 403 ACCESS_REFUSED in connection.close.
    run(build, "rpc_client", "5", url=bad_url)
    # 2. A request no server has declared the queue for: basic.return 312 NO_ROUTE.
    run(build, "rpc_client", "--queue", "nobody_home", "5", url=url)
    # 3. A queue that exists with other settings: the broker closes the channel with 406. The
    #    durable queue is made (and removed) by pika, a second client on the wire.
    import pika  # Debian's python3-pika
    params = pika.URLParameters(url)
    with pika.BlockingConnection(params) as c:
        c.channel().queue_declare("durable_q", durable=True)
    run(build, "rpc_server", "--queue", "durable_q", url=url, timeout=30)
    with pika.BlockingConnection(params) as c:
        c.channel().queue_delete("durable_q")
    # 4. Routing through a topic exchange: declare, bind, a routed publish, unbind, the same publish
    #    returned (312), delete.
    run(build, "topic_demo", url=url)
    # 5. A passive declare of an exchange that does not exist: channel.close 404 NOT_FOUND.
    run(build, "topic_demo", "--exchange", "no_such_exchange", "--passive", url=url)
    # 6. A publisher confirm, by pika: confirm.select, then a publish the broker acks.
    with pika.BlockingConnection(params) as c:
        ch = c.channel()
        ch.confirm_delivery()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_publish("", q, b"confirmed")  # blocks until basic.ack (raises on nack)
    # 7. Heartbeats every second on an idle server, and a 20 kB reply split into body frames
    #    by a client that negotiated frame_max 4096.
    server = subprocess.Popen([gen_walkthrough.find_program(build, "rpc_server"), "--url",
                               urllib.parse.urlparse(url)._replace(query="heartbeat=1").geturl()],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if not gen_walkthrough.wait_for_line(server.stdout, gen_walkthrough.READY_LINE, 30):
            raise RuntimeError("rpc_server did not start")
        time.sleep(2.6)  # idle: heartbeats both ways
        run(build, "rpc_client", "100000", url=url, query="frame_max=4096")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--url")
    ap.add_argument("--n", default="10", help="the Fibonacci number the client asks for")
    ap.add_argument("--out", default=str(REPO / "tests" / "docs" / "captures" / "session.pcapng"))
    ap.add_argument("--scenario", choices=["session", "beyond"], default="session",
                    help="session: rpc_server + rpc_client N; beyond: the scenes of docs/beyond.md")
    args = ap.parse_args()
    url = gen_walkthrough.broker_url(args.url)
    port = urllib.parse.urlparse(url).port or 5672
    work = pathlib.Path(tempfile.mkdtemp(prefix="make-capture-"))
    pcap = work / "session.pcapng"
    cap = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not gen_walkthrough.wait_for_line(cap.stderr, "Capture started", 30):
            sys.exit("tshark could not start capturing on lo")
        if args.scenario == "session":
            gen_walkthrough.run_session(args.build, url, work, n=args.n)
        else:
            beyond_scenes(args.build, url, work)
        time.sleep(1.0)  # let the last segments reach the capture
    finally:
        if cap.poll() is None:
            cap.send_signal(signal.SIGINT)
            cap.wait(timeout=30)
    pathlib.Path(args.out).write_bytes(pcap.read_bytes())
    print(f"wrote {args.out} ({pcap.stat().st_size} bytes); broker port {port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
