// The request queue's type against a real RabbitMQ (issue 16): a quorum service answers calls
// published persistent; a declaration the broker refuses fails the start naming the fix.
#include <test_support/server_test_support.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

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

}  // namespace
