// The client with publisher confirms on the test broker: confirmed calls succeed; a request the
// broker nacks (a full queue with reject-publish) fails as not_confirmed, after bounded re-sends
// when idempotent.
#include <fibonacci/fibonacci_client.hpp>
#include <rpc/client_core.hpp>
#include <test_support/rpc_fixture.hpp>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcClientConfirms : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    static rpc::client_options confirming(const std::string& q) {
        rpc::client_options o;
        o.queue = q;
        o.confirm_requests = true;
        o.reconnect_min = std::chrono::milliseconds(10);  // the pause before a nacked call's re-send
        return o;
    }
    rpc::cli::io_thread io;
};

TEST_F(RpcClientConfirms, ConfirmedCallsSucceed) {
    const auto q = unique_queue("confirms-ok");
    fib_server server(io.executor(), q);
    rpc::rpc_client client(io.executor(), broker_options(), confirming(q));
    client.start();
    EXPECT_EQ(rpc::fibonacci_client(client).call(20, 30s), 6765);
    client.close();
}

TEST_F(RpcClientConfirms, ANackedRequestFailsAsNotConfirmedAfterBoundedReSendsWhenIdempotent) {
    const auto q = unique_queue("confirms-full");
    raw_peer peer(io.executor());
    amqp::queue_options qo;
    qo.name = q;
    qo.arguments.emplace_back("x-max-length", std::int32_t{0});
    qo.arguments.emplace_back("x-overflow", std::string("reject-publish"));
    qo.arguments.emplace_back("x-expires", std::int32_t{60000});
    peer.channel().declare_queue(qo);
    rpc::rpc_client client(io.executor(), broker_options(), confirming(q));
    client.start();

    rpc::request_message once;
    once.body = "1";
    try {
        client.request(once);
        ADD_FAILURE() << "a nacked request succeeded";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::not_confirmed);
        EXPECT_NE(std::string(e.what()).find("not re-sent: the call is not idempotent"), std::string::npos) << e.what();
    }
    rpc::request_message again = once;
    again.idempotent = true;
    try {
        client.request(again);
        ADD_FAILURE() << "a nacked request succeeded";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::not_confirmed);
    }
    EXPECT_EQ(client.stats().resent, rpc::client_core_options{}.max_resends);
    client.close();
}

}  // namespace
