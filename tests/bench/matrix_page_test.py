#!/usr/bin/python3
"""Unit test of the benchmark page's generated parts (bench/matrix_report.py, matrix_bounds.py,
matrix_size.py; issue 19): from a small made-up run, the page must print each target not met with
what bounds it, measured: the sequential cells' client / server / broker CPU, the instructions by
component, the size runs' CPU per MB and the fib(n) row. No broker, no programs run.
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import matrix_callgrind as cg  # noqa: E402
import matrix_report  # noqa: E402


def cell(client, server, mode, reply, p50, rate, ccpu, scpu, bcpu):
    return {"client": client, "server": server, "mode": mode, "reply": reply, "rep": 0, "p50_us": p50,
            "p99_us": p50 * 2, "p999_us": p50 * 3, "rpc/s": rate, "cpu_us_per_call": ccpu,
            "server_cpu_us_per_call": scpu, "broker_cpu_us_per_call": bcpu, "client_writes_per_rpc": 1.0,
            "client_reads_per_rpc": 2.0, "server_writes_per_rpc": 1.0, "server_reads_per_rpc": 2.0,
            "server_socket_writes_per_rpc": 1.0, "cmd": "rpc_bench --url URL", "inflight": 1}


def size_row(pair, size, rate, p50, cores, fib_n=None):
    return {"pair": pair, "size": size, "rep": 0, "rpc/s": rate, "mb_s": rate * size / 1e6, "p50_us": p50,
            "fib_n": fib_n, "client_cpu_ms_per_mb": 1.0, "server_cpu_ms_per_mb": 2.0, "broker_cpu_ms_per_mb": 3.0,
            "client_cores": cores, "server_cores": cores, "broker_cores": cores}


def results():
    matrix = []
    for reply in ["exclusive", "direct"]:
        matrix += [cell("ours", "ours", "seq", reply, 250.0, 1000, 30.0, 20.0, 150.0),
                   cell("rabbitmq-c", "rabbitmq-c", "seq", reply, 200.0, 1000, 25.0, 25.0, 140.0),
                   cell("ours", "ours", "pipe", reply, 2000.0, 20000, 4.0, 2.0, 40.0),
                   cell("rabbitmq-c", "rabbitmq-c", "pipe", reply, 3000.0, 15000, 8.0, 10.0, 45.0)]
    comps = {cg.ASIO: 7000.0, cg.OURS: 7000.0, cg.MALLOC: 4000.0, cg.STD: 2000.0}
    instr = [{"role": "client", "kind": "ours", "mode": "seq", "reply": "exclusive", "calls": [50, 250],
              "ir_per_rpc": 20000.0, "components": comps, "callgrind_files": ["/x/callgrind/a.out"]},
             {"role": "client", "kind": "rabbitmq-c", "mode": "seq", "reply": "exclusive", "calls": [50, 250],
              "ir_per_rpc": 10000.0, "components": {cg.RABBITMQ_C: 3000.0, cg.MEM: 4500.0, cg.MALLOC: 1200.0,
                                                    cg.LIBC: 1000.0, cg.PROGRAM: 300.0},
              "callgrind_files": ["/x/callgrind/b.out"]}]
    sizes = [size_row("ours", 65536, 3000, 2000.0, 0.2), size_row("rabbitmq-c", 65536, 3500, 1300.0, 0.2),
             size_row("ours", 1048576, 100, 80000.0, 0.25), size_row("rabbitmq-c", 1048576, 400, 20000.0, 0.3),
             size_row("ours", 2090, 6000, 1000.0, 0.3, fib_n=10000),
             size_row("rabbitmq-c", 2090, 3000, 2500.0, 0.3, fib_n=10000)]
    return {"date": "2026-12-07 09:00 UTC", "command": "bench/run_matrix.py --quick", "n": 20,
            "machine": {"nproc": 2, "cpu": "test", "kernel": "6", "rabbitmq": "3.10", "erlang": "25", "boost": "1.81",
                        "gcc": "12", "librabbitmq": "0.11", "pika": "1.2", "loadavg_start": "1 1 1"},
            "load_note": "test", "perf": True, "failures": [], "matrix": matrix, "inflight_sweep": [],
            "server_sweep": [], "instructions": instr, "sizes": sizes, "url": "amqp://x",
            "broker_wait_flags": "+sbwt none",
            "size_fib": {"n": 10000, "reply_bytes": 2090, "request_bytes": 5}}


class PageTest(unittest.TestCase):
    def assertIn(self, part, page):  # noqa: N802  (the page is long: say only what is missing)
        self.assertTrue(part in page, f"not on the page: {part}")

    def assertNotIn(self, part, page):  # noqa: N802
        self.assertTrue(part not in page, f"on the page: {part}")

    def page(self, res):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "benchmarks.md")
            matrix_report.write_markdown(path, res)
            with open(path) as f:
                return f.read()

    def test_each_target_not_met_has_its_measured_bound(self):
        page = self.page(results())
        self.assertIn("sequential p50, exclusive, our client + ours server / best peer pair (rabbitmq-c): 1.25× "
                      "(target ≤ 1.00×): NOT met", page)
        self.assertIn("| ours → ours | p50 = 250.0 µs, of which client CPU 30.0, server CPU 20.0, broker CPU 150.0 "
                      "per call | 50.0 | 3.0× |", page)
        self.assertIn("busy-wait flags in this run: +sbwt none", page)
        self.assertIn("Of our client's 20,000 instructions per seq RPC: 7,000 ", page)
        self.assertIn("7,000 Asio, ", page)
        self.assertIn("7,000 ours (amqp::, rpc::, fibonacci::), ", page)
        self.assertIn(", 4,000 malloc/free/new/delete, 2,000 libstdc++ / std::.", page)
        self.assertIn("Of rabbitmq-c's client's 10,000 instructions per seq RPC: 4,500 memcpy", page)
        self.assertIn("- 1024 KiB, our pair: 104.9 MB/s; cores used client 0.25, server 0.25, broker 0.25: no process "
                      "is near a full core", page)
        self.assertIn("| fib(10,000): 2,090 B reply | 6,000 | 12.5 |", page)
        self.assertIn("benchmarks-sizes.png", page)
        # Pipelined: met (20000 / 15000 = 1.33×), so its part is not printed.
        self.assertNotIn("### Pipelined rpc/s: whose CPU", page)

    def test_no_bounds_section_when_every_target_is_met(self):
        res = results()
        res["matrix"] = [r for r in res["matrix"] if r["client"] == "ours"]  # no peer: every target "not run"
        res["instructions"], res["sizes"] = [], []
        self.assertNotIn("## What bounds each target not met", self.page(res))

    def test_runs_without_the_new_counts_still_render(self):
        res = results()
        for r in res["matrix"]:
            del r["broker_cpu_us_per_call"]
        for r in res["instructions"]:
            del r["components"]
        del res["size_fib"], res["broker_wait_flags"]
        page = self.page(res)
        self.assertIn("| fib(10,000): 2,090 B reply |", page)
        self.assertIn("broker CPU – per call", page)
        self.assertIn("The broker's CPU was not counted in this run", page)
        self.assertIn("No component split in this run's counts", page)


if __name__ == "__main__":
    unittest.main()
