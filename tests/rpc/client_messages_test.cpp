// What the RPC client's errors say: peer text escaped and capped (a lost connection's wording is in
// tests/faults/rpc_connection_loss_test.cpp).
#include <test_support/rpc_fixture.hpp>
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
