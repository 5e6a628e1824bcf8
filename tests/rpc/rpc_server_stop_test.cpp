// rpc_server::stop() against a real RabbitMQ when the drain times out (issue 15, defect 2): it
// used to log while holding the lock log() takes, so a drain that ran out of time hung the
// server for good, holding its connection and so its unacked requests. Every wait here has its
// own deadline: a stop() that hangs fails the test instead of running into ctest's timeout.
#include <test_support/server_test_support.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcServerStop : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_F(RpcServerStop, ADrainThatTimesOutReturnsAndReleasesTheUnfinishedRequest) {
    const auto q = unique_queue("drain-timeout");
    blocking_handler slow;  // released by the test once stop() has given up on its request
    rpc::server_options opts = fib_server::options(q, 1);
    opts.drain_timeout = 200ms;
    log_lines logged;  // outlives the server: a handler cut short logs as the destructor waits for it
    rpc::rpc_server server(io.executor(), broker_options(), opts, slow.handler());
    // A log handler may ask the server about itself: it is never called under the server's lock.
    server.on_log([&](std::string_view text) {
        logged.push(text);
        (void)server.in_flight();
    });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    peer.publish(q, "7", replies, std::string("c-slow"));
    ASSERT_TRUE(slow.wait_started());

    std::promise<void> stopped;
    std::thread stopping([&] {
        server.stop();
        stopped.set_value();
    });
    if (stopped.get_future().wait_for(60s) != std::future_status::ready) {
        // The thread cannot be joined nor the server destroyed: report and leave at once.
        std::fprintf(stderr, "FAILED: rpc_server::stop() did not return 60 s after a 200 ms drain timeout\n");
        std::fflush(nullptr);
        std::_Exit(1);
    }
    stopping.join();
    bool said_why = false;
    for (const auto& line : logged.all()) said_why |= line.find("1 request(s) unfinished") != std::string::npos;
    EXPECT_TRUE(said_why);
    // Released, not acked: back in the queue for another server.
    EXPECT_EQ(wait_until_ready(peer, q, 1), 1u);
    slow.release();  // the handler finishes; its reply fails quietly (channel closed)
}

}  // namespace
