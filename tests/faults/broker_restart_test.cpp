// The broker restarts under a running server and client: the call pending at the stop fails at
// once with "connection lost" (not by its timeout), the server (server_options::reconnect)
// reconnects with backoff, redeclares its queue and consumes again by itself, and the client
// (client_options::reconnect) reconnects on its next async_call, in the background: a call made
// while the broker is down fails at once ("reconnecting failed"), the next one only after the
// backoff, and calls made once it is back all wait for one reconnection and are answered.
#include <test_support/private_broker.hpp>

#include <programs/cli.hpp>
#include <fibonacci/fibonacci_client.hpp>
#include <fibonacci/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>

#include "call_result.hpp"

#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;

TEST(broker_restart, pending_calls_fail_at_once_then_server_and_client_reconnect) {
    faults_test::private_broker broker(AMQP_FAULTS_WORK_DIR "/rabbitmq-restart-" + std::to_string(getpid()));
    ASSERT_TRUE(broker.ok());

    rpc::cli::io_thread io;
    rpc::server_options so;
    so.queue = "restart-test";
    so.reconnect = true;
    so.reconnect_min = 200ms;
    so.reconnect_max = 2s;
    rpc::fibonacci_service_options slow;
    slow.naive = true;
    rpc::rpc_server server(io.executor(), broker.options(), so, rpc::make_fibonacci_handler(slow));
    server.on_log([](std::string_view line) { std::fprintf(stderr, "server: %.*s\n", int(line.size()), line.data()); });
    server.start();
    rpc::client_options co;
    co.queue = so.queue;
    co.reconnect = true;
    co.reconnect_min = 1s;  // long enough to see the backoff below
    rpc::rpc_client client(io.executor(), broker.options(), co);
    client.start();
    EXPECT_EQ(rpc::fibonacci_client(client).call(10, 30s), 55);

    // A call that cannot be answered before the stop: its request sits in a queue nobody
    // consumes (a queue of its own name), so only the loss of the connection can end it early.
    rpc::client_options lonely = co;
    lonely.queue = "restart-test-nobody";
    rpc::rpc_client waiting(io.executor(), broker.options(), lonely);
    waiting.start();
    {
        auto ch_owner = std::make_unique<rpc::rpc_server>(io.executor(), broker.options(),
                                                          [] { rpc::server_options o; o.queue = "restart-test-nobody"; return o; }(),
                                                          rpc::make_fibonacci_handler({}));
        // Declare the queue (so the request is routed, not returned), then go away.
        ch_owner->start();
        ch_owner->stop();
    }
    rpc::diagnostics diag;
    faults_test::call_result<rpc::big_int> pending_result;
    rpc::fibonacci_client(waiting).async_call(10, 300s, diag, pending_result.handler());
    auto& pending = pending_result.f;

    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(broker.stop());
    // Bounded: far below the call's 300 s timeout, so a pass means "failed at once".
    ASSERT_EQ(pending.wait_for(60s), std::future_status::ready) << "the pending call hung";
    {
        const auto [ec, value] = pending.get();
        EXPECT_TRUE(ec) << "a call answered across a broker stop: " << value;
        EXPECT_EQ(ec, make_error_code(rpc::errc::connection_lost)) << diag.message;
        // "connection lost: ..." or "channel closed: connection closed by broker: 320 ...".
        EXPECT_TRUE(diag.message.find("connection lost") != std::string::npos ||
                    diag.message.find("CONNECTION_FORCED") != std::string::npos)
            << diag.message;
    }
    const double failed_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // While the broker is down, an async_call starts a reconnection in the background and waits
    // for it; the attempt fails (nothing listens), and so does the call, at once.
    {
        rpc::diagnostics d;
        faults_test::call_result<rpc::big_int> down_result;
        rpc::fibonacci_client(client).async_call(20, 60s, d, down_result.handler());
        auto& down = down_result.f;
        ASSERT_EQ(down.wait_for(30s), std::future_status::ready) << "a call with the broker down hung";
        {
            const auto [ec, value] = down.get();
            EXPECT_TRUE(ec) << "answered with the broker down: " << value;
            EXPECT_EQ(ec, make_error_code(rpc::errc::connection_lost)) << d.message;
            EXPECT_NE(d.message.find("reconnecting failed"), std::string::npos) << d.message;
            std::printf("broker_restart: call with the broker down: %s\n", d.message.c_str());
        }
    }
    // A second call at once is held for the backoff after that failed attempt (not a new
    // attempt straight away), then fails by the next attempt.
    {
        rpc::diagnostics d;
        faults_test::call_result<rpc::big_int> again;
        const auto made = std::chrono::steady_clock::now();
        rpc::fibonacci_client(client).async_call(20, 60s, d, again.handler());
        ASSERT_EQ(again.f.wait_for(30s), std::future_status::ready) << "a call during the backoff hung";
        const auto waited = std::chrono::steady_clock::now() - made;
        const auto [ec, value] = again.f.get();
        EXPECT_EQ(ec, make_error_code(rpc::errc::connection_lost)) << d.message << " " << value;
        EXPECT_NE(d.message.find("reconnecting failed"), std::string::npos) << d.message;
        // The attempt that failed the first call ended just before this call was made.
        EXPECT_GE(waited, 900ms) << "no backoff between attempts";
        EXPECT_EQ(client.stats().reconnect_attempts, 2u);
        std::printf("broker_restart: the next call waited %.2f s for the next attempt\n",
                    std::chrono::duration<double>(waited).count());
    }

    ASSERT_TRUE(broker.restart());
    // The server comes back by itself (backoff at most 2 s here); until it has redeclared its
    // queue a request would be returned unroutable.
    for (int i = 0; i < 600 && server.stats().reconnects == 0; ++i) std::this_thread::sleep_for(100ms);
    ASSERT_GE(server.stats().reconnects, 1u) << "the server did not come back";
    // The client on its next calls, made without blocking: the first starts one reconnection,
    // all of them wait for it and are then published.
    rpc::diagnostics diags[5];
    faults_test::call_result<rpc::big_int> calls[5];
    for (std::size_t i = 0; i < 5; ++i) rpc::fibonacci_client(client).async_call(20, 30s, diags[i], calls[i].handler());
    for (std::size_t i = 0; i < 5; ++i) {
        ASSERT_EQ(calls[i].f.wait_for(60s), std::future_status::ready);
        const auto [ec, value] = calls[i].f.get();
        EXPECT_FALSE(ec) << "a call after the restart failed: " << diags[i].message;
        EXPECT_EQ(value, 6765);
    }
    EXPECT_EQ(client.stats().reconnects, 1u) << "one reconnection serves every call made meanwhile";
    EXPECT_EQ(rpc::fibonacci_client(client).call(10, 30s), 55);
    EXPECT_GE(server.stats().reconnects, 1u);
    EXPECT_GE(client.stats().reconnects, 1u);
    std::printf("broker_restart: pending call failed %.2f s after the stop began; server reconnects %llu, "
                "client reconnects %llu\n",
                failed_after, static_cast<unsigned long long>(server.stats().reconnects),
                static_cast<unsigned long long>(client.stats().reconnects));
    client.close();
    server.stop();
}

}  // namespace
