#!/usr/bin/python3
"""RabbitMQ 4.3's refusal of the tutorial's transient request queue, against rpc_server (issue 16).

Debian's RabbitMQ (3.10) still accepts transient non-exclusive queues, so the refusal comes from
fake_broker.py's refuse_transient_queue scenario: connection.close 541 naming the deprecated
feature transient_nonexcl_queues, as RabbitMQ 4.3 sends it. Checks:
  - rpc_server with the default queue type exits 1, its error shows what the broker said AND names
    the fix (--queue-type classic|quorum), and it answers the broker's close with close-ok;
  - rpc_server --queue-type classic (and quorum) passes the same broker's rule: it serves, and a
    SIGTERM stops it cleanly (exit 0, connection.close 200).
Usage: transient_refusal_test.py RPC_SERVER_BINARY
"""
import os
import select
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_fault_matrix import run_client, start_broker  # noqa: E402

SERVER = None
TIMEOUT = 15


def url(port):
    return f"amqp://guest:guest@127.0.0.1:{port}/"


def verdict(broker):
    """The fake broker's CLIENT_* line for the connection (it exits after one)."""
    out, err = broker.communicate(timeout=TIMEOUT + 10)
    lines = [x for x in out.decode().splitlines() if x.startswith("CLIENT_") and "SENT=" not in x]
    return (lines[-1] if lines else "-"), err.decode(errors="replace")


class TransientRefusal(unittest.TestCase):
    def test_the_default_queue_is_refused_and_the_error_names_the_option(self):
        broker, port = start_broker("refuse_transient_queue", TIMEOUT)
        try:
            rc, _, _, _, err = run_client([SERVER, "--url", url(port), "--queue", "jobs"], TIMEOUT)
        finally:
            close, log = verdict(broker)
        self.assertEqual(rc, 1, err)
        self.assertIn("541", err)                                # what the broker said
        self.assertIn("transient_nonexcl_queues", err)
        self.assertIn("--queue-type classic|quorum", err)        # and the fix
        self.assertIn('"jobs"', err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)  # one line: the broker's newlines escaped
        self.assertEqual(close, "CLIENT_CLOSE_OK", log)

    def test_a_durable_queue_passes_and_the_server_stops_cleanly(self):
        for queue_type in ("classic", "quorum"):
            with self.subTest(queue_type):
                broker, port = start_broker("refuse_transient_queue", TIMEOUT)
                server = subprocess.Popen([SERVER, "--url", url(port), "--queue-type", queue_type],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    ready, _, _ = select.select([server.stdout], [], [], TIMEOUT)
                    line = server.stdout.readline().decode() if ready else ""
                    self.assertIn("Awaiting RPC requests", line)
                    server.send_signal(signal.SIGTERM)
                    _, err = server.communicate(timeout=TIMEOUT)
                    self.assertEqual(server.returncode, 0, err.decode(errors="replace"))
                finally:
                    if server.poll() is None:
                        server.kill()
                        server.communicate()
                    close, log = verdict(broker)
                self.assertEqual(close, "CLIENT_CLOSE=200", log)


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main()
