#!/usr/bin/python3
"""A broker that never answers the server's queue.declare (fake_broker.py's silent_declare), against
rpc_server: its start must end within its connection_timeout, not wait for ever (as it did before:
until the broker went away). Checks that rpc_server exits 1 in time, naming the step and the limit,
and with --reconnect too (a start that fails is not retried: its caller hears of it).
Usage: silent_broker_test.py RPC_SERVER_BINARY
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_fault_matrix import run_client, start_broker  # noqa: E402

SERVER = None
TIMEOUT = 15
LIMIT_MS = 2000


class SilentBroker(unittest.TestCase):
    def test_the_server_gives_up_on_an_unanswered_queue_declare(self):
        for extra in ([], ["--reconnect"]):
            with self.subTest(extra=extra):
                broker, port = start_broker("silent_declare", TIMEOUT)
                try:
                    url = f"amqp://guest:guest@127.0.0.1:{port}/?connection_timeout={LIMIT_MS}"
                    rc, elapsed, _, _, err = run_client([SERVER, "--url", url, "--queue", "jobs", *extra], TIMEOUT)
                finally:
                    broker.kill()
                    broker.communicate()
                self.assertEqual(rc, 1, err)
                self.assertIn(f"did not answer queue.declare within {LIMIT_MS} ms", err)
                self.assertLess(elapsed, LIMIT_MS / 1000 + 5, err)


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main()
