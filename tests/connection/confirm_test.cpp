// Publisher confirms against the fixture's RabbitMQ: many publishes in flight all acked, a
// mandatory message to no queue completes as returned, and a queue full with reject-publish
// makes the broker nack.
#include "test_broker.hpp"

#include <amqp/connection.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace {

using amqp::error_code;
using amqp_test::broker_options;
using amqp_test::io_thread;
using amqp_test::ready_within;

amqp::publish_options to_queue(std::string_view queue, bool mandatory = false) {
    amqp::publish_options o;
    o.routing_key = queue;
    o.mandatory = mandatory;
    return o;
}

// Publish and wait for the broker's settlement.
error_code publish_confirmed(amqp::channel& ch, const amqp::publish_options& o, std::string_view body) {
    std::promise<error_code> p;
    auto f = p.get_future();
    ch.async_publish(o, amqp::basic_properties{}, amqp::as_bytes(body), [&p](error_code ec) { p.set_value(ec); });
    if (!ready_within(f)) return make_error_code(amqp::client_error::operation_aborted);
    return f.get();
}

void confirm_select(amqp::channel& ch) {
    std::promise<error_code> p;
    auto f = p.get_future();
    ch.async_confirm_select([&p](error_code ec) { p.set_value(ec); });
    ASSERT_TRUE(ready_within(f));
    const auto ec = f.get();
    ASSERT_FALSE(ec) << ec.message();
}

// A connection to the fixture's broker and a channel on it; skipped without a broker.
class Confirms : public ::testing::Test {
protected:
    void SetUp() override {
        auto opts = broker_options();
        if (!opts) GTEST_SKIP() << "no broker (AMQP_URL / AMQP_URL_FILE)";
        conn.emplace(io.executor(), *opts);
        conn->open();
        ch = conn->open_channel();
    }
    void TearDown() override {
        if (conn && conn->is_open()) conn->close();
    }

    io_thread io;
    std::optional<amqp::connection> conn;
    amqp::channel ch;
};

TEST_F(Confirms, ThousandPublishesInFlightAreAllAcked) {
    amqp::queue_options qo;
    qo.exclusive = true;
    const auto q = ch.declare_queue(qo);
    confirm_select(ch);

    constexpr int n = 1000;
    std::atomic<int> done{0}, ok{0};
    std::mutex mu;
    std::vector<int> calls(n, 0);
    std::promise<void> all;
    for (int i = 0; i < n; ++i) {
        ch.async_publish(to_queue(q.name), amqp::basic_properties{}, amqp::as_bytes("m" + std::to_string(i)),
                         [&, i](error_code ec) {
                             {
                                 std::lock_guard lk(mu);
                                 ++calls[i];
                             }
                             if (!ec) ++ok;
                             if (++done == n) all.set_value();
                         });
    }
    auto f = all.get_future();
    ASSERT_TRUE(ready_within(f, std::chrono::seconds(60)));
    EXPECT_EQ(ok.load(), n);
    for (int i = 0; i < n; ++i) EXPECT_EQ(calls[i], 1) << i;
    // The broker has them all: the queue holds n messages.
    qo.name = q.name;
    qo.passive = true;
    EXPECT_EQ(ch.declare_queue(qo).message_count, static_cast<std::uint32_t>(n));
}

TEST_F(Confirms, MandatoryToNoQueueCompletesAsReturned) {
    std::atomic<int> returns{0};
    ch.on_return([&](const amqp::returned_message& m) {
        if (m.method.reply_code == 312) ++returns;
    });
    confirm_select(ch);
    const auto nowhere = amqp_test::unique_name("confirm-test-no-such-queue");
    EXPECT_EQ(publish_confirmed(ch, to_queue(nowhere, true), "lost"), amqp::client_error::publish_returned);
    EXPECT_EQ(returns.load(), 1);
    // Not mandatory: the broker drops it and acks.
    EXPECT_FALSE(publish_confirmed(ch, to_queue(nowhere, false), "dropped"));
}

TEST_F(Confirms, AFullQueueWithRejectPublishIsNacked) {
    amqp::queue_options qo;
    qo.exclusive = true;
    qo.arguments.emplace_back("x-max-length", std::int32_t{1});
    qo.arguments.emplace_back("x-overflow", std::string("reject-publish"));
    const auto q = ch.declare_queue(qo);
    confirm_select(ch);
    EXPECT_FALSE(publish_confirmed(ch, to_queue(q.name), "first"));
    EXPECT_EQ(publish_confirmed(ch, to_queue(q.name), "second"), amqp::client_error::publish_nacked);
    EXPECT_TRUE(ch.is_open());  // a nack is per message: the channel stays usable
}

}  // namespace
