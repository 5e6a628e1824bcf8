// One slow request must not stall an rpc_server with a worker pool (issue 17): requests that
// finish behind it are acked at once, so the prefetch window keeps moving and the broker keeps
// delivering. Before the fix they waited for the slow one's ack: with prefetch 8 the window filled
// after 7 fast requests and nothing more was delivered until the slow one finished.
#include <test_support/server_test_support.hpp>

#include <set>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcServerSlowRequest : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_P(RpcServerSlowRequest, EveryFastRequestIsAnsweredWhileTheSlowOneRuns) {
    const bool batch_acks = GetParam();
    constexpr int fast = 50;
    const auto q = unique_queue("slow");
    raw_peer peer(io.executor());
    peer.declare(q);
    const std::string replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    // Queued before the server starts, the slow one first: it is the oldest delivery of the window,
    // the one a multiple=true ack cannot pass.
    peer.publish(q, "slow", replies, "slow");
    for (int i = 0; i < fast; ++i) peer.publish(q, "fast", replies, "fast-" + std::to_string(i));

    blocking_handler slow;
    const rpc::request_handler block = slow.handler();
    rpc::server_options opts = fib_server::options(q, 8);
    opts.workers = 4;
    opts.batch_acks = batch_acks;
    rpc::rpc_server server(io.executor(), broker_options(), opts, [&block](const rpc::request& r) {
        return r.body == "slow" ? block(r) : rpc::make_value_reply(2, rpc::reply_format::plain);
    });
    server.start();
    ASSERT_TRUE(slow.wait_started());

    // Every fast reply while the slow handler still blocks (the deadline only bounds a failure).
    std::set<std::string> answered;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (answered.size() < fast && std::chrono::steady_clock::now() < deadline) {
        if (auto m = box.pop(1s)) answered.insert(m->correlation_id.value_or("?"));
    }
    const std::size_t fast_answered = answered.size();
    const bool slow_answered_early = answered.count("slow") > 0;
    slow.release();
    EXPECT_EQ(fast_answered, std::size_t(fast)) << "fast requests answered while the slow one ran";
    EXPECT_FALSE(slow_answered_early);

    // Then the slow one completes, and every request is acked.
    while (answered.size() < fast + 1) {
        auto m = box.pop(30s);
        if (!m) break;
        answered.insert(m->correlation_id.value_or("?"));
    }
    EXPECT_EQ(answered.size(), std::size_t(fast + 1));
    EXPECT_EQ(answered.count("slow"), 1u);
    EXPECT_TRUE(server.stop());
    EXPECT_EQ(server.in_flight(), 0u);
    const rpc::server_stats st = server.stats();
    EXPECT_EQ(st.replies, std::uint64_t(fast + 1));
    EXPECT_GE(st.acks, 1u);
    EXPECT_LE(st.acks, std::uint64_t(fast + 1));
    std::printf("batch_acks %d: %llu requests, %llu ack frames\n", int(batch_acks),
                static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.acks));
}

INSTANTIATE_TEST_SUITE_P(AckModes, RpcServerSlowRequest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "batch_acks" : "ack_each"; });

}  // namespace
