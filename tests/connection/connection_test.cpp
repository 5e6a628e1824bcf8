// Integration tests against the fixture's RabbitMQ: open/close, the queue/consume/publish/ack
// cycle, broker errors with their reply codes, heartbeats, multi-frame bodies, cancellation,
// completion tokens. TLS and authentication: connection_tls_test.cpp; a connection lost
// mid-operation: tests/faults/connection_loss_test.cpp.
#include "connection_helpers.hpp"

#include <amqp/connection.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using amqp_test::consumer;
using amqp_test::io_thread;
using amqp_test::queue;
using amqp_test::ready_within;
using amqp_test::start_declare;
using amqp_test::to;

class Cancellation : public amqp_test::RelayedBroker {};

TEST(Connection, OpensAndClosesCleanly) {
    REQUIRE_BROKER(opts);
    opts.connection_name = "conn-test open/close";
    io_thread io;
    amqp::connection c(io.executor(), opts);
    bool on_close_called = false;
    c.on_close([&](const amqp::close_reason&) { on_close_called = true; });
    c.open();
    EXPECT_TRUE(c.is_open());
    EXPECT_GE(c.negotiated_frame_max(), 4096u);
    EXPECT_GT(c.negotiated_channel_max(), 0);
    const auto props = c.server_properties();
    const auto* product = amqp::find_field(props, "product");
    ASSERT_NE(product, nullptr);
    EXPECT_EQ(product->get<std::string>(), "RabbitMQ");
    c.close();
    EXPECT_FALSE(c.is_open());
    EXPECT_FALSE(c.last_close_reason().code);
    EXPECT_FALSE(on_close_called) << "on_close is not for our own close()";
}

TEST(Connection, DeclareQosConsumePublishAck) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    EXPECT_TRUE(ch.is_open());
    const auto q = ch.declare_queue(queue("", true));
    EXPECT_EQ(q.name.rfind("amq.gen-", 0), 0u) << q.name;
    ch.qos(5);

    constexpr int count = 20;
    std::mutex mu;
    std::vector<std::string> bodies;
    std::vector<std::string> correlation_ids;
    std::promise<void> all;
    const auto tag = ch.consume(consumer(q.name), [&](const amqp::delivered_message& m) {
        std::lock_guard lk(mu);
        bodies.emplace_back(amqp::as_string_view(m.body));
        correlation_ids.emplace_back(m.properties.correlation_id.value_or("?"));
        EXPECT_EQ(m.properties.reply_to.value_or(""), "replies");
        EXPECT_FALSE(ch.ack(m.method.delivery_tag));
        if (bodies.size() == count) all.set_value();
    });
    EXPECT_FALSE(tag.empty());
    for (int i = 0; i < count; ++i) {
        const std::string body = "message " + std::to_string(i);
        const std::string corr = "c" + std::to_string(i);
        amqp::basic_properties p;
        p.correlation_id = corr;
        p.reply_to = "replies";
        p.content_type = "text/plain";
        ASSERT_FALSE(ch.publish(to(q.name), p, amqp::as_bytes(body)));
    }
    auto f = all.get_future();
    ASSERT_TRUE(ready_within(f)) << "deliveries did not arrive";
    {
        std::lock_guard lk(mu);
        for (int i = 0; i < count; ++i) {
            EXPECT_EQ(bodies[i], "message " + std::to_string(i));
            EXPECT_EQ(correlation_ids[i], "c" + std::to_string(i));
        }
    }
    ch.cancel(tag);
    // All acked: a passive declare sees an empty queue.
    const auto again = ch.declare_queue(queue(q.name, false, true));
    EXPECT_EQ(again.message_count, 0u);
    ch.close();
    EXPECT_FALSE(ch.is_open());
    c.close();
}

TEST(Connection, AsyncOperationsWithCallbacks) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    std::promise<amqp::error_code> opened;
    c.async_open([&](amqp::error_code ec) { opened.set_value(ec); });
    auto fo = opened.get_future();
    ASSERT_TRUE(ready_within(fo));
    ASSERT_FALSE(fo.get());
    std::promise<std::pair<amqp::error_code, amqp::queue_info>> declared;
    c.async_open_channel([&](amqp::error_code ec, amqp::channel ch) {
        ASSERT_FALSE(ec);
        // Chained from a completion handler, as an event-driven program would.
        auto holder = std::make_shared<amqp::channel>(ch);
        holder->async_declare_queue(queue("", true), [&, holder](amqp::error_code e, amqp::queue_info qi) {
            declared.set_value({e, qi});
        });
    });
    auto fd = declared.get_future();
    ASSERT_TRUE(ready_within(fd));
    auto [ec, qi] = fd.get();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_FALSE(qi.name.empty());
    auto fc = c.async_close(boost::asio::use_future);
    ASSERT_TRUE(ready_within(fc));
    fc.get();
}

TEST(Connection, ExclusiveQueueOfAnotherConnectionIsResourceLocked) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection a(io.executor(), opts);
    amqp::connection b(io.executor(), opts);
    a.open();
    b.open();
    auto cha = a.open_channel();
    const auto q = cha.declare_queue(queue("", true));
    auto chb = b.open_channel();
    std::promise<amqp::close_reason> closed;
    chb.on_close([&](const amqp::close_reason& r) { closed.set_value(r); });
    try {
        chb.declare_queue(queue(q.name, false, true));
        FAIL() << "declaring another connection's exclusive queue succeeded";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::reply_code::resource_locked) << e.what();
        EXPECT_NE(std::string(e.what()).find("405 RESOURCE_LOCKED"), std::string::npos) << e.what();
    }
    const auto r = chb.last_close_reason();
    EXPECT_EQ(r.reply_code, 405);
    EXPECT_EQ(r.class_id, 50);
    EXPECT_EQ(r.method_id, 10);
    EXPECT_TRUE(r.from_broker);
    auto fr = closed.get_future();
    ASSERT_TRUE(ready_within(fr));
    EXPECT_EQ(fr.get().reply_code, 405);
    EXPECT_FALSE(chb.is_open());
    EXPECT_TRUE(b.is_open()) << "a channel error must not close the connection";
    // The connection still works: a fresh channel declares fine.
    auto chb2 = b.open_channel();
    EXPECT_FALSE(chb2.declare_queue(queue("", true)).name.empty());
    b.close();
    a.close();
}

TEST(Connection, PassiveDeclareOfMissingQueueIsNotFound) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    auto f = start_declare(ch, queue("conn-test-no-such-queue", false, true));
    ASSERT_TRUE(ready_within(f));
    EXPECT_EQ(f.get(), amqp::reply_code::not_found);
    const auto r = ch.last_close_reason();
    EXPECT_EQ(r.reply_code, 404);
    EXPECT_NE(r.reply_text.find("conn-test-no-such-queue"), std::string::npos) << r.reply_text;
    EXPECT_NE(r.to_string().find("404 NOT_FOUND"), std::string::npos) << r.to_string();
    // Later operations on the closed channel fail at once.
    EXPECT_EQ(ch.publish(to("x"), {}, {}), amqp::client_error::not_open);
    c.close();
}

TEST(Connection, HeartbeatKeepsIdleConnectionAlive) {
    REQUIRE_BROKER(opts);
    opts.heartbeat = 1;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    std::atomic<bool> closed{false};
    c.on_close([&](const amqp::close_reason&) { closed = true; });
    c.open();
    EXPECT_EQ(c.negotiated_heartbeat(), 1);
    std::this_thread::sleep_for(5s);
    EXPECT_TRUE(c.is_open());
    EXPECT_FALSE(closed.load());
    auto ch = c.open_channel();
    EXPECT_FALSE(ch.declare_queue(queue("", true)).name.empty());
    c.close();
}

TEST(Connection, LargeMessageCrossesInSeveralBodyFrames) {
    REQUIRE_BROKER(opts);
    opts.frame_max = 4096;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    ASSERT_EQ(c.negotiated_frame_max(), 4096u);
    auto ch = c.open_channel();
    const auto q = ch.declare_queue(queue("", true));
    std::string big(300 * 1024 + 17, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i * 7 % 26);
    std::promise<std::string> got;
    ch.consume(consumer(q.name, true),
               [&](const amqp::delivered_message& m) { got.set_value(std::string(amqp::as_string_view(m.body))); });
    ASSERT_FALSE(ch.publish(to(q.name), {}, amqp::as_bytes(big)));
    auto f = got.get_future();
    ASSERT_TRUE(ready_within(f));
    const auto received = f.get();
    EXPECT_EQ(received.size(), big.size());
    EXPECT_TRUE(received == big);
    c.close();
}

TEST(Connection, UnroutableMandatoryMessageIsReturned) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    std::promise<std::pair<std::uint16_t, std::string>> returned;
    ch.on_return([&](const amqp::returned_message& m) {
        returned.set_value({m.method.reply_code, std::string(amqp::as_string_view(m.body))});
    });
    ASSERT_FALSE(ch.publish(to("conn-test-nobody-listens", true), {}, amqp::as_bytes("lost")));
    auto f = returned.get_future();
    ASSERT_TRUE(ready_within(f));
    const auto [code, body] = f.get();
    EXPECT_EQ(code, 312);
    EXPECT_EQ(body, "lost");
    c.close();
}

TEST_F(Cancellation, CancelledRequestCompletesAtOnceAndTheChannelGoesOn) {
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    relay().set_drop(true);  // the reply will not come
    boost::asio::cancellation_signal sig;
    auto f = start_declare(ch, queue("", true), [&](auto handler) {
        return boost::asio::bind_cancellation_slot(sig.slot(), std::move(handler));
    });
    EXPECT_FALSE(ready_within(f, 200ms));
    // Emitted from the connection's executor, as Asio's cancellation model expects.
    boost::asio::post(c.get_executor(), [&] { sig.emit(boost::asio::cancellation_type::terminal); });
    ASSERT_TRUE(ready_within(f, 5s));
    EXPECT_EQ(f.get(), amqp::client_error::operation_aborted);
}

TEST_F(Cancellation, CancelledOpenGivesUp) {
    relay().set_drop(true);  // TCP connects, the AMQP handshake never answers
    amqp::connection c(io.executor(), opts);
    boost::asio::cancellation_signal sig;
    std::promise<amqp::error_code> done;
    c.async_open(boost::asio::bind_cancellation_slot(sig.slot(), [&](amqp::error_code ec) { done.set_value(ec); }));
    auto f = done.get_future();
    EXPECT_FALSE(ready_within(f, 300ms));
    boost::asio::post(c.get_executor(), [&] { sig.emit(boost::asio::cancellation_type::terminal); });
    ASSERT_TRUE(ready_within(f, 5s));
    EXPECT_EQ(f.get(), amqp::client_error::operation_aborted);
    EXPECT_FALSE(c.is_open());
}

TEST(Tokens, CoroutinesWithUseAwaitable) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    std::promise<std::string> result;
    boost::asio::co_spawn(
        c.get_executor(),
        [&]() -> boost::asio::awaitable<void> {
            co_await c.async_open(boost::asio::use_awaitable);
            auto ch = co_await c.async_open_channel(boost::asio::use_awaitable);
            amqp::queue_options q = queue("", true);
            q.arguments = {{"x-expires", std::int32_t{60000}}, {"x-queue-type", "classic"}};
            const auto info = co_await ch.async_declare_queue(std::move(q), boost::asio::use_awaitable);
            co_await ch.async_qos(1, boost::asio::use_awaitable);
            co_await ch.async_close(boost::asio::use_awaitable);
            co_await c.async_close(boost::asio::use_awaitable);
            result.set_value(info.name);
        },
        [&](std::exception_ptr e) {
            if (e) result.set_exception(e);
        });
    auto f = result.get_future();
    ASSERT_TRUE(ready_within(f));
    EXPECT_EQ(f.get().rfind("amq.gen-", 0), 0u);
}

TEST(Acks, NackRequeuesAndRejectDrops) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    const auto q = ch.declare_queue(queue("", true));
    ASSERT_FALSE(ch.publish(to(q.name), {}, amqp::as_bytes("once")));
    std::mutex mu;
    std::vector<bool> redelivered;
    std::promise<void> twice;
    ch.consume(consumer(q.name), [&](const amqp::delivered_message& m) {
        std::lock_guard lk(mu);
        redelivered.push_back(m.method.redelivered);
        if (redelivered.size() == 1) {
            EXPECT_FALSE(ch.nack(m.method.delivery_tag, false, true));  // back to the queue
        } else if (redelivered.size() == 2) {
            EXPECT_FALSE(ch.reject(m.method.delivery_tag, false));  // dropped for good
            twice.set_value();
        }
    });
    auto f = twice.get_future();
    ASSERT_TRUE(ready_within(f));
    {
        std::lock_guard lk(mu);
        ASSERT_EQ(redelivered.size(), 2u);
        EXPECT_FALSE(redelivered[0]);
        EXPECT_TRUE(redelivered[1]);
    }
    auto check = c.open_channel();
    EXPECT_EQ(check.declare_queue(queue(q.name, false, true)).message_count, 0u);
    c.close();
}

}  // namespace
