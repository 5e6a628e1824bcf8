// What no request can do to an rpc_server, against a real RabbitMQ (issue 15): a request it
// refuses (too large) is rejected without requeue, answered, counted and logged once, and the
// server goes on; a peer's text cannot forge a log line; a second stop signal (halt) cuts a
// drain short; a failed start says why.
#include <test_support/child_process.hpp>
#include <test_support/server_test_support.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcServerFaults : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_F(RpcServerFaults, OversizedRequestIsRejectedAnsweredCountedAndTheServerGoesOn) {
    const auto q = unique_queue("oversized");
    log_lines logged;
    rpc::server_options opts = fib_server::options(q, 1);
    opts.max_request_size = 4096;  // the error reply must fit: the limit caps replies too
    rpc::rpc_server server(io.executor(), broker_options(), opts, rpc::make_fibonacci_handler({}));
    server.on_log([&](std::string_view text) { logged.push(text); });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    peer.publish(q, std::string(100000, '7'), replies, std::string("c-big"));
    peer.publish(q, "10", replies, std::string("c-10"));
    auto first = box.pop();
    auto second = box.pop();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->correlation_id, "c-big");
    EXPECT_NE(first->body.find("request body of 100000 bytes is too large"), std::string::npos) << first->body;
    EXPECT_EQ(second->correlation_id, "c-10");
    EXPECT_EQ(second->body, "55");
    server.stop();
    const auto s = server.stats();
    EXPECT_EQ(s.rejected, 1u);
    // Requeued, it would have come back at once, ahead of "10", to this very server.
    EXPECT_EQ(s.requests, 2u);
    EXPECT_EQ(s.replies, 2u);
    EXPECT_EQ(peer.ready(q), 0u);
    const auto lines = logged.all();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("too large"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("\"c-big\""), std::string::npos) << lines[0];
}

// The issue's one-liner: pika publishes a request whose headers nest 40 levels, which RabbitMQ
// accepts and our decoder refuses (deeper than 32). It used to close the server's connection,
// and the broker's requeue closed every server's after it. Now the protocol layer reports it as
// delivered_message::fault and the server rejects it.
TEST_F(RpcServerFaults, HeadersNested40LevelsAreRejectedAndTheServerGoesOn) {
    const auto q = unique_queue("nested");
    log_lines logged;
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1), rpc::make_fibonacci_handler({}));
    server.on_log([&](std::string_view text) { logged.push(text); });
    std::atomic<bool> lost{false};
    server.on_connection_lost([&](const amqp::close_reason&) { lost = true; });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    child_process pika({"/usr/bin/python3", "-c",
                        "import pika,os,sys\n"
                        "c=pika.BlockingConnection(pika.URLParameters(os.environ['AMQP_URL']));h={'leaf':1}\n"
                        "for _ in range(39): h={'n':h}\n"
                        "c.channel().basic_publish('',sys.argv[1],b'10',pika.BasicProperties("
                        "reply_to=sys.argv[2],correlation_id='p',headers=h))\n"
                        "c.close()\n",
                        q, replies},
                       {{"AMQP_URL", broker_url()}});
    const auto e = pika.wait(60s);
    ASSERT_EQ(e.status, 0) << pika.err();
    auto m = box.pop();
    ASSERT_TRUE(m) << "no error reply";
    EXPECT_EQ(m->correlation_id, "p");
    EXPECT_NE(m->body.find("\"error\""), std::string::npos) << m->body;
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(10, 30s), 55);  // still serving, on the same connection
    EXPECT_FALSE(lost);
    server.stop();
    EXPECT_EQ(server.stats().rejected, 1u);
    EXPECT_EQ(server.stats().requests, 2u);  // not requeued
    EXPECT_EQ(peer.ready(q), 0u);
    const auto lines = logged.all();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_FALSE(has_control_octet(lines[0])) << lines[0];
    EXPECT_NE(lines[0].find("request refused"), std::string::npos) << lines[0];
}

TEST_F(RpcServerFaults, OversizedRequestWithoutReplyToIsRejectedAndNotAnswered) {
    const auto q = unique_queue("oversized-noreply");
    log_lines logged;
    rpc::server_options opts = fib_server::options(q, 1);
    opts.max_request_size = 1024;
    rpc::rpc_server server(io.executor(), broker_options(), opts, rpc::make_fibonacci_handler({}));
    server.on_log([&](std::string_view text) { logged.push(text); });
    server.start();
    raw_peer peer(io.executor());
    peer.publish(q, std::string(2000, '1'), std::nullopt, std::string("c-lost"));
    peer.ready(q);  // a round trip on the same channel: the request is queued before the client's
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(12, 30s), 144);  // served after it
    server.stop();
    EXPECT_EQ(server.stats().rejected, 1u);
    EXPECT_EQ(server.stats().replies, 1u);
    EXPECT_EQ(peer.ready(q), 0u);
    const auto lines = logged.all();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("no reply_to"), std::string::npos) << lines[0];
}

// A reply above the connection's size limit (it caps both ways) still answers the caller.
TEST_F(RpcServerFaults, ReplyTooLargeBecomesAnErrorReply) {
    const auto q = unique_queue("bigreply");
    rpc::server_options opts = fib_server::options(q, 1);
    opts.max_request_size = 300;
    rpc::rpc_server server(io.executor(), broker_options(), opts, rpc::make_fibonacci_handler({}));
    server.on_log([](std::string_view) {});
    server.start();
    auto client = make_client(io.executor(), q);
    try {
        rpc::fibonacci_client(*client).call(2000, 30s);  // 418 digits
        ADD_FAILURE() << "expected an error reply";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error);
        EXPECT_NE(e.reason().find("the reply of 418 bytes is too large"), std::string::npos) << e.reason();
    }
    EXPECT_EQ(rpc::fibonacci_client(*client).call(20, 30s), 6765);
    server.stop();
}

TEST_F(RpcServerFaults, CorrelationIdCannotForgeALogLine) {
    const auto q = unique_queue("forge");
    log_lines logged;
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1), rpc::make_fibonacci_handler({}));
    server.on_log([&](std::string_view text) { logged.push(text); });
    server.start();
    raw_peer peer(io.executor());
    const std::string forged = "\n [!] Error: forged\x1b[2J";
    peer.publish(q, "5", std::nullopt, forged);  // no reply_to: logged with its correlation id
    peer.ready(q);  // a round trip on the same channel: the request is queued before the client's
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(6, 30s), 8);  // the server has taken the first request by then
    server.stop();
    const auto lines = logged.all();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_FALSE(has_control_octet(lines[0])) << lines[0];
    EXPECT_NE(lines[0].find(R"("\n [!] Error: forged\x1b[2J")"), std::string::npos) << lines[0];
}

TEST(CloseReason, BrokerTextIsEscapedAndCapped) {
    amqp::close_reason r;
    r.code = make_error_code(amqp::client_error::channel_closed);
    r.reply_code = 404;
    r.from_broker = true;
    r.reply_text = "NOT_FOUND - no queue 'x'\n [!] Error: forged\x1b[2J" + std::string(1000, 'y');
    const std::string s = r.to_string();
    EXPECT_FALSE(has_control_octet(s)) << s;
    EXPECT_EQ(s.rfind("channel closed by broker: 404 NOT_FOUND - no queue 'x'\\n [!] Error: forged\\x1b[2J", 0), 0u)
        << s;
    EXPECT_LT(s.size(), 400u);
    EXPECT_EQ(s.substr(s.size() - 3), "...");
    r.reply_text = "NOT_FOUND - no queue 'x' in vhost '/'";
    EXPECT_EQ(r.to_string(), "channel closed by broker: 404 NOT_FOUND - no queue 'x' in vhost '/'");
}

TEST_F(RpcServerFaults, HaltCutsADrainShortAndReleasesTheRequest) {
    const auto q = unique_queue("halt");
    blocking_handler slow;
    rpc::server_options opts = fib_server::options(q, 1);
    opts.drain_timeout = 600s;  // only halt() can end this drain within the test's deadlines
    rpc::rpc_server server(io.executor(), broker_options(), opts, slow.handler());
    server.on_log([](std::string_view) {});
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    peer.publish(q, "7", replies, std::string("c-slow"));
    ASSERT_TRUE(slow.wait_started());
    auto stopping = std::async(std::launch::async, [&] { return server.stop(); });
    EXPECT_EQ(stopping.wait_for(200ms), std::future_status::timeout) << "stop() did not wait for the request";
    server.halt();
    if (stopping.wait_for(60s) != std::future_status::ready) {
        std::fprintf(stderr, "FAILED: halt() did not end stop()'s drain\n");
        std::fflush(nullptr);
        std::_Exit(1);
    }
    EXPECT_FALSE(stopping.get());
    EXPECT_FALSE(server.stop());  // idempotent: the first call's result
    EXPECT_EQ(wait_until_ready(peer, q, 1), 1u);
    slow.release();
}

TEST_F(RpcServerFaults, StopWithNothingInFlightReportsACleanDrain) {
    const auto q = unique_queue("clean");
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1), rpc::make_fibonacci_handler({}));
    server.start();
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(10, 30s), 55);
    EXPECT_TRUE(server.stop());
}

}  // namespace
