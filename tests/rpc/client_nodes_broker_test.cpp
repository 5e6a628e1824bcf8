// A client given several broker nodes, on the test broker: dead nodes are skipped at start, a
// lost node is left for the next one, and the texts name the node.
#include <fibonacci/fibonacci_client.hpp>
#include <test_support/rpc_fixture.hpp>
#include <test_support/test_relay.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

class RpcClientNodes : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }

    // A loopback port nobody listens on: taken from the kernel, then closed.
    static std::uint16_t closed_port() {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        return a.local_endpoint().port();
    }
    static amqp::connection_options at(std::uint16_t port) {
        auto o = broker_options();
        o.host = "127.0.0.1";
        o.port = port;
        o.connection_timeout = 500ms;  // a silent node is given up quickly
        return o;
    }
    static rpc::client_options options(const std::string& q, bool reconnect = false) {
        rpc::client_options o;
        o.queue = q;
        o.reconnect = reconnect;
        return o;
    }

    rpc::cli::io_thread io;
};

TEST_F(RpcClientNodes, StartSkipsAClosedPortAndASilentListenerAndCallsSucceed) {
    const auto q = unique_queue("nodes-start");
    fib_server server(io.executor(), q);
    asio::io_context silent_io;  // listens, never accepts, never speaks
    asio::ip::tcp::acceptor silent(silent_io, {asio::ip::make_address("127.0.0.1"), 0});
    rpc::broker_nodes nodes{{at(closed_port()), at(silent.local_endpoint().port()), broker_options()}};
    rpc::rpc_client client(io.executor(), nodes, options(q));
    client.start();
    EXPECT_EQ(rpc::fibonacci_client(client).call(10, 30s), 55);
    client.close();
}

TEST_F(RpcClientNodes, AStartWithEveryNodeDeadNamesEachNode) {
    const std::uint16_t p1 = closed_port(), p2 = closed_port();
    rpc::rpc_client client(io.executor(), rpc::broker_nodes{{at(p1), at(p2)}}, options(unique_queue("nodes-dead")));
    EXPECT_THROW(client.start(), rpc::call_error);
    const std::string why = client.start_failure();
    EXPECT_NE(why.find("127.0.0.1:" + std::to_string(p1)), std::string::npos) << why;
    EXPECT_NE(why.find("127.0.0.1:" + std::to_string(p2)), std::string::npos) << why;
    EXPECT_EQ(why.find(broker_options().password), std::string::npos) << why;
}

TEST_F(RpcClientNodes, ALostNodeFailsItsPendingPlainCallNamingItReSendsTheIdempotentOneAndMovesOn) {
    const auto q = unique_queue("nodes-failover");
    fib_server server(io.executor(), q);
    amqp_test::test_relay first(broker_options().port);
    rpc::rpc_client client(io.executor(), rpc::broker_nodes{{at(first.port()), broker_options()}}, options(q, true));
    client.start();
    rpc::fibonacci_client fib(client);
    EXPECT_EQ(fib.call(5, 30s), 5);

    first.hold_from_broker();  // the replies stay in the relay: both calls are pending at the loss
    rpc::diagnostics diag, fib_diag;
    rpc::request_message plain;  // not idempotent: it must not be sent twice
    plain.body = "6";
    plain.timeout = 30s;
    auto pending = client.async_request(std::move(plain), diag, asio::use_future);
    auto pending_fib = fib.async_call(6, 30s, fib_diag, asio::use_future);  // idempotent: re-sent
    while (client.pending_calls() < 2) std::this_thread::sleep_for(1ms);
    first.reset_all();
    try {
        pending.get();
        ADD_FAILURE() << "the call survived its node";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::connection_lost);
        EXPECT_NE(diag.message.find("(node 127.0.0.1:" + std::to_string(first.port()) + ")"), std::string::npos)
            << diag.message;
    }
    EXPECT_EQ(pending_fib.get(), 8) << fib_diag.message;  // answered by the next node
    EXPECT_EQ(client.stats().resent, 1u);
    // The relay still listens, but the client moves on to the next node.
    EXPECT_EQ(fib.call(7, 30s), 13);
    EXPECT_EQ(client.stats().reconnects, 1u);
    EXPECT_EQ(first.accepted(), 1);
    client.close();
}

TEST_F(RpcClientNodes, AServerSkipsADeadNodeAndAStartOnDeadNodesNamesEach) {
    const auto q = unique_queue("nodes-server");
    const std::uint16_t dead = closed_port();
    rpc::rpc_server server(io.executor(), rpc::broker_nodes{{at(dead), broker_options()}}, fib_server::options(q, 1),
                           rpc::make_fibonacci_handler({}));
    server.start();
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(12, 30s), 144);
    client->close();
    server.stop();

    const std::uint16_t dead2 = closed_port();
    rpc::rpc_server nowhere(io.executor(), rpc::broker_nodes{{at(dead), at(dead2)}}, fib_server::options(q, 1),
                            rpc::make_fibonacci_handler({}));
    EXPECT_ANY_THROW(nowhere.start());
    const std::string why = nowhere.last_error();
    EXPECT_NE(why.find("127.0.0.1:" + std::to_string(dead)), std::string::npos) << why;
    EXPECT_NE(why.find("127.0.0.1:" + std::to_string(dead2)), std::string::npos) << why;
}

}  // namespace
