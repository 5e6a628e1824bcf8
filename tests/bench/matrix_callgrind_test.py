#!/usr/bin/python3
"""Unit test of bench/matrix_callgrind.py (issue 19): the component split of a callgrind file.

A hand-made file in callgrind's format exercises what the parser must get right: compressed names
defined on a cfn= line and used later by fn=, relative and repeated positions, the inclusive cost
line after calls= (not the caller's own cost), and the object a function lies in. The components
of names that callgrind writes for our programs, Asio and libc are checked one by one.
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import matrix_callgrind as cg  # noqa: E402

FILE = """# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1460

ob=(1) /build/bench/rpc_bench
fl=(1) ???
fn=(1) main
0 10
cob=(2) /usr/lib/x86_64-linux-gnu/libc.so.6
cfi=(2) ???
cfn=(2) malloc
calls=2 0
0 500
+2 5
* 5
cfn=(3) rpc::rpc_client::async_request(std::basic_string_view<char, std::char_traits<char> >)
calls=1 0
0 900

ob=(2)
fl=(2)
fn=(2)
0 300
-1 200

ob=(1)
fl=(1)
fn=(3)
0 100
cob=(3) /usr/lib/x86_64-linux-gnu/libboost_dummy.so
cfn=(4) void boost::asio::detail::executor_op<boost::asio::detail::binder0<rpc::x>, std::allocator<void>, boost::asio::detail::scheduler_operation>::do_complete(void*, boost::asio::detail::scheduler_operation*, boost::system::error_code const&, unsigned long)
calls=1 0
0 800
fn=(4)
0 800
totals: 1420
"""


class ParseTest(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp(suffix=".out")
        with os.fdopen(fd, "w") as f:
            f.write(FILE)

    def tearDown(self):
        os.remove(self.path)

    def test_own_costs_leave_out_inclusive_call_lines(self):
        costs = cg.parse(self.path)
        by_fn = {fn.split("(")[0]: ir for (fn, _), ir in costs.items()}
        self.assertEqual(by_fn["main"], 20)  # 10 + 5 + 5; the 500 and 900 after calls= are the callees'
        self.assertEqual(by_fn["malloc"], 500)
        self.assertEqual(by_fn["rpc::rpc_client::async_request"], 100)
        self.assertEqual(sum(costs.values()), 1420)  # the file's total: every instruction counted once

    def test_compressed_names_and_objects(self):
        objs = {fn.split("(")[0]: ob for (fn, ob) in cg.parse(self.path)}
        self.assertEqual(objs["malloc"], "/usr/lib/x86_64-linux-gnu/libc.so.6")  # ob=(2) defined on cob=
        self.assertEqual(objs["main"], "/build/bench/rpc_bench")

    def test_components(self):
        self.assertEqual(cg.components(self.path), {cg.PROGRAM: 20, cg.MALLOC: 500, cg.OURS: 100, cg.ASIO: 800})

    def test_per_rpc_is_the_difference_of_two_runs(self):
        fd, bigger = tempfile.mkstemp(suffix=".out")
        with os.fdopen(fd, "w") as f:
            f.write(FILE.replace("0 300\n", "0 1300\n"))  # 1000 more in malloc
        try:
            self.assertEqual(cg.per_rpc(self.path, bigger, 100, 600), {cg.PROGRAM: 0, cg.MALLOC: 2.0, cg.OURS: 0,
                                                                     cg.ASIO: 0})
        finally:
            os.remove(bigger)


class ComponentTest(unittest.TestCase):
    LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    BIN = "/w/build/release/examples/rpc_server"

    def check(self, name, obj, want):
        self.assertEqual(cg.component(name, obj), want, name)

    def test_names(self):
        self.check("boost::asio::detail::scheduler::do_run_one(boost::asio::detail::conditionally_enabled_mutex"
                   "::scoped_lock&, boost::asio::detail::scheduler_thread_info&, boost::system::error_code const&)",
                   self.BIN, cg.ASIO)
        self.check("amqp::connection_impl::on_read(boost::system::error_code, unsigned long)::{lambda()#1}::"
                   "operator()() const", self.BIN, cg.OURS)
        self.check("rpc::(anonymous namespace)::encode(rpc::reply const&)", self.BIN, cg.OURS)
        self.check("(anonymous namespace)::driver::launch(unsigned long, unsigned long)", self.BIN, cg.PROGRAM)
        self.check("main", self.BIN, cg.PROGRAM)
        self.check("operator new(unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", cg.MALLOC)
        self.check("operator delete(void*, unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
                   cg.MALLOC)
        self.check("_int_free", self.LIBC, cg.MALLOC)
        self.check("__memcpy_avx_unaligned_erms", self.LIBC, cg.MEM)
        self.check("__strlen_avx2", self.LIBC, cg.MEM)
        self.check("epoll_wait", self.LIBC, cg.LIBC)
        self.check("pthread_mutex_lock@@GLIBC_2.2.5", self.LIBC, cg.LIBC)
        self.check("void std::vector<char, std::allocator<char> >::_M_realloc_insert<char const&>"
                   "(__gnu_cxx::__normal_iterator<char*, std::vector<char, std::allocator<char> > >, char const&)",
                   self.BIN, cg.STD)
        self.check("boost::multiprecision::backends::eval_multiply(boost::multiprecision::backends::"
                   "cpp_int_backend<0ul, 0ul, (boost::multiprecision::cpp_integer_type)1>&)", self.BIN,
                   cg.MULTIPRECISION)
        self.check("amqp_simple_wait_frame_noblock", "/usr/lib/x86_64-linux-gnu/librabbitmq.so.0.11.0",
                   cg.RABBITMQ_C)
        # gcc's clones and names the demangler left mangled (as callgrind writes them for long ones).
        self.check("boost::asio::detail::scheduler::run(boost::system::error_code&) [clone .isra.0]", self.BIN, cg.ASIO)
        self.check("rpc::client_action& std::vector<rpc::client_action, std::allocator<rpc::client_action> >::"
                   "emplace_back<rpc::client_action>(rpc::client_action&&) [clone .isra.0]", self.BIN, cg.STD)
        self.check("rpc::detail::client_impl::run_actions() [clone .part.0]", self.BIN, cg.OURS)
        self.check("_ZN4amqp14append_messageERSt6vectorIhNS_22default_init_allocatorIhEEEtRKSt7variantIJNS_16conn",
                   self.BIN, cg.OURS)
        self.check("_ZN5boost4asio6detail9scheduler3runERNS_6system10error_codeE", self.BIN, cg.ASIO)
        self.check("_ZNSt6vectorIcSaIcEE17_M_realloc_insertIJRKcEEEvN9__gnu_cxx17__normal_iteratorIPcS1_EEDpOT_",
                   self.BIN, cg.STD)
        self.check("_dl_runtime_resolve_xsavec", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", cg.RUNTIME)


if __name__ == "__main__":
    unittest.main()
