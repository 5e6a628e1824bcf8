// What the RPC client's errors say when the connection, not the channel, is what failed.
#include "rpc_fixture.hpp"
#include "tcp_proxy.hpp"

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
    tcp_proxy proxy(conn.port);
    conn.host = "127.0.0.1";
    conn.port = proxy.port();
    conn.heartbeat = 1;
    auto client = make_client(io.executor(), q, false, conn);
    rpc::diagnostics diag;
    auto call = client->async_call(1, 60s, diag, boost::asio::use_future);
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

}  // namespace
