// Integration tests against the fixture's RabbitMQ: open/close, the queue/consume/publish/ack
// cycle, broker errors with their reply codes, heartbeats, multi-frame bodies, TLS, auth.
#include <test_support/test_relay.hpp>
#include "test_broker.hpp"

#include <amqp/connection.hpp>
#include <amqp/transport/error.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using amqp_test::broker_options;
using amqp_test::io_thread;
using amqp_test::ready_within;


// Designated initializers of partial structs trip -Wmissing-field-initializers; build them here.
amqp::queue_options queue(std::string name, bool exclusive = false, bool passive = false) {
    amqp::queue_options o;
    o.name = std::move(name);
    o.exclusive = exclusive;
    o.passive = passive;
    return o;
}
amqp::consume_options consumer(std::string q, bool no_ack = false) {
    amqp::consume_options o;
    o.queue = std::move(q);
    o.no_ack = no_ack;
    return o;
}
amqp::publish_options to(std::string_view routing_key, bool mandatory = false) {
    amqp::publish_options o;
    o.routing_key = routing_key;
    o.mandatory = mandatory;
    return o;
}

// The same options, pointed at a relay to the broker that the test can cut or silence.
amqp::connection_options through(const amqp_test::test_relay& relay, amqp::connection_options opts) {
    opts.host = "127.0.0.1";
    opts.port = relay.port();
    return opts;
}

// Starts a queue.declare (by default a server-named exclusive queue) and returns its outcome to
// come. `wrap` may bind the handler, e.g. to a cancellation slot. A callback, not use_future: an
// exception_ptr crossing threads trips TSan in libstdc++.
template <class Wrap = std::identity>
std::future<amqp::error_code> start_declare(amqp::channel& ch, amqp::queue_options q = queue("", true),
                                            Wrap wrap = {}) {
    auto done = std::make_shared<std::promise<amqp::error_code>>();
    auto f = done->get_future();
    ch.async_declare_queue(std::move(q), wrap([done](amqp::error_code ec, amqp::queue_info) { done->set_value(ec); }));
    return f;
}

#define REQUIRE_BROKER(opts)                                               \
    auto opts##_maybe = broker_options();                                  \
    if (!opts##_maybe) GTEST_SKIP() << "no broker (AMQP_URL / AMQP_URL_FILE)"; \
    amqp::connection_options opts = *opts##_maybe

// Tests that cut or silence the line: the broker's options pointed at a relay, and an I/O
// thread. Skipped without a broker.
class RelayedBroker : public ::testing::Test {
protected:
    void SetUp() override {
        auto direct = broker_options();
        if (!direct) GTEST_SKIP() << "no broker (AMQP_URL / AMQP_URL_FILE)";
        relay_.emplace(direct->port);
        opts = through(*relay_, *direct);
    }
    amqp_test::test_relay& relay() { return *relay_; }

    amqp::connection_options opts;
    io_thread io;

private:
    std::optional<amqp_test::test_relay> relay_;
};
class ConnectionLoss : public RelayedBroker {};
class Cancellation : public RelayedBroker {};

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
        holder->async_declare_queue(queue("", true),
                                    [&, holder](amqp::error_code e, amqp::queue_info qi) {
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
    ASSERT_FALSE(ch.publish(to("conn-test-nobody-listens", true), {},
                            amqp::as_bytes("lost")));
    auto f = returned.get_future();
    ASSERT_TRUE(ready_within(f));
    const auto [code, body] = f.get();
    EXPECT_EQ(code, 312);
    EXPECT_EQ(body, "lost");
    c.close();
}

TEST(Connection, WrongPasswordIsAnAuthenticationError) {
    REQUIRE_BROKER(opts);
    opts.password = "definitely-not-the-password";
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "open succeeded with a wrong password";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::client_error::authentication_failed) << e.what();
        EXPECT_EQ(std::string(e.what()).find("definitely-not-the-password"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
}

TEST(Connection, UnreachablePortFailsWithinTheTimeout) {
    // A port nobody listens on: bind one, note it, close it.
    boost::asio::io_context probe;
    boost::asio::ip::tcp::acceptor acc(probe, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acc.local_endpoint().port();
    acc.close();
    amqp::connection_options opts;
    opts.host = "127.0.0.1";
    opts.port = port;
    opts.connection_timeout = 3s;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    std::promise<amqp::error_code> done;
    c.async_open([&](amqp::error_code ec) { done.set_value(ec); });
    auto f = done.get_future();
    ASSERT_TRUE(ready_within(f, 10s)) << "open did not finish within its timeout";
    EXPECT_EQ(f.get(), boost::asio::error::connection_refused);
    EXPECT_FALSE(c.is_open());
}

TEST(Connection, TlsWithTheFixtureCa) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    io_thread io;
    amqp::connection c(io.executor(), *maybe);
    c.open();
    auto ch = c.open_channel();
    EXPECT_FALSE(ch.declare_queue(queue("", true)).name.empty());
    c.close();
}

TEST(Connection, TlsRejectsABrokerNotSignedByOurCa) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    opts.tls.ca_file.clear();  // the system CAs do not know the fixture's CA
    opts.tls.cert_file.clear();
    opts.tls.key_file.clear();
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "TLS verification accepted an unknown CA";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::transport_error::tls_error) << e.what();
        // OpenSSL's reason, not only "certificate verify failed": an unknown issuer.
        EXPECT_NE(std::string(e.what()).find("not signed by a CA in the system's CA paths"), std::string::npos)
            << e.what();
    }
}

TEST(Connection, TlsNamesAHostNameMismatch) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    // The fixture's CA is trusted, but its certificate names 127.0.0.1 and localhost only.
    opts.tls.server_name = "broker.invalid";
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "TLS verification accepted a certificate for another name";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::transport_error::tls_error) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find("does not name 'broker.invalid'"), std::string::npos) << what;
        EXPECT_EQ(what.find("not signed by a CA"), std::string::npos) << what;
    }
}

TEST(Connection, PlainAmqpToATlsPortSuggestsAmqps) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    opts.use_tls = false;  // amqp:// to the amqps:// listener's port
    opts.connection_timeout = 30s;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "a plain AMQP handshake succeeded on the TLS port";
    } catch (const amqp::error& e) {
        EXPECT_NE(std::string(e.what()).find("is this a TLS port? use amqps://"), std::string::npos) << e.what();
    }
}

}  // namespace

namespace {

TEST_F(ConnectionLoss, LostSocketFailsPendingOperationsAndCallsOnClose) {
    amqp::connection c(io.executor(), opts);
    std::promise<amqp::close_reason> conn_closed, chan_closed;
    c.on_close([&](const amqp::close_reason& r) { conn_closed.set_value(r); });
    c.open();
    auto ch = c.open_channel();
    ch.on_close([&](const amqp::close_reason& r) { chan_closed.set_value(r); });
    const auto q = ch.declare_queue(queue("", true));
    std::atomic<int> deliveries{0};
    ch.consume(consumer(q.name, true), [&](const amqp::delivered_message&) { ++deliveries; });
    relay().cut_all();
    auto fc = conn_closed.get_future();
    ASSERT_TRUE(ready_within(fc));
    const auto r = fc.get();
    EXPECT_EQ(r.code, amqp::client_error::connection_lost) << r.to_string();
    auto fch = chan_closed.get_future();
    ASSERT_TRUE(ready_within(fch));
    EXPECT_EQ(fch.get().code, amqp::client_error::connection_lost);
    EXPECT_FALSE(c.is_open());
    EXPECT_FALSE(ch.is_open());
    EXPECT_EQ(ch.publish(to(q.name), {}, amqp::as_bytes("x")), amqp::client_error::not_open);
    auto fd = start_declare(ch);
    ASSERT_TRUE(ready_within(fd));
    EXPECT_EQ(fd.get(), amqp::client_error::not_open);
    c.close();  // already closed: completes at once
}

TEST_F(ConnectionLoss, SilentPeerIsDetectedByMissedHeartbeats) {
    opts.heartbeat = 1;
    amqp::connection c(io.executor(), opts);
    std::promise<amqp::close_reason> closed;
    c.on_close([&](const amqp::close_reason& r) { closed.set_value(r); });
    c.open();
    auto ch = c.open_channel();
    // A request that will never be answered: it must fail when the peer is declared dead.
    relay().set_drop(true);
    auto fd = start_declare(ch);
    auto fc = closed.get_future();
    ASSERT_TRUE(ready_within(fc, 20s));
    EXPECT_EQ(fc.get().code, amqp::client_error::missed_heartbeats);
    ASSERT_TRUE(ready_within(fd, 5s));
    EXPECT_EQ(fd.get(), amqp::client_error::missed_heartbeats);
}

TEST_F(ConnectionLoss, PendingOperationsFailWithOperationAbortedOnOurClose) {
    // close-ok is awaited at most min(connection_timeout, 5 s): 2 s here, so the test does not
    // wait out the full default bound.
    opts.connection_timeout = 2s;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    relay().set_drop(true);
    auto fd = start_declare(ch);
    // close-ok never comes through the silent relay: close gives up after its bound.
    auto fc = c.async_close(boost::asio::use_future);
    ASSERT_TRUE(ready_within(fd, 20s));
    EXPECT_EQ(fd.get(), amqp::client_error::operation_aborted);
    ASSERT_TRUE(ready_within(fc, 20s));
    fc.get();
    EXPECT_FALSE(c.is_open());
}

TEST_F(ConnectionLoss, CloseWithADeadlineEndsByItWhenThePeerIsSilent) {
    // A frozen (or resource-alarm blocked) broker never sends close-ok. Without a deadline close
    // waits its own bound (5 s); with one it must end by the caller's deadline, so a program
    // exits at its own timeout. The check allows 4 s for a 100 ms deadline: only a close that
    // ignored the deadline and waited out the 5 s bound fails it.
    opts.heartbeat = 0;
    amqp::connection c(io.executor(), opts);
    c.open();
    relay().set_drop(true);
    std::promise<amqp::error_code> done;
    c.async_close(std::chrono::steady_clock::now() + 100ms, [&](amqp::error_code ec) { done.set_value(ec); });
    auto f = done.get_future();
    ASSERT_TRUE(ready_within(f, 4s)) << "close outlived its deadline";
    EXPECT_FALSE(c.is_open());
    // The synchronous form, with a deadline already past, returns too.
    amqp::connection c2(io.executor(), opts);
    relay().set_drop(false);
    c2.open();
    relay().set_drop(true);
    auto sync = std::async(std::launch::async, [&] { c2.close(std::chrono::steady_clock::now()); });
    ASSERT_TRUE(ready_within(sync, 4s)) << "close() outlived its deadline";
    sync.get();
}

}  // namespace

namespace {

TEST_F(Cancellation, CancelledRequestCompletesAtOnceAndTheChannelGoesOn) {
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    relay().set_drop(true);  // the reply will not come
    boost::asio::cancellation_signal sig;
    auto f = start_declare(ch, queue("", true),
                           [&](auto handler) { return boost::asio::bind_cancellation_slot(sig.slot(), std::move(handler)); });
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

}  // namespace

namespace {

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
