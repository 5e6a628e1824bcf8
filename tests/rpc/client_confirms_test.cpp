// Confirms and idempotent re-sends in the client's core (fake clock): what a nack, a lost
// connection before the confirm and one after it do to a call, and the duplicate reply a re-send
// can bring.

#include "client_core_harness.hpp"

#include <gtest/gtest.h>

namespace {

using namespace core_test;
using core_test::clock;  // not ::clock

rpc::client_core_options confirming() {
    rpc::client_core_options o;
    o.confirm_requests = true;
    o.reconnect = true;
    o.node_count = 2;
    return o;
}

// A call with `idempotent`, published on the running core; returns its key.
std::uint64_t call(harness& h, int tag, bool idempotent) {
    const auto id = h.core.ids().next_id();
    h.ids[tag] = std::string(id.view());
    h.keys[tag] = id.key;
    rpc::request_message r;
    r.body = "n" + std::to_string(tag);
    r.timeout = milliseconds(10000);
    r.idempotent = idempotent;
    h.core.submit(id, std::move(r), std::make_unique<tagged>(tag), h.now);
    h.drain();
    return id.key;
}

const rpc::error_code not_confirmed = rpc::errc::not_confirmed;
const rpc::error_code lost = rpc::errc::connection_lost;

TEST(ClientConfirms, AConfirmedCallCompletesWithItsReply) {
    harness h(confirming());
    h.start();
    const auto key = call(h, 1, false);
    h.core.publish_confirmed(key, 0);
    h.reply_to(1, "55");
    ASSERT_TRUE(h.done(1));
    EXPECT_FALSE(h.ec(1));
    EXPECT_EQ(h.completed[1].reply.body, "55");
}

TEST(ClientConfirms, ANackReSendsAnIdempotentCallAndFailsAnotherSayingWhy) {
    harness h(confirming());
    h.start();
    const auto once = call(h, 1, false);
    const auto again = call(h, 2, true);
    ASSERT_EQ(h.published.size(), 2u);
    h.core.publish_nacked(once, 0, "nack", h.now);
    h.core.publish_nacked(again, 0, "nack", h.now);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.ec(1), not_confirmed);
    EXPECT_EQ(h.completed[1].message,
              "the request may not have reached the queue (the broker nacked it: nack); not re-sent: the call is "
              "not idempotent");
    // The idempotent one goes out again with its correlation id and body, after the backoff.
    ASSERT_FALSE(h.done(2));
    ASSERT_EQ(h.published.size(), 2u);
    const auto nacked_at = h.now;
    ASSERT_TRUE(h.fire());
    EXPECT_EQ(h.now - nacked_at, confirming().reconnect_min);
    ASSERT_EQ(h.published.size(), 3u);
    EXPECT_EQ(h.published.back().id.view(), h.ids[2]);
    EXPECT_EQ(h.published.back().request.body, "n2");
    EXPECT_EQ(h.core.stats().resent, 1u);
    // Re-sends are bounded: nacked again and again, it fails in the end.
    for (unsigned i = 0; i < confirming().max_resends; ++i) {
        h.core.publish_nacked(again, 0, "nack", h.now);
        h.drain();
        if (i + 1 < confirming().max_resends) {
            ASSERT_TRUE(h.fire());
        }
    }
    ASSERT_TRUE(h.done(2));
    EXPECT_EQ(h.ec(2), not_confirmed);
    EXPECT_NE(h.completed[2].message.find("not re-sent again after " + std::to_string(confirming().max_resends) +
                                          " re-sends"),
              std::string::npos)
        << h.completed[2].message;
}

TEST(ClientConfirms, ALossBeforeTheConfirmFailsANonIdempotentCallAsNotConfirmed) {
    harness h(confirming());
    h.start();
    call(h, 1, false);
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost: reset (node a:1)", h.now);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.ec(1), not_confirmed);
    EXPECT_EQ(h.completed[1].message,
              "the request may not have reached the queue (connection lost: reset (node a:1)); not re-sent: the "
              "call is not idempotent");
}

TEST(ClientConfirms, ALossAfterTheConfirmFailsANonIdempotentCallAsLostNamingTheNode) {
    harness h(confirming());
    h.start();
    const auto key = call(h, 1, false);
    h.core.publish_confirmed(key, 0);
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost: reset (node a:1)", h.now);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.ec(1), lost);
    EXPECT_EQ(h.completed[1].message, "connection lost: reset (node a:1)");
}

TEST(ClientConfirms, IdempotentCallsAreReSentOnTheNextNodeAndADuplicateReplyIsDroppedAndCounted) {
    harness h(confirming());
    h.start();
    const auto confirmed = call(h, 1, true);  // confirmed, waiting for its reply
    call(h, 2, true);                         // not confirmed yet
    h.core.publish_confirmed(confirmed, 0);
    h.core.connection_lost(0, rpc::errc::connection_lost, "connection lost: reset (node a:1)", h.now);
    h.drain();
    EXPECT_FALSE(h.done(1));
    EXPECT_FALSE(h.done(2));
    EXPECT_EQ(h.core.held_requests(), 2u);
    // The reconnection starts at once, to the next node, without waiting for another call.
    ASSERT_EQ(h.reconnect_nodes, (std::vector<std::size_t>{1}));
    h.now += milliseconds(50);
    ASSERT_TRUE(h.core.connection_up(1, h.now, 1));
    h.drain();
    ASSERT_EQ(h.published.size(), 4u);
    EXPECT_EQ(h.published[2].id.view(), h.ids[1]);  // same correlation ids
    EXPECT_EQ(h.published[3].id.view(), h.ids[2]);
    EXPECT_EQ(h.published[2].ttl, milliseconds(10000 - 50));
    EXPECT_EQ(h.core.stats().resent, 2u);
    // Late events of the lost connection's publishes change nothing.
    h.core.publish_nacked(confirmed, 0, "nack", h.now);
    h.drain();
    EXPECT_FALSE(h.done(1));
    // The first reply wins; the second (the server ran it twice) is dropped and counted.
    h.reply_to(1, "first");
    h.reply_to(1, "second");
    EXPECT_EQ(h.completed[1].reply.body, "first");
    EXPECT_EQ(h.duplicates, 0);
    EXPECT_EQ(h.core.stats().duplicate_replies, 1u);
    EXPECT_EQ(h.core.stats().unknown_replies, 0u);
}

TEST(ClientConfirms, WithoutReconnectAnIdempotentCallFailsAtTheLoss) {
    rpc::client_core_options o = confirming();
    o.reconnect = false;
    harness h(o);
    h.start();
    const auto key = call(h, 1, true);
    h.core.publish_confirmed(key, 0);
    h.core.connection_lost(0, rpc::errc::connection_lost, "lost", h.now);
    h.drain();
    ASSERT_TRUE(h.done(1));
    EXPECT_EQ(h.ec(1), lost);
}

}  // namespace
