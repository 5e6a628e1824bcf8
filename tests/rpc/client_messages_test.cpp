// What the RPC client's errors say when the connection, not the channel, is what failed.
#include <test_support/rpc_fixture.hpp>
#include <test_support/test_relay.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/use_future.hpp>

#include <future>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcClientMessages : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_F(RpcClientMessages, MissedHeartbeatsReadAsALostConnectionNotAClosedChannel) {
    const auto q = unique_queue("hbwording");
    raw_peer peer(io.executor());
    peer.declare(q);  // nobody answers: the call stays pending until the line goes silent
    auto conn = broker_options();
    amqp_test::test_relay proxy(conn.port);
    conn.host = "127.0.0.1";
    conn.port = proxy.port();
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

TEST_F(RpcClientMessages, PeerTextInCallErrorsIsEscapedAndCapped) {
    // Anyone who can answer a request writes the reason the caller prints: it must not forge
    // lines or send terminal escapes, and a long one must not make a long error.
    const auto q = unique_queue("errtext");
    const std::string forged = "bad\n [!] Error: forged\x1b[2J" + std::string(10'000, 'x');  // within the server's reply cap
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1),
                           [&](const rpc::request&) { return rpc::make_error_reply(forged); });
    server.start();
    auto client = make_client(io.executor(), q);
    rpc::diagnostics diag;
    auto call = rpc::fibonacci_client(*client).async_call(1, 30s, diag, boost::asio::use_future);
    EXPECT_THROW(call.get(), boost::system::system_error);
    EXPECT_EQ(diag.message.find('\n'), std::string::npos) << diag.message.substr(0, 300);
    EXPECT_EQ(diag.message.find('\x1b'), std::string::npos) << diag.message.substr(0, 300);
    EXPECT_EQ(diag.message.rfind("bad\\n [!] Error: forged\\x1b[2J", 0), 0u) << diag.message.substr(0, 300);
    EXPECT_LT(diag.message.size(), 1000u);
    server.stop();
}

}  // namespace
