// The request queue against a real RabbitMQ (issue 16): a quorum service answers calls published
// persistent; a declaration the broker refuses fails the start naming the fix; a request whose
// deadline passed while queued is acked and dropped, not handled.
#include <test_support/server_test_support.hpp>

#include <rpc/request_deadline.hpp>

#include <amqp/codec/field_table.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace {

using namespace rpc_test;

using RpcServerQueue = own_queue_test;

TEST_F(RpcServerQueue, AQuorumServiceAnswersPersistentRequests) {
    const std::string& q = queue("quorum");
    std::atomic<int> persistent{0};
    rpc::server_options so;
    so.queue = q;
    so.queue_type = rpc::queue_type::quorum;
    rpc::rpc_server server(io.executor(), broker_options(), so, [&](const rpc::request& req) {
        if (req.delivery_mode == 2) ++persistent;
        return rpc::reply{"re:" + req.body};
    });
    server.start();

    rpc::client_options co;
    co.queue = q;
    co.persistent = true;
    rpc::rpc_client client(io.executor(), broker_options(), co);
    client.start();
    constexpr int calls = 20;
    for (int i = 0; i < calls; ++i) {
        rpc::request_message m;
        m.body = std::to_string(i);
        EXPECT_EQ(client.request(m).body, "re:" + std::to_string(i));
    }
    EXPECT_EQ(persistent, calls);
    EXPECT_TRUE(server.stop());
    client.close();

    // It is a quorum queue: declaring it classic is refused for its x-queue-type.
    raw_peer peer(io.executor());
    try {
        peer.channel().declare_queue(rpc::queue_declaration(q, rpc::queue_type::classic));
        ADD_FAILURE() << "a classic redeclaration of the quorum queue was accepted";
    } catch (const amqp::error& e) {
        EXPECT_NE(std::string(e.what()).find("x-queue-type"), std::string::npos) << e.what();
    }
}

TEST_F(RpcServerQueue, QuorumOnAnExistingTransientQueueFailsNamingTheFix) {
    const std::string& q = queue("was-transient");
    raw_peer peer(io.executor());
    peer.declare(q);  // as the tutorial's server (or pika's) declares it
    rpc::server_options so;
    so.queue = q;
    so.queue_type = rpc::queue_type::quorum;
    rpc::rpc_server server(io.executor(), broker_options(), so, [](const rpc::request&) { return rpc::reply{}; });
    try {
        server.start();
        ADD_FAILURE() << "the server started on a transient queue declared quorum";
    } catch (const amqp::error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("406"), std::string::npos) << what;  // what the broker said
        EXPECT_NE(what.find("inequivalent arg"), std::string::npos) << what;
        EXPECT_NE(what.find("--queue-type"), std::string::npos) << what;  // and the fix
        EXPECT_NE(what.find("delete_queue \"" + q + "\""), std::string::npos) << what;
        EXPECT_EQ(server.last_error(), what);
    }
}

// The expired request is published as a client would have sent it a minute ago (its deadline a
// second after that), straight to the queue; the normal call behind it is answered.
TEST_F(RpcServerQueue, ARequestPastItsDeadlineIsAckedAndDroppedNotHandled) {
    const std::string& q = queue("deadline");
    std::mutex mutex;
    std::vector<std::string> handled;
    std::vector<std::int64_t> deadlines;  // what the normal call carried
    rpc::server_options so;
    so.queue = q;
    rpc::rpc_server server(io.executor(), broker_options(), so, [&](const rpc::request& req) {
        std::lock_guard lock(mutex);
        handled.push_back(req.body);
        if (const amqp::field_value* d = amqp::find_field(req.headers, rpc::deadline_header))
            if (const auto* ms = d->get_if<std::int64_t>()) deadlines.push_back(*ms);
        return rpc::reply{"re:" + req.body};
    });
    log_lines logged;
    server.on_log([&](std::string_view line) { logged.push(line); });
    server.start();

    raw_peer peer(io.executor());
    const std::string replies = peer.declare_exclusive();
    const auto sent_at = std::chrono::system_clock::now() - std::chrono::minutes(1);
    const amqp::field_table headers{
        {std::string(rpc::deadline_header), rpc::epoch_millis(sent_at + std::chrono::seconds(1))}};
    amqp::byte_buffer raw;
    ASSERT_FALSE(amqp::encode_table(headers, raw));
    amqp::basic_properties p;
    p.headers = amqp::table_view{amqp::bytes_view(raw.data(), raw.size())};
    p.reply_to = replies;
    p.correlation_id = "late\x1b[31m";
    amqp::publish_options where;
    where.routing_key = q;
    ASSERT_FALSE(peer.channel().publish(where, p, amqp::as_bytes(std::string_view("expired"))));

    rpc::client_options co;
    co.queue = q;
    co.default_timeout = std::chrono::seconds(30);
    rpc::rpc_client client(io.executor(), broker_options(), co);
    client.start();
    const auto before = std::chrono::system_clock::now();
    rpc::request_message m;
    m.body = "normal";
    EXPECT_EQ(client.request(m).body, "re:normal");
    const auto after = std::chrono::system_clock::now();
    EXPECT_TRUE(server.stop());
    client.close();

    {
        std::lock_guard lock(mutex);
        EXPECT_EQ(handled, std::vector<std::string>{"normal"});
        // The client's own deadline: its timeout from submission.
        ASSERT_EQ(deadlines.size(), 1u);
        EXPECT_GE(deadlines[0], rpc::epoch_millis(before + co.default_timeout) - 1);
        EXPECT_LE(deadlines[0], rpc::epoch_millis(after + co.default_timeout));
    }
    EXPECT_EQ(server.stats().expired_dropped, 1u);
    EXPECT_EQ(server.stats().replies, 1u);
    // Acked: after the server's connection closed nothing came back to the queue; and no reply.
    EXPECT_EQ(peer.ready(q), 0u);
    EXPECT_EQ(peer.ready(replies), 0u);
    int lines = 0;
    for (const std::string& line : logged.all()) {
        if (line.find("deadline") == std::string::npos) continue;
        ++lines;
        EXPECT_FALSE(has_control_octet(line)) << line;
    }
    EXPECT_EQ(lines, 1);
}

}  // namespace
