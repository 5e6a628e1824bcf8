// Node lists: the core's rotation over the nodes (fake clock), and the URL list's parsing.

#include "client_core_harness.hpp"

#include <rpc/broker_nodes.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace {

using namespace core_test;
using core_test::clock;  // not ::clock

rpc::client_core_options three_nodes() {
    rpc::client_core_options o;
    o.reconnect = true;
    o.reconnect_min = milliseconds(100);
    o.reconnect_max = milliseconds(300);
    o.node_count = 3;
    return o;
}

TEST(ClientNodes, ALostConnectionMovesToTheNextNodeAndHeldCallsWaitUntilEveryNodeFailed) {
    harness h(three_nodes());
    ASSERT_TRUE(h.core.connection_up(0, h.now, 0));
    h.drain();
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost (node a:1)");
    h.submit(1, milliseconds(10000));
    // At once, to the node after the lost one.
    ASSERT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{1}));
    // Each failure moves on after the backoff; the held call waits while a node is left untried.
    const auto t0 = h.now;
    h.core.reconnect_failed(1, "node b:2: refused", h.now);
    h.drain();
    EXPECT_FALSE(h.done(1));
    EXPECT_EQ(h.core.timer_at(), t0 + milliseconds(100));
    ASSERT_TRUE(h.fire());
    EXPECT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{1, 2}));
    h.core.reconnect_failed(1, "node c:3: refused", h.now);
    h.drain();
    EXPECT_FALSE(h.done(1));
    EXPECT_EQ(h.core.timer_at(), t0 + milliseconds(100 + 200));
    ASSERT_TRUE(h.fire());
    EXPECT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{1, 2, 0}));
    // The third failure in a row: every node failed once; the held call fails, naming the last.
    h.core.reconnect_failed(1, "node a:1: refused", h.now);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.completed[1].message, "connection lost; reconnecting failed: node a:1: refused");
    EXPECT_EQ(h.core.stats().reconnect_attempts, 3u);

    // The next call tries again after the (still doubling) backoff, going on round the list.
    h.submit(2, milliseconds(10000));
    EXPECT_EQ(h.reconnect_nodes.size(), 3u);
    ASSERT_TRUE(h.fire());
    ASSERT_EQ(h.reconnect_nodes.back(), 1u);
    ASSERT_TRUE(h.core.connection_up(1, h.now, 1));
    h.drain();
    EXPECT_EQ(h.core.node(), 1u);
    ASSERT_EQ(h.published.size(), 1u);  // the held call goes out on node 1
    // The next loss: node 2 at once (the backoff resets with a connection).
    h.core.connection_lost(1, rpc::errc::connection_lost, "lost");
    h.submit(3, milliseconds(1000));
    EXPECT_EQ(h.reconnect_nodes.back(), 2u);
    EXPECT_EQ(h.reconnects.back(), 2u);
}

TEST(ClientNodes, OneNodeKeepsTheSingleAttemptRule) {
    rpc::client_core_options o = three_nodes();
    o.node_count = 1;
    harness h(o);
    h.start();
    h.core.connection_lost(0, rpc::errc::connection_lost, "lost");
    h.submit(1, milliseconds(1000));
    ASSERT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{0}));
    h.core.reconnect_failed(1, "refused", h.now);
    h.drain();
    EXPECT_TRUE(h.done(1));
}

TEST(ClientNodes, AStartGoesOnWithTheNextNodeAfterAFailedAttempt) {
    harness h(three_nodes());
    // The first node's connection failed (its close reported) before any connection_up.
    h.core.connection_lost(0, rpc::errc::connection_lost, "cannot connect to a:1");
    h.core.start_attempt_failed();
    ASSERT_TRUE(h.core.connection_up(0, h.now, 1));
    EXPECT_EQ(h.core.node(), 1u);
    EXPECT_EQ(h.core.current_state(), rpc::client_core::state::running);
    h.core.connection_lost(0, rpc::errc::connection_lost, "lost");
    h.submit(1, milliseconds(1000));
    EXPECT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{2}));
}

TEST(BrokerNodes, TheOrderIsTheListOrAPermutationFixedByTheSeed) {
    EXPECT_EQ(rpc::node_order(3, false, 7), (std::vector<std::size_t>{0, 1, 2}));
    std::set<std::vector<std::size_t>> seen;
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        const auto order = rpc::node_order(5, true, seed);
        EXPECT_EQ(order, rpc::node_order(5, true, seed));  // deterministic
        auto sorted = order;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(sorted, (std::vector<std::size_t>{0, 1, 2, 3, 4}));  // a permutation
        seen.insert(order);
    }
    EXPECT_GT(seen.size(), 10u);  // and the seed matters
}

TEST(BrokerNodes, UrlsParseInOrderAndABadOneIsNamedWithoutItsPassword) {
    rpc::broker_nodes b;
    std::string why;
    ASSERT_FALSE(rpc::parse_broker_urls(
        rpc::split_url_list(" amqp://u:p@127.0.0.1:5673/v , ,amqp://[::1]:5674,amqps://h"), b, &why))
        << why;
    ASSERT_EQ(b.nodes.size(), 3u);
    EXPECT_EQ(rpc::node_name(b.nodes[0]), "127.0.0.1:5673");
    EXPECT_EQ(b.nodes[0].vhost, "v");
    EXPECT_EQ(rpc::node_name(b.nodes[1]), "[::1]:5674");
    EXPECT_EQ(rpc::node_name(b.nodes[2]), "h:5671");

    rpc::broker_nodes unchanged = b;
    EXPECT_TRUE(rpc::parse_broker_urls({"amqp://a", "amqp://guest:s3cret@h:99999/"}, b, &why));
    EXPECT_EQ(b.nodes.size(), 3u);
    EXPECT_NE(why.find("\"amqp://guest:****@h:99999/\" (#2): "), std::string::npos) << why;
    EXPECT_EQ(why.find("s3cret"), std::string::npos) << why;
    EXPECT_TRUE(rpc::parse_broker_urls({}, b, &why));
    EXPECT_EQ(why, "no broker URL given");

    EXPECT_EQ(rpc::url_without_password("amqp://u:p@ss@h/v?x=@"), "amqp://u:****@h/v?x=@");
    EXPECT_EQ(rpc::url_without_password("amqp://u@h"), "amqp://u@h");
    EXPECT_EQ(rpc::url_without_password("amqp://h:5672"), "amqp://h:5672");
}

}  // namespace
