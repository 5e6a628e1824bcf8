// The client's core without a broker, a socket or a clock: events in, actions out, time given.

#include "client_core_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <random>
#include <set>

namespace {

using namespace core_test;
using core_test::clock;  // not ::clock

const rpc::error_code timeout_ec = rpc::errc::timeout;
const rpc::error_code aborted_ec{ECANCELED, boost::system::system_category()};

TEST(ClientCore, PublishesWhenRunningAndCompletesWithTheMatchingReply) {
    harness h;
    h.start();
    h.submit(1, milliseconds(500), "21");
    ASSERT_EQ(h.published.size(), 1u);
    EXPECT_EQ(h.published[0].request.body, "21");
    EXPECT_EQ(h.published[0].ttl, milliseconds(500));
    EXPECT_EQ(std::string(h.published[0].id.view()), h.ids[1]);
    EXPECT_EQ(h.core.timer_at(), h.now + milliseconds(500));
    rpc::incoming_reply r;
    r.correlation_id = h.ids[1];
    r.body = "10946";
    r.content_type = "text/plain";
    amqp::field_table headers{{"x-node", std::string("a")}};
    r.headers = &headers;
    h.core.reply_received(r);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_FALSE(h.ec(1));
    EXPECT_EQ(h.completed[1].reply.body, "10946");
    EXPECT_EQ(h.completed[1].reply.content_type, "text/plain");
    EXPECT_EQ(h.completed[1].reply.headers, headers);
    EXPECT_EQ(h.core.pending_calls(), 0u);
    EXPECT_EQ(h.core.stats().calls, 1u);
    EXPECT_EQ(h.core.stats().replies, 1u);
}

TEST(ClientCore, ThousandsOfCallsWithMixedTimeoutsEachEndOnceAtTheirOwnDeadline) {
    harness h;
    h.start();
    std::mt19937 rng(7);
    const milliseconds timeouts[] = {milliseconds(5), milliseconds(20), milliseconds(50), milliseconds(300),
                                     milliseconds(1000)};
    std::map<int, clock::time_point> deadline;
    std::set<int> answered;
    constexpr int calls = 3000;
    for (int tag = 0; tag < calls; ++tag) {
        h.now += milliseconds(rng() % 3);
        const auto t = timeouts[rng() % 5];
        h.submit(tag, t);
        deadline[tag] = h.now + t;
        // Some replies come at once, some timers fire between submissions.
        if (rng() % 3 == 0) {
            h.reply_to(tag);
            answered.insert(tag);
        }
        if (rng() % 50 == 0) h.fire();
    }
    while (h.core.pending_calls() > 0) ASSERT_TRUE(h.fire());
    ASSERT_EQ(h.completed.size(), static_cast<std::size_t>(calls));
    EXPECT_EQ(h.duplicates, 0);
    for (int tag = 0; tag < calls; ++tag)
        EXPECT_EQ(answered.count(tag) ? rpc::error_code{} : timeout_ec, h.ec(tag)) << tag;
    EXPECT_EQ(h.core.stats().timeouts, calls - answered.size());
    EXPECT_EQ(h.core.stats().replies, answered.size());
    // No call ended by timeout before its deadline.
    for (auto& [tag, c] : h.completed)
        if (c.ec == timeout_ec) {
            EXPECT_LE(deadline[tag], c.at) << tag;
            EXPECT_EQ(c.message.rfind("RPC call timed out after", 0), 0u) << c.message;
        }
}

TEST(ClientCore, LateForeignDuplicateAndAnonymousRepliesAreCountedNeverDelivered) {
    harness h;
    h.start();
    h.submit(1, milliseconds(10));
    h.submit(2, milliseconds(1000));
    h.fire();  // 1 times out
    ASSERT_EQ(h.ec(1), timeout_ec);
    h.reply_to(1);                                    // late
    h.reply("00000000-0000-0000-0000-000000000000");  // not ours
    h.reply("not even an id");                        // not ours
    h.reply(std::nullopt);                            // no id
    h.reply_to(2, "first");
    h.reply_to(2, "second");  // duplicate: its call is done
    EXPECT_EQ(h.completed[2].reply.body, "first");
    EXPECT_EQ(h.duplicates, 0);
    const auto s = h.core.stats();
    EXPECT_EQ(s.late_replies, 1u);
    EXPECT_EQ(s.unknown_replies, 3u);  // two strangers and the duplicate
    EXPECT_EQ(s.replies_without_id, 1u);
    EXPECT_EQ(s.replies, 1u);
}

TEST(ClientCore, AnErrorReplyIsARemoteErrorWithTheServersText) {
    harness h;
    h.start();
    h.submit(1, milliseconds(100));
    h.submit(2, milliseconds(100));
    h.submit(3, milliseconds(100));
    h.reply(h.ids[1], R"({"response": null, "error": "n must be <= 45, got 46\u0007"})", "application/json");
    h.reply(h.ids[2], R"({"response": 5, "error": null})", "application/json");
    h.reply(h.ids[3], R"({"response": null, "error": "not JSON typed"})");  // no content type: a reply
    EXPECT_EQ(h.ec(1), rpc::error_code(rpc::errc::remote_error));
    EXPECT_EQ(h.completed[1].message, "n must be <= 45, got 46\\x07");
    EXPECT_FALSE(h.ec(2));
    EXPECT_FALSE(h.ec(3));
}

TEST(ClientCore, ReturnedRefusedAndFaultyRepliesFailOnlyTheirCall) {
    rpc::client_core_options o;
    o.max_message_size = 100;
    harness h(o);
    h.start();
    h.submit(1, milliseconds(100));
    h.submit(2, milliseconds(100));
    h.submit(3, milliseconds(100));
    h.submit(4, milliseconds(100), std::string(101, 'x'));
    h.core.returned(h.ids[1], 312, "NO_ROUTE", "nobody");
    rpc::incoming_reply refused;
    refused.correlation_id = h.ids[2];
    refused.body_refused = true;
    refused.body_size = 5000;
    h.core.reply_received(refused);
    rpc::incoming_reply faulty;
    faulty.correlation_id = h.ids[3];
    faulty.fault = "headers nested too deep";
    h.core.reply_received(faulty);
    h.drain();
    EXPECT_EQ(h.ec(1), rpc::error_code(rpc::errc::no_route));
    EXPECT_EQ(h.completed[1].message,
              "request returned by the broker: 312 NO_ROUTE (no queue bound to routing key \"nobody\")");
    EXPECT_EQ(h.ec(2), rpc::error_code(rpc::errc::message_too_large));
    EXPECT_EQ(h.ec(3), rpc::error_code(rpc::errc::bad_reply));
    EXPECT_EQ(h.ec(4), rpc::error_code(rpc::errc::message_too_large));
    EXPECT_EQ(h.published.size(), 3u);
}

TEST(ClientCore, BeforeStartAndAfterCloseCallsFailAtOnce) {
    harness h;
    h.submit(1, milliseconds(100));
    EXPECT_EQ(h.ec(1), rpc::error_code(rpc::errc::not_started));
    h.start();
    h.submit(2, milliseconds(100));
    h.core.close();
    h.drain();
    EXPECT_EQ(h.ec(2), rpc::error_code(rpc::errc::connection_lost));
    EXPECT_EQ(h.completed[2].message, "RPC client closed");
    h.submit(3, milliseconds(100));
    EXPECT_EQ(h.ec(3), rpc::error_code(rpc::errc::connection_lost));
    EXPECT_EQ(h.core.current_state(), rpc::client_core::state::closed);
}

TEST(ClientCore, ReconnectsWithADoublingBackoffBetweenMinAndMax) {
    rpc::client_core_options o;
    o.reconnect = true;
    o.reconnect_min = milliseconds(100);
    o.reconnect_max = milliseconds(300);
    harness h(o);
    h.start();
    h.submit(1, milliseconds(1000));
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost: 320 CONNECTION_FORCED");
    h.drain();
    EXPECT_EQ(h.ec(1), rpc::error_code(rpc::errc::connection_lost));
    // A stale report of the same loss changes nothing.
    h.core.connection_lost(0, rpc::errc::connection_lost, "again");
    EXPECT_TRUE(h.core.actions().empty());

    // The next call starts an attempt at once and waits for it.
    h.submit(2, milliseconds(5000));
    ASSERT_EQ(h.reconnects, std::vector<std::uint64_t>{1});
    EXPECT_EQ(h.core.held_requests(), 1u);
    const milliseconds expected_waits[] = {milliseconds(100), milliseconds(200), milliseconds(300), milliseconds(300)};
    int tag = 3;
    for (const auto wait : expected_waits) {
        h.core.reconnect_failed(1, "cannot connect", h.now);
        h.drain();
        ASSERT_EQ(h.ec(tag - 1), rpc::error_code(rpc::errc::connection_lost));
        EXPECT_EQ(h.completed[tag - 1].message, "connection lost; reconnecting failed: cannot connect");
        const auto failed_at = h.now;
        h.now += milliseconds(10);
        const std::size_t attempts = h.reconnects.size();
        h.submit(tag++, milliseconds(5000));  // held; the attempt waits for the backoff
        EXPECT_EQ(h.reconnects.size(), attempts);
        EXPECT_EQ(h.core.timer_at(), failed_at + wait);
        ASSERT_TRUE(h.fire());
        EXPECT_EQ(h.reconnects.size(), attempts + 1);
    }
    EXPECT_EQ(h.core.stats().reconnect_attempts, 5u);
    // Success: the held call goes out with what is left of its timeout; the backoff resets.
    h.now += milliseconds(40);
    const int held = tag - 1;
    ASSERT_TRUE(h.core.connection_up(1, h.now));
    h.drain();
    ASSERT_EQ(h.published.size(), 2u);  // tag 1 before the loss, and the held one
    EXPECT_EQ(h.published.back().ttl, milliseconds(5000 - 290 - 40));
    h.reply_to(held);
    EXPECT_FALSE(h.ec(held));
    EXPECT_EQ(h.core.stats().reconnects, 1u);
    // The next loss retries at once again.
    h.core.connection_lost(1, rpc::errc::connection_lost, "lost");
    h.submit(100, milliseconds(100));
    EXPECT_EQ(h.reconnects.back(), 2u);
}

TEST(ClientCore, HeldRequestsWaitForUnblockOrTimeOutSayingWhy) {
    harness h;
    h.start();
    h.submit(1, milliseconds(1000));  // on the wire when the alarm comes
    h.core.blocked(0, true, "low on memory", h.now);
    h.submit(2, milliseconds(50));
    h.submit(3, milliseconds(500));
    EXPECT_EQ(h.published.size(), 1u);
    EXPECT_EQ(h.core.held_requests(), 2u);
    h.fire();
    ASSERT_EQ(h.ec(2), timeout_ec);
    EXPECT_EQ(h.completed[2].message,
              "RPC call timed out after 0.05 seconds; the request was never sent: the broker blocked the connection "
              "(\"low on memory\")");
    h.now += milliseconds(100);
    h.core.blocked(0, false, "", h.now);
    h.drain();
    ASSERT_EQ(h.published.size(), 2u);
    EXPECT_EQ(h.published[1].ttl, milliseconds(350));
    while (h.fire()) {
    }
    EXPECT_NE(h.completed[1].message.find("; the broker blocked the connection meanwhile (\"low on memory\")"),
              std::string::npos)
        << h.completed[1].message;
}

TEST(ClientCore, CancellationEndsAPendingOrAHeldCallAndOnlyHeldOnesAcceptTotal) {
    harness h;
    h.start();
    h.submit(1, milliseconds(1000));
    h.core.cancel(h.keys[1], rpc::cancel_kind::total);  // on the wire: cannot be undone
    h.drain();
    EXPECT_FALSE(h.done(1));
    h.core.cancel(h.keys[1], rpc::cancel_kind::terminal);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.ec(1), aborted_ec);
    EXPECT_EQ(h.core.pending_calls(), 0u);
    h.reply_to(1);
    EXPECT_EQ(h.core.stats().late_replies, 1u);

    h.core.blocked(0, true, "disk", h.now);
    h.submit(2, milliseconds(1000));
    h.submit(3, milliseconds(1000));
    h.core.cancel(h.keys[2], rpc::cancel_kind::total);
    h.drain();
    EXPECT_EQ(h.ec(2), aborted_ec);
    EXPECT_EQ(h.core.held_requests(), 1u);
    h.core.blocked(0, false, "", h.now);
    h.drain();
    ASSERT_EQ(h.published.size(), 2u);  // 1, then only 3
    EXPECT_EQ(std::string(h.published[1].id.view()), h.ids[3]);
    h.core.cancel(h.keys[2], rpc::cancel_kind::terminal);  // already done: nothing
    EXPECT_TRUE(h.core.actions().empty());
    EXPECT_EQ(h.core.stats().cancelled, 2u);
}

TEST(ClientCore, AStartThatLostItsConnectionMeanwhileFails) {
    harness h;
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost: socket closed");
    EXPECT_FALSE(h.core.connection_up(0, h.now));
    EXPECT_EQ(h.core.lost_reason(), "connection lost: socket closed");
}

TEST(ClientCore, EventsOfAReplacedConnectionAreIgnored) {
    rpc::client_core_options o;
    o.reconnect = true;
    harness h(o);
    h.start();
    h.core.connection_lost(0, rpc::errc::connection_lost, "lost");
    h.submit(1, milliseconds(1000));
    ASSERT_TRUE(h.core.connection_up(1, h.now));
    h.drain();
    h.core.blocked(0, true, "old", h.now);
    h.core.connection_lost(0, rpc::errc::connection_lost, "old connection's close");
    h.drain();
    EXPECT_FALSE(h.core.is_blocked());
    EXPECT_FALSE(h.done(1));
    EXPECT_EQ(h.core.current_state(), rpc::client_core::state::running);
}

}  // namespace
