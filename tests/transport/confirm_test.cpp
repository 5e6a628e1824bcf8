// Publisher confirms in the transport, over the test stream: a scripted broker answers
// confirm.select and the test plays the broker's basic.ack / basic.nack / basic.return, checking
// that each async_publish completes once, with the broker's answer, and never inside the call.
#include "run_until.hpp"
#include "scripted_broker.hpp"
#include "test_stream.hpp"

#include <amqp/connection.hpp>
#include <amqp/protocol/client_error.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/deferred.hpp>

namespace {

using amqp_test::operator+;

using amqp::error_code;
using amqp_test::to_queue;
namespace asio = boost::asio;

struct published {
    std::uint16_t channel;
    std::string routing_key;
    std::string body;
};

struct result {
    int calls = 0;
    error_code ec;
};

struct confirms : ::testing::Test {
    asio::io_context ioc;
    std::shared_ptr<amqp_test::test_peer> peer = std::make_shared<amqp_test::test_peer>(ioc.get_executor());
    std::optional<amqp::connection> conn;
    amqp::channel ch;
    std::vector<published> seen;  // what reached the broker, in order
    std::vector<result> results;  // one per publish, in order

    void SetUp() override {
        amqp_test::scripted_broker_options o;
        o.on_publish = [this](std::uint16_t c, const std::string& rk, const amqp::byte_buffer& body) {
            seen.push_back({c, rk, std::string(body.begin(), body.end())});
        };
        amqp_test::act_as_broker(*peer, o);
        conn.emplace(ioc.get_executor(), amqp::connection_options{}, peer->make_stream());
        bool done = false;
        error_code ec;
        conn->async_open([&](error_code e) { ec = e, done = true; });
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return done; }));
        ASSERT_FALSE(ec) << ec.message();
        done = false;
        conn->async_open_channel([&](error_code e, amqp::channel c) { ec = e, ch = std::move(c), done = true; });
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return done; }));
        ASSERT_FALSE(ec) << ec.message();
    }
    void select() {
        bool done = false;
        error_code ec;
        ch.async_confirm_select([&](error_code e) { ec = e, done = true; });
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return done; }));
        ASSERT_FALSE(ec) << ec.message();
    }
    // Publish with a recorded completion; results must be reserved first (stable addresses).
    void publish(std::string_view body, bool mandatory = false, std::string_view rk = "q") {
        auto opts = to_queue(rk);
        opts.mandatory = mandatory;
        results.emplace_back();
        auto* r = &results.back();
        ch.async_publish(opts, amqp::basic_properties{}, amqp::as_bytes(body), [r](error_code e) {
            ++r->calls;
            r->ec = e;
        });
        EXPECT_EQ(r->calls, 0) << "completed inside the initiating call";
    }
    void wait_published(std::size_t n) {
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return seen.size() >= n; }));
    }
    bool all_done() const {
        for (const auto& r : results)
            if (r.calls == 0) return false;
        return true;
    }
    void wait_all() {
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return all_done(); }));
    }
    void send(const amqp::method& m) { peer->send(amqp_test::method_frame(ch.id(), m)); }
    void close() {
        bool done = false;
        conn->async_close([&](error_code) { done = true; });
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return done; }));
        for (const auto& r : results) EXPECT_EQ(r.calls, 1);
        conn.reset();
        EXPECT_TRUE(amqp_test::runs_dry(ioc));
    }
};

TEST_F(confirms, acks_single_and_multiple_settle_each_publish_once) {
    select();
    results.reserve(5);
    for (int i = 0; i < 5; ++i) publish("m" + std::to_string(i));
    wait_published(5);
    send(amqp::basic_ack{2, false});
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return results[1].calls == 1; }));
    EXPECT_EQ(results[0].calls, 0);
    send(amqp::basic_ack{4, true});  // 1, 3 and 4 (2 was answered already)
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return results[3].calls == 1; }));
    EXPECT_EQ(results[4].calls, 0);
    send(amqp::basic_ack{5, false});
    wait_all();
    for (const auto& r : results) EXPECT_FALSE(r.ec) << r.ec.message();
    close();
}

TEST_F(confirms, a_nack_fails_that_publish_only) {
    select();
    results.reserve(3);
    publish("a");
    publish("b");
    publish("c");
    wait_published(3);
    send(amqp::basic_nack{2, false, false});
    send(amqp::basic_ack{3, true});
    wait_all();
    EXPECT_FALSE(results[0].ec);
    EXPECT_EQ(results[1].ec, amqp::client_error::publish_nacked);
    EXPECT_FALSE(results[2].ec);
    close();
}

TEST_F(confirms, a_return_before_the_ack_completes_as_returned_and_reaches_on_return) {
    int returns = 0;
    ch.on_return([&](const amqp::returned_message& m) {
        ++returns;
        EXPECT_EQ(m.method.routing_key, "nowhere");
    });
    select();
    results.reserve(3);
    publish("same", true, "q");
    publish("same", true, "nowhere");  // the one the broker cannot route
    publish("other", false, "q");
    wait_published(3);
    const std::string body = "same";
    peer->send(amqp_test::method_frame(ch.id(), amqp::basic_return{312, "NO_ROUTE", "", "nowhere"}) +
               amqp_test::raw_frame(2, ch.id(), amqp_test::header_payload(body.size())) +
               amqp_test::raw_frame(3, ch.id(), amqp::byte_buffer(body.begin(), body.end())));
    send(amqp::basic_ack{2, false});
    send(amqp::basic_ack{3, true});
    wait_all();
    EXPECT_FALSE(results[0].ec);
    EXPECT_EQ(results[1].ec, amqp::client_error::publish_returned);
    EXPECT_FALSE(results[2].ec);
    EXPECT_EQ(returns, 1);
    close();
}

TEST_F(confirms, connection_lost_fails_every_unconfirmed_publish_once) {
    select();
    constexpr int n = 7;
    results.reserve(n);
    for (int i = 0; i < n; ++i) publish("m");
    wait_published(n);
    send(amqp::basic_ack{2, true});  // 1 and 2 confirmed; 3..7 never answered
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return results[1].calls == 1; }));
    peer->hang_up();
    wait_all();
    for (int i = 0; i < n; ++i) {
        EXPECT_EQ(results[i].calls, 1);
        if (i < 2) {
            EXPECT_FALSE(results[i].ec) << i;
        } else {
            EXPECT_EQ(results[i].ec, amqp::client_error::publish_unconfirmed) << i;
        }
    }
    conn.reset();
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    for (const auto& r : results) EXPECT_EQ(r.calls, 1);
}

TEST_F(confirms, channel_closed_by_the_broker_fails_unconfirmed_publishes) {
    select();
    results.reserve(2);
    publish("a");
    publish("b");
    wait_published(2);
    send(amqp::channel_close{406, "PRECONDITION_FAILED - test", 60, 40});
    wait_all();
    EXPECT_EQ(results[0].ec, amqp::client_error::publish_unconfirmed);
    EXPECT_EQ(results[1].ec, amqp::client_error::publish_unconfirmed);
    close();
}

TEST_F(confirms, without_confirm_mode_a_publish_completes_once_handed_over) {
    results.reserve(1);
    publish("plain");
    wait_all();
    EXPECT_FALSE(results[0].ec);
    wait_published(1);
    close();
}

TEST_F(confirms, the_message_is_copied_before_a_deferred_publish_returns) {
    select();
    auto body = std::make_unique<std::string>("copied at the call");
    auto rk = std::make_unique<std::string>("qq");
    auto op = ch.async_publish(to_queue(*rk), amqp::basic_properties{}, amqp::as_bytes(*body), asio::deferred);
    body->assign(body->size(), 'x');  // the caller reuses its buffers before the operation starts
    rk->assign("zz");
    body.reset();
    rk.reset();
    result r;
    std::move(op)([&](error_code e) { ++r.calls, r.ec = e; });
    wait_published(1);
    EXPECT_EQ(seen[0].body, "copied at the call");
    EXPECT_EQ(seen[0].routing_key, "qq");
    send(amqp::basic_ack{1, false});
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return r.calls == 1; }));
    EXPECT_FALSE(r.ec);
    close();
}

TEST_F(confirms, a_publish_on_a_closed_channel_fails_with_not_open_later) {
    bool done = false;
    ch.async_close([&](error_code) { done = true; });
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return done; }));
    results.reserve(1);
    publish("late");
    wait_all();
    EXPECT_EQ(results[0].ec, amqp::client_error::not_open);
    close();
}

}  // namespace
