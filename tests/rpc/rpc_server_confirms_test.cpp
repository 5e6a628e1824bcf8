// server_options::confirm_replies against a real RabbitMQ (issue 16): requests acked only once
// their replies are confirmed, every call answered, nothing left in the queue; a reply whose
// reply_to queue is gone comes back (mandatory) and its request is acked, not answered forever; a
// nacked reply leaves its request in the queue.
#include <test_support/server_test_support.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace rpc_test;

using RpcServerConfirms = own_queue_test;

TEST_F(RpcServerConfirms, EveryCallIsAnsweredAndTheQueueEndsEmpty) {
    const std::string& q = queue("confirmed");
    rpc::server_options so;
    so.queue = q;
    so.queue_type = rpc::queue_type::classic;
    so.confirm_replies = true;
    so.prefetch = 16;
    so.workers = 2;  // replies confirmed out of delivery order: the ack window's batches and singles
    rpc::rpc_server server(io.executor(), broker_options(), so,
                           [](const rpc::request& req) { return rpc::reply{"re:" + req.body}; });
    server.start();

    rpc::client_options co;
    co.queue = q;
    co.persistent = true;
    rpc::rpc_client client(io.executor(), broker_options(), co);
    client.start();
    constexpr int callers = 8, calls_each = 25;
    std::atomic<int> right{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < calls_each; ++i) {
                rpc::request_message m;
                m.body = std::to_string(t) + "." + std::to_string(i);
                try {
                    if (client.request(m).body == "re:" + m.body) ++right;
                } catch (const std::exception& e) {
                    ADD_FAILURE() << e.what();
                }
            }
        });
    for (auto& th : threads) th.join();
    client.close();
    EXPECT_EQ(right, callers * calls_each);
    EXPECT_TRUE(server.stop());

    const rpc::server_stats st = server.stats();
    EXPECT_EQ(st.replies, static_cast<std::uint64_t>(callers * calls_each));
    EXPECT_EQ(st.replies_unconfirmed, 0u);
    EXPECT_EQ(st.replies_returned, 0u);
    EXPECT_GT(st.acks, 0u);
    raw_peer peer(io.executor());
    EXPECT_EQ(peer.ready(q), 0u);  // every request acked: none came back to the queue at the close
}

TEST_F(RpcServerConfirms, AReplyToAQueueThatIsGoneIsReturnedAndItsRequestAcked) {
    const std::string& q = queue("returned");
    log_lines logged;
    rpc::server_options so;
    so.queue = q;
    so.queue_type = rpc::queue_type::classic;
    so.confirm_replies = true;
    std::atomic<int> handled{0};
    rpc::rpc_server server(io.executor(), broker_options(), so, [&](const rpc::request&) {
        ++handled;
        return rpc::reply{"lost"};
    });
    server.on_log([&](std::string_view line) { logged.push(line); });
    server.start();

    raw_peer peer(io.executor());
    peer.publish(q, "1", unique_queue("no-such-reply-queue"), std::string("cid-gone"));
    EXPECT_TRUE(eventually([&] { return server.stats().replies_returned == 1; }));
    EXPECT_TRUE(server.stop());
    const rpc::server_stats st = server.stats();
    EXPECT_EQ(st.requests, 1u);  // acked once, not redelivered and answered again
    EXPECT_EQ(handled, 1);
    EXPECT_EQ(st.replies_unconfirmed, 0u);
    EXPECT_EQ(peer.ready(q), 0u);
    bool said = false;
    for (const auto& line : logged.all()) said = said || line.find("reply returned") != std::string::npos;
    EXPECT_TRUE(said);
}

// The broker refuses the reply (its reply_to queue is full, x-overflow reject-publish: a nack):
// the request is not acked but nacked with requeue, so it comes back to be answered again, and
// after the stop it is still in the queue, never lost.
TEST_F(RpcServerConfirms, ANackedReplyLeavesItsRequestInTheQueue) {
    const std::string& q = queue("nacked");
    rpc::server_options so;
    so.queue = q;
    so.queue_type = rpc::queue_type::classic;
    so.confirm_replies = true;
    rpc::rpc_server server(io.executor(), broker_options(), so, [](const rpc::request&) { return rpc::reply{"x"}; });
    server.on_log([](std::string_view) {});
    server.start();

    raw_peer peer(io.executor());
    amqp::queue_options full;
    full.exclusive = true;
    full.arguments = {{"x-max-length", std::int32_t{0}}, {"x-overflow", std::string("reject-publish")}};
    const std::string replies = peer.channel().declare_queue(std::move(full)).name;
    peer.publish(q, "1", replies, std::string("cid-nacked"));
    EXPECT_TRUE(eventually([&] { return server.stats().requests >= 2; }));  // redelivered
    EXPECT_TRUE(server.stop());
    const rpc::server_stats st = server.stats();
    EXPECT_GE(st.replies_unconfirmed, 1u);
    EXPECT_EQ(st.replies, 0u);
    EXPECT_EQ(wait_until_ready(peer, q, 1), 1u);
}

}  // namespace
