// A server killed mid-load loses nothing: two rpc_server programs share a queue (prefetch 8), a
// pipelined client keeps hundreds of calls in flight, and one server is SIGKILLed once a quarter
// of the replies are in. Its unacked requests go back to the queue and the survivor answers
// them, so every call completes exactly once with the right value. A reply the dead server had
// already published before its ack was lost may come twice; the client drops the second
// (counted in unknown_replies), never hands it to another caller.
#include <test_support/child_process.hpp>
#include <test_support/rpc_fixture.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <future>
#include <list>
#include <thread>

namespace {

using namespace rpc_test;

// Run with an exclusive reply queue and with direct reply-to. With direct reply-to the survivor
// answers each redelivered request as a probe (rpc/reply_strikes.hpp: alone, then a basic.qos
// round trip): every probe comes back, so every call is answered all the same.
class server_crash_replies : public ::testing::TestWithParam<bool> {};

TEST_P(server_crash_replies, every_request_is_answered_once_after_sigkill_of_one_of_two_servers) {
    RPC_REQUIRE_BROKER();
    const bool direct = GetParam();
    const std::string queue = unique_queue(direct ? "crash-direct" : "crash");
    auto start_server = [&] {
        // --naive: each request takes a little CPU, so requests are in flight when the kill comes.
        auto p = std::make_unique<child_process>(std::vector<std::string>{
            RPC_SERVER_BIN, "--url", broker_url(), "--queue", queue, "--prefetch", "8", "--naive"});
        EXPECT_TRUE(p->wait_for_stdout(" [x] Awaiting RPC requests")) << p->err();
        return p;
    };
    auto victim = start_server();
    auto survivor = start_server();

    rpc::cli::io_thread io;
    auto client = make_client(io.executor(), queue, direct);

    constexpr std::size_t total = 600;
    struct call {
        std::uint64_t n;
        rpc::diagnostics diag;
        std::future<rpc::big_int> result;
    };
    std::list<call> calls;
    for (std::size_t i = 0; i < total; ++i) {
        call& c = calls.emplace_back(call{22 + i % 10, {}, {}});
        c.result = rpc::fibonacci_client(*client).async_call(c.n, 120s, c.diag, boost::asio::use_future);
    }

    // Bounded wait for a quarter of the replies, then the crash.
    for (int i = 0; i < 12000 && client->stats().replies < total / 4; ++i) std::this_thread::sleep_for(5ms);
    const std::uint64_t answered_before_kill = client->stats().replies;
    victim->signal(SIGKILL);
    const auto killed = victim->wait(30s);
    EXPECT_EQ(killed.signal, SIGKILL);

    std::size_t answered = 0, wrong = 0, lost = 0;
    for (call& c : calls) {
        try {
            const rpc::big_int v = c.result.get();  // each call has its own 120 s timeout
            if (v == rpc::fibonacci(c.n))
                ++answered;
            else
                ++wrong;
        } catch (const std::exception&) {
            ++lost;
            ADD_FAILURE() << "fib(" << c.n << ") " << c.diag.correlation_id << ": " << c.diag.message;
        }
    }
    const rpc::client_stats s = client->stats();
    std::printf("server_crash (%s): sent %zu, answered %zu, wrong %zu, lost %zu; %llu answered before the kill; "
                "%llu duplicate replies dropped\n",
                direct ? "direct reply-to" : "reply queue", total, answered, wrong, lost,
                static_cast<unsigned long long>(answered_before_kill),
                static_cast<unsigned long long>(s.unknown_replies + s.late_replies));
    EXPECT_LT(answered_before_kill, total) << "the load ended before the kill: nothing was proven";
    EXPECT_EQ(answered, total);
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(s.replies, total);
    EXPECT_EQ(s.timeouts, 0u);
    EXPECT_EQ(client->pending_calls(), 0u);
    client->close();

    survivor->signal(SIGTERM);
    const auto e = survivor->wait(60s);
    EXPECT_TRUE(e.exited && e.status == 0) << survivor->err();
}

INSTANTIATE_TEST_SUITE_P(server_crash, server_crash_replies, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                             return i.param ? "direct_reply_to" : "reply_queue";
                         });

// One request in the middle of its computation when its server is killed: a server started
// afterwards gets it again and answers it.
TEST(server_crash, ServerKilledMidRequestIsReplacedAndTheRequestAnswered) {
    RPC_REQUIRE_BROKER();
    const auto q = unique_queue("prog-kill");
    constexpr std::uint64_t n = 45;  // naive, the largest allowed: long enough (seconds) to be killed in the middle
    const std::vector<std::string> server_argv{RPC_SERVER_BIN, "--url", broker_url(), "--queue", q, "--naive"};
    auto first = std::make_unique<child_process>(server_argv);
    ASSERT_TRUE(first->wait_for_stdout(" [x] Awaiting RPC requests\n"));
    rpc::cli::io_thread io;
    auto client = make_client(io.executor(), q);
    auto result = rpc::fibonacci_client(*client).async_call(n, 300s, boost::asio::use_future);
    ASSERT_TRUE(first->wait_for_stdout(" [.] fib(45)\n"));
    first->signal(SIGKILL);
    const auto e = first->wait(30s);
    EXPECT_EQ(e.signal, SIGKILL);

    child_process second(server_argv);
    ASSERT_TRUE(second.wait_for_stdout(" [x] Awaiting RPC requests\n"));
    ASSERT_EQ(result.wait_for(300s), std::future_status::ready);
    EXPECT_EQ(result.get(), rpc::fibonacci(n));
    EXPECT_TRUE(second.wait_for_stdout(" [.] fib(45)\n", 1s))
        << "second server's output:\n" << second.out() << "\nfirst server's output:\n" << first->out()
        << "\nfirst server's stderr:\n" << first->err();
}

}  // namespace
