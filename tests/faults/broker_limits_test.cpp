// Message size limits in both directions, and the broker cancelling the client's reply consumer,
// against one private node whose max_message_size is small (64 KiB): every failure must come at
// once, with a text that names the cause, never by the call's timeout.
//
// - a reply above the client's max_message_size fails that call alone (message_too_large, the
//   size and the limit in the text; the body is skipped unread), the client goes on;
// - a request above the broker's limit: the broker closes the channel (406 PRECONDITION_FAILED
//   "message size N is larger than configured max size M"), the call fails at once with that
//   text, and with client_options::reconnect the next call is answered on a new channel;
// - a request above the client's own limit is refused before it is sent;
// - a request above the server's max_message_size: the server does not lose its channel or loop
//   on a redelivery; it answers an error reply naming the sizes, acks, and keeps serving;
// - the reply queue deleted under pending calls (basic.cancel from the broker): they fail at
//   once, and a reconnecting client is answered on its next call.
#include <test_support/private_broker.hpp>

#include <programs/cli.hpp>
#include <fibonacci/fibonacci_client.hpp>
#include <fibonacci/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>

#include <amqp/connection.hpp>

#include "call_result.hpp"

#include <cstdio>
#include <future>
#include <memory>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t broker_limit = 65536;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class broker_limits : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        broker_ = new faults_test::private_broker(AMQP_FAULTS_WORK_DIR "/rabbitmq-limits-" + std::to_string(getpid()),
                                                  {"max_message_size=" + std::to_string(broker_limit)});
    }
    static void TearDownTestSuite() {
        delete broker_;
        broker_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(broker_->ok()); }

    // A started client of `queue` that reconnects after a loss (rpc_client does not move).
    std::unique_ptr<rpc::rpc_client> reconnecting_client(const std::string& queue) {
        rpc::client_options co;
        co.queue = queue;
        co.reconnect = true;
        auto client = std::make_unique<rpc::rpc_client>(io_.executor(), broker_->options(), co);
        client->start();
        return client;
    }

    static faults_test::private_broker* broker_;
    rpc::cli::io_thread io_;
};

faults_test::private_broker* broker_limits::broker_ = nullptr;

// Answers "big" with 20000 bytes and anything else with "ok".
rpc::request_handler big_or_ok() {
    return [](const rpc::request& r) {
        return rpc::reply{r.body == "big" ? std::string(20000, '7') : std::string("ok")};
    };
}

rpc::request_message msg(std::string body, std::chrono::milliseconds timeout = 30s) {
    rpc::request_message m;
    m.body = std::move(body);
    m.timeout = timeout;
    return m;
}

TEST_F(broker_limits, reply_above_the_clients_limit_fails_that_call_alone) {
    rpc::server_options so;
    so.queue = "limits-big-reply";
    rpc::rpc_server server(io_.executor(), broker_->options(), so, big_or_ok());
    server.start();
    auto conn = broker_->options();
    conn.max_message_size = 8192;
    rpc::client_options co;
    co.queue = so.queue;
    rpc::rpc_client client(io_.executor(), conn, co);
    client.start();

    const auto t0 = clock_type::now();
    try {
        client.request(msg("big", 60s));
        ADD_FAILURE() << "a 20000-byte reply passed an 8192-byte limit";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::message_too_large)) << e.reason();
        EXPECT_TRUE(contains(e.reason(), "20000") && contains(e.reason(), "8192")) << e.reason();
        std::printf("reply above the client's limit: failed after %.3f s: %s\n", seconds_since(t0), e.reason().c_str());
    }
    // The consumer and the channel are intact: the next reply arrives.
    EXPECT_EQ(client.request(msg("small")).body, "ok");
    EXPECT_TRUE(client.is_running());
    client.close();
    server.stop();
}

TEST_F(broker_limits, request_above_the_brokers_limit_fails_at_once_then_reconnects) {
    rpc::server_options so;
    so.queue = "limits-big-request";
    rpc::rpc_server server(io_.executor(), broker_->options(), so, big_or_ok());
    server.start();
    auto client = reconnecting_client(so.queue);

    const auto t0 = clock_type::now();
    try {
        client->request(msg(std::string(100000, 'x'), 60s));
        ADD_FAILURE() << "a 100000-byte request passed the broker's 65536-byte limit";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::connection_lost)) << e.reason();
        EXPECT_TRUE(contains(e.reason(), "PRECONDITION_FAILED") && contains(e.reason(), "100000") &&
                    contains(e.reason(), std::to_string(broker_limit)))
            << e.reason();
        std::printf("request above the broker's limit: failed after %.3f s: %s\n", seconds_since(t0), e.reason().c_str());
    }
    EXPECT_EQ(client->request(msg("small")).body, "ok");
    EXPECT_EQ(client->stats().reconnects, 1u);
    client->close();
    server.stop();
}

TEST_F(broker_limits, request_above_the_clients_limit_is_not_sent) {
    auto conn = broker_->options();
    conn.max_message_size = 1000;
    rpc::client_options co;
    co.queue = "limits-nobody";
    rpc::rpc_client client(io_.executor(), conn, co);
    client.start();
    try {
        client.request(msg(std::string(1001, 'x')));
        ADD_FAILURE() << "a 1001-byte request passed a 1000-byte limit";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::message_too_large)) << e.reason();
        EXPECT_TRUE(contains(e.reason(), "1001") && contains(e.reason(), "1000")) << e.reason();
    }
    EXPECT_EQ(client.stats().calls, 0u);
    EXPECT_TRUE(client.is_running());
    client.close();
}

TEST_F(broker_limits, request_above_the_servers_limit_gets_an_error_reply_and_the_server_goes_on) {
    // Handlers on a worker pool, and inline on the connection's thread: two paths to the ack.
    for (const std::size_t workers : {std::size_t{1}, std::size_t{0}}) {
        SCOPED_TRACE("workers=" + std::to_string(workers));
        rpc::server_options so;
        so.queue = "limits-server-limit-" + std::to_string(workers);
        so.workers = workers;
        so.reconnect = true;  // a server that lost its channel would come back and loop on a redelivery
        so.max_request_size = 8192;  // the server's limit (it sets the connection's, with deliver_oversized)
        rpc::rpc_server server(io_.executor(), broker_->options(), so, rpc::make_fibonacci_handler({}));
        server.start();
        rpc::client_options co;
        co.queue = so.queue;
        rpc::rpc_client client(io_.executor(), broker_->options(), co);
        client.start();

        const auto t0 = clock_type::now();
        // The server's error reply completes the request with remote_error and the server's text.
        std::string why;
        try {
            client.request(msg(std::string(20000, '1'), 60s));
            ADD_FAILURE() << "a request above the server's limit succeeded";
        } catch (const rpc::call_error& e) {
            EXPECT_EQ(e.code(), rpc::error_code(rpc::errc::remote_error)) << e.reason();
            why = e.reason();
        }
        EXPECT_TRUE(contains(why, "20000") && contains(why, "8192")) << why;
        std::printf("request above the server's limit (workers=%zu): answered after %.3f s: %s\n", workers,
                    seconds_since(t0), why.c_str());
        EXPECT_EQ(rpc::fibonacci_client(client).call(10, 30s), 55);
        EXPECT_EQ(rpc::fibonacci_client(client).call(20, 30s), 6765);
        const auto st = server.stats();
        EXPECT_EQ(st.requests, 3u) << "the oversized request was delivered more than once";
        EXPECT_EQ(st.reconnects, 0u) << "the server lost its channel";
        client.close();
        server.stop();
        EXPECT_EQ(server.in_flight(), 0u) << "the refused request was never acked";
    }
}

TEST_F(broker_limits, reply_queue_deleted_fails_pending_calls_at_once_then_reconnects) {
    // A handler that holds its request until the test lets it go: the call stays pending.
    auto release = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    rpc::server_options so;
    so.queue = "limits-cancel";
    so.workers = 2;
    so.prefetch = 2;
    rpc::rpc_server server(io_.executor(), broker_->options(), so, [released](const rpc::request& r) {
        if (r.body == "hold") released.wait_for(60s);
        return rpc::reply{"ok"};
    });
    server.start();
    auto client = reconnecting_client(so.queue);
    const std::string queue = client->reply_queue();

    rpc::diagnostics diag;
    faults_test::call_result<rpc::reply_message> pending_result;
    client->async_request(msg("hold", 120s), diag, pending_result.handler());
    auto& pending = pending_result.f;
    for (int i = 0; i < 100 && server.in_flight() == 0; ++i) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(server.in_flight(), 1u);
    const auto t0 = clock_type::now();
    ASSERT_TRUE(broker_->ctl({"delete_queue", queue}));
    ASSERT_EQ(pending.wait_for(30s), std::future_status::ready) << "the pending call hung";
    {
        const auto [ec, r] = pending.get();
        EXPECT_TRUE(ec) << "answered without a reply queue: " << r.body;
        EXPECT_EQ(ec, make_error_code(rpc::errc::connection_lost)) << diag.message;
        EXPECT_TRUE(contains(diag.message, "cancelled the reply consumer") && contains(diag.message, queue))
            << diag.message;
        std::printf("reply queue deleted: pending call failed %.3f s after delete_queue began: %s\n",
                    seconds_since(t0), diag.message.c_str());
    }
    release->set_value();
    EXPECT_EQ(client->request(msg("again")).body, "ok");
    EXPECT_EQ(client->stats().reconnects, 1u);
    EXPECT_NE(client->reply_queue(), queue);
    client->close();
    server.stop();
}

}  // namespace
