// A connection lost mid-operation, against the fixture's RabbitMQ through a relay the test cuts
// or silences: pending operations fail with one clear error, on_close is called, a silent peer
// is found by missed heartbeats, and our own close ends pending work and honours its deadline.
#include "../connection/connection_helpers.hpp"

#include <amqp/connection.hpp>

#include <chrono>
#include <future>
#include <string>

#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using amqp_test::consumer;
using amqp_test::queue;
using amqp_test::ready_within;
using amqp_test::start_declare;
using amqp_test::to;

class ConnectionLoss : public amqp_test::RelayedBroker {};

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
