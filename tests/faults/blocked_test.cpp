// connection.blocked: a memory alarm on the broker (vm_memory_high_watermark 0) blocks every
// publishing connection. The client reports it (is_blocked) and holds new requests rather than
// writing them to a socket nobody reads: a call made meanwhile ends with a clean timeout that
// says the connection was blocked and why; a call with a longer timeout is published when the
// broker unblocks and answered, on the same connection.
#include <test_support/private_broker.hpp>

#include <fibonacci/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <fibonacci/fibonacci_client.hpp>
#include <rpc/rpc_server.hpp>
#include <programs/cli.hpp>

#include "call_result.hpp"

#include <boost/asio/use_future.hpp>

#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 50ms) {
        if (p()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return p();
}

TEST(blocked, calls_time_out_cleanly_while_blocked_and_succeed_after) {
    faults_test::private_broker broker(AMQP_FAULTS_WORK_DIR "/rabbitmq-blocked-" + std::to_string(getpid()));
    ASSERT_TRUE(broker.ok());

    rpc::cli::io_thread io;
    rpc::server_options so;
    so.queue = "blocked-test";
    rpc::rpc_server server(io.executor(), broker.options(), so, rpc::make_fibonacci_handler({}));
    server.start();
    rpc::client_options co;
    co.queue = so.queue;
    rpc::rpc_client client(io.executor(), broker.options(), co);
    client.start();
    EXPECT_EQ(rpc::fibonacci_client(client).call(10, 30s), 55);
    EXPECT_FALSE(client.is_blocked());

    ASSERT_TRUE(broker.ctl({"set_vm_memory_high_watermark", "0"}));
    // RabbitMQ announces the block when it reads the next publish: this call's request goes out
    // and sits unread; the call ends by its timeout, saying why.
    try {
        rpc::fibonacci_client(client).call(10, 2s);
        ADD_FAILURE() << "a call succeeded under a memory alarm";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::timeout)) << e.reason();
        EXPECT_NE(e.reason().find("blocked"), std::string::npos) << e.reason();
        std::printf("blocked: first call: %s\n", e.reason().c_str());
    }
    EXPECT_TRUE(wait_until([&] { return client.is_blocked(); }, 10s)) << "connection.blocked never reported";

    // Known to be blocked: calls are held by the client, not piled into the write buffer, and
    // end by their own timeout with the broker's reason.
    rpc::diagnostics short_diag[3];
    faults_test::call_result<rpc::big_int> short_calls[3];
    for (std::size_t i = 0; i < 3; ++i) rpc::fibonacci_client(client).async_call(10, 1s, short_diag[i], short_calls[i].handler());
    // Requests reach the client's strand through a post: the count shows them once they did.
    EXPECT_TRUE(wait_until([&] { return client.held_requests() == 3u; }, 10s)) << client.held_requests();
    const auto sent_before = client.stats().calls;
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_EQ(short_calls[i].f.wait_for(30s), std::future_status::ready) << "a held call hung";
        {
            const auto [ec, value] = short_calls[i].f.get();
            EXPECT_TRUE(ec) << "a held call was answered while blocked: " << value;
            EXPECT_EQ(ec, make_error_code(rpc::errc::timeout)) << short_diag[i].message;
            EXPECT_NE(short_diag[i].message.find("never sent: the broker blocked the connection"), std::string::npos)
                << short_diag[i].message;
        }
    }
    std::printf("blocked: held call: %s\n", short_diag[0].message.c_str());
    EXPECT_EQ(client.stats().calls, sent_before) << "a held request was published while blocked";
    EXPECT_EQ(client.held_requests(), 0u);

    // A patient call made while blocked is published once the broker unblocks, and answered.
    auto patient = rpc::fibonacci_client(client).async_call(12, 120s, boost::asio::use_future);
    EXPECT_TRUE(wait_until([&] { return client.held_requests() == 1u; }, 10s)) << client.held_requests();
    const bool cleared = broker.ctl({"set_vm_memory_high_watermark", "0.4"});
    ASSERT_TRUE(cleared);
    EXPECT_TRUE(wait_until([&] { return !client.is_blocked(); }, 30s)) << "connection.unblocked never came";
    ASSERT_EQ(patient.wait_for(60s), std::future_status::ready) << "the held call was not sent after the unblock";
    EXPECT_EQ(patient.get(), 144);
    EXPECT_EQ(rpc::fibonacci_client(client).call(20, 30s), 6765);
    EXPECT_TRUE(client.is_running());
    client.close();
    server.stop();
}

}  // namespace
