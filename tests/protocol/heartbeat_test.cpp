// Heartbeats as data: the machine is told the time, says when to send one (idle >= timeout/2)
// and declares the peer dead after 2 x timeout without a byte.
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp_test;
using namespace std::chrono_literals;
using amqp::protocol::event_kind;

const byte_buffer heartbeat_bytes = {8, 0, 0, 0, 0, 0, 0, 0xCE};

TEST(Heartbeat, OffMeansNoDeadline) {
    auto opts = machine_driver::default_options();
    opts.heartbeat = 0;
    machine_driver d(opts);
    d.open(0);
    EXPECT_EQ(d.m.heartbeat(), 0);
    EXPECT_FALSE(d.m.next_deadline());
    d.advance(3600s);
    EXPECT_TRUE(d.m.is_open());
    EXPECT_TRUE(d.take_output().empty());
}

TEST(Heartbeat, SentWhenIdleForHalfTheTimeout) {
    machine_driver d;
    d.open(10);
    ASSERT_EQ(d.m.heartbeat(), 10);
    ASSERT_TRUE(d.m.next_deadline());
    EXPECT_EQ(*d.m.next_deadline(), d.now + 5s);
    d.advance(4999ms);
    EXPECT_TRUE(d.take_output().empty());
    d.advance(1ms);
    EXPECT_EQ(d.take_output(), heartbeat_bytes);
    EXPECT_EQ(*d.m.next_deadline(), d.now + 5s);
}

TEST(Heartbeat, OtherTrafficCountsAsActivity) {
    machine_driver d;
    d.open(10);
    const auto ch = d.open_channel();
    d.advance(4s);
    ASSERT_FALSE(d.m.send_async(ch, amqp::basic_ack{1, false}));
    d.take_output();
    d.advance(4s);  // 4 s since the ack went out: not idle long enough
    EXPECT_TRUE(d.take_output().empty());
}

TEST(Heartbeat, PeerSilentForTwiceTheTimeoutIsDead) {
    machine_driver d;
    d.open(10);
    for (int i = 0; i < 3; ++i) d.advance(5s);  // we keep sending; the peer says nothing
    EXPECT_TRUE(d.m.is_open());
    EXPECT_TRUE(d.events.empty() || d.events.back().kind != event_kind::closed);
    d.events.clear();
    d.advance(5s);  // 20 s of silence
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::closed);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::missed_heartbeats);
    EXPECT_TRUE(d.m.should_close_transport());
    EXPECT_FALSE(d.m.next_deadline());
}

TEST(Heartbeat, AnyBytesFromThePeerKeepItAlive) {
    machine_driver d;
    d.open(1);
    for (int i = 0; i < 100; ++i) {
        d.advance(1500ms);
        d.feed(heartbeat_bytes);
    }
    EXPECT_TRUE(d.m.is_open());
    d.events.clear();
    d.advance(2s);
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::missed_heartbeats);
}

TEST(Heartbeat, HeartbeatSplitAcrossReadsIsFine) {
    machine_driver d;
    d.open(10);
    d.feed_chunked(heartbeat_bytes, 1);
    EXPECT_TRUE(d.m.is_open());
    EXPECT_TRUE(d.events.empty());
}

}  // namespace
