// The broker restarts under a running server and client: the call pending at the stop fails at
// once with "connection lost" (not by its timeout), the server (server_options::reconnect)
// reconnects with backoff, redeclares its queue and consumes again by itself, and the client
// (client_options::reconnect) reconnects on its next call, which is answered.
#include "private_broker.hpp"

#include <rpc/cli.hpp>
#include <rpc/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>

#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <future>
#include <thread>

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
    rpc::rpc_client client(io.executor(), broker.options(), co);
    client.start();
    EXPECT_EQ(client.call(10, 30s), 55);

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
    auto pending = waiting.async_call(10, 300s, diag, boost::asio::use_future);

    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(broker.stop());
    // Bounded: far below the call's 300 s timeout, so a pass means "failed at once".
    ASSERT_EQ(pending.wait_for(60s), std::future_status::ready) << "the pending call hung";
    try {
        pending.get();
        ADD_FAILURE() << "a call answered across a broker stop";
    } catch (const boost::system::system_error& e) {  // use_future throws the bare error code
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::connection_lost)) << diag.message;
        // "connection lost: ..." or "channel closed: connection closed by broker: 320 ...".
        EXPECT_TRUE(diag.message.find("connection lost") != std::string::npos ||
                    diag.message.find("CONNECTION_FORCED") != std::string::npos)
            << diag.message;
    }
    const double failed_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    ASSERT_TRUE(broker.restart());
    // The server comes back by itself (backoff at most 2 s here); the client on its next call.
    bool answered = false;
    std::string last_error;
    for (int attempt = 0; attempt < 60 && !answered; ++attempt) {
        try {
            EXPECT_EQ(client.call(20, 5s), 6765);
            answered = true;
        } catch (const rpc::call_error& e) {
            last_error = e.reason();
            std::this_thread::sleep_for(500ms);
        }
    }
    EXPECT_TRUE(answered) << "no answer after the restart; last error: " << last_error;
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
