// connection.blocked: a memory alarm on the broker (vm_memory_high_watermark 0) blocks every
// publishing connection. The client reports it (is_blocked), a call made meanwhile ends with a
// clean timeout instead of hanging, and once the alarm clears the client is unblocked and calls
// succeed again on the same connection.
#include "private_broker.hpp"

#include <rpc/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>
#include <rpc/cli.hpp>

#include <thread>

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
    EXPECT_EQ(client.call(10, 30s), 55);
    EXPECT_FALSE(client.is_blocked());

    ASSERT_TRUE(broker.ctl({"set_vm_memory_high_watermark", "0"}));
    try {
        client.call(10, 2s);
        ADD_FAILURE() << "a call succeeded under a memory alarm";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::timeout)) << e.reason();
    }
    EXPECT_TRUE(wait_until([&] { return client.is_blocked(); }, 10s)) << "connection.blocked never reported";

    const bool cleared = broker.ctl({"set_vm_memory_high_watermark", "0.4"});
    ASSERT_TRUE(cleared);
    EXPECT_TRUE(wait_until([&] { return !client.is_blocked(); }, 30s)) << "connection.unblocked never came";
    EXPECT_EQ(client.call(20, 30s), 6765);
    EXPECT_TRUE(client.is_running());
    client.close();
    server.stop();
}

}  // namespace
