// The RPC layer over a connection that dies (a relay cut or silenced between us and the fixture's
// broker): every pending call of a client fails at once with connection_lost, missed heartbeats
// read as a lost connection, a server reports its loss, and the rpc_server program exits 1 saying
// so. The transport's own side of the same faults is in connection_loss_test.cpp.
#include <fibonacci/fibonacci_client.hpp>
#include <test_support/child_process.hpp>
#include <test_support/rpc_fixture.hpp>
#include <test_support/test_relay.hpp>

#include <boost/asio/use_future.hpp>

#include <future>

#ifndef RPC_SERVER_BIN
#error "RPC_SERVER_BIN comes from tests/faults/CMakeLists.txt"
#endif

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcConnectionLoss : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;

    /// The fixture's broker as reached through `relay`.
    static amqp::connection_options through(const amqp_test::test_relay& relay) {
        auto conn = broker_options();
        conn.host = "127.0.0.1";
        conn.port = relay.port();
        return conn;
    }
};

TEST_F(RpcConnectionLoss, LostConnectionFailsEveryPendingCallAtOnce) {
    const auto q = unique_queue("lost");
    raw_peer peer(io.executor());
    peer.declare(q);  // nobody answers: the calls stay pending
    amqp_test::test_relay proxy(broker_options().port);
    auto client = make_client(io.executor(), q, false, through(proxy));
    std::vector<std::future<rpc::big_int>> calls;
    std::vector<rpc::diagnostics> diags(5);
    for (auto& d : diags)
        calls.push_back(rpc::fibonacci_client(*client).async_call(1, 300s, d, boost::asio::use_future));
    proxy.cut_all();
    for (std::size_t i = 0; i < calls.size(); ++i) {
        try {
            calls[i].get();
            ADD_FAILURE() << "call " << i << " succeeded";
        } catch (const boost::system::system_error& e) {
            EXPECT_EQ(e.code(), rpc::errc::connection_lost);
            EXPECT_NE(diags[i].message.find("connection lost"), std::string::npos) << diags[i].message;
        }
    }
    EXPECT_EQ(client->pending_calls(), 0u);
    EXPECT_FALSE(client->is_running());
    // And later calls fail at once too.
    EXPECT_THROW(rpc::fibonacci_client(*client).call(1, 300s), rpc::call_error);
}

TEST_F(RpcConnectionLoss, MissedHeartbeatsReadAsALostConnectionNotAClosedChannel) {
    const auto q = unique_queue("hbwording");
    raw_peer peer(io.executor());
    peer.declare(q);  // nobody answers: the call stays pending until the line goes silent
    amqp_test::test_relay proxy(broker_options().port);
    auto conn = through(proxy);
    conn.heartbeat = 1;
    auto client = make_client(io.executor(), q, false, conn);
    rpc::diagnostics diag;
    auto call = rpc::fibonacci_client(*client).async_call(1, 60s, diag, boost::asio::use_future);
    proxy.hold_from_broker();  // the broker falls silent; our heartbeats still reach it
    try {
        call.get();
        ADD_FAILURE() << "the call succeeded";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::connection_lost);
        EXPECT_EQ(diag.message.rfind("channel closed", 0), std::string::npos) << diag.message;
        EXPECT_NE(diag.message.find("connection lost"), std::string::npos) << diag.message;
        EXPECT_NE(diag.message.find("missed heartbeats"), std::string::npos) << diag.message;
    }
}

TEST_F(RpcConnectionLoss, ServerReportsALostConnection) {
    const auto q = unique_queue("serverlost");
    amqp_test::test_relay proxy(broker_options().port);
    rpc::rpc_server server(io.executor(), through(proxy), fib_server::options(q, 1), rpc::make_fibonacci_handler({}));
    std::promise<std::string> lost;
    server.on_connection_lost([&](const amqp::close_reason& r) { lost.set_value(r.to_string()); });
    server.start();
    proxy.cut_all();
    auto why = lost.get_future();
    ASSERT_EQ(why.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(why.get().empty());
}

TEST_F(RpcConnectionLoss, ServerExitsWithAnErrorWhenTheConnectionIsLost) {
    auto conn = broker_options();
    amqp_test::test_relay proxy(conn.port);
    const std::string via_proxy = "amqp://" + conn.user + ":" + conn.password +
                                  "@127.0.0.1:" + std::to_string(proxy.port()) + "/";
    child_process server({RPC_SERVER_BIN, "--url", via_proxy, "--queue", unique_queue("prog-lost")});
    ASSERT_TRUE(server.wait_for_stdout(" [x] Awaiting RPC requests\n"));
    proxy.cut_all();
    const auto e = server.wait(60s);
    EXPECT_TRUE(e.exited);
    EXPECT_EQ(e.status, 1);
    EXPECT_EQ(server.err().rfind(" [!] Error: connection lost", 0), 0u) << server.err();
}

}  // namespace
