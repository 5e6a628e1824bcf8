// Publisher confirms in the connection machine: confirm.select, publish numbers, the broker's
// basic.ack / basic.nack (single, multiple, out of order, over gaps), faults, and the lost
// settlements when a channel or the connection ends with publishes still waiting.
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace amqp_test;
using amqp::protocol::event_kind;

// One confirm event, compactly: "ack 1-3", "nack 2-2", "lost 1-5".
std::string confirm_text(const recorded_event& e) {
    const char* what = e.confirm_lost ? "lost" : e.ack ? "ack" : "nack";
    return std::string(what) + " " + std::to_string(e.confirm_first) + "-" + std::to_string(e.delivery_tag);
}

// Every event as a line, for whole-sequence comparisons.
std::vector<std::string> summary(const std::vector<recorded_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        switch (e.kind) {
            case event_kind::confirm: out.push_back(confirm_text(e)); break;
            case event_kind::returned: out.push_back("returned " + e.correlation_id); break;
            case event_kind::reply: out.push_back("reply " + e.method); break;
            case event_kind::channel_closed:
                out.push_back("channel_closed " + std::to_string(e.reason.reply_code));
                break;
            case event_kind::closed: out.push_back("closed"); break;
            default: out.push_back("other " + std::to_string(static_cast<int>(e.kind))); break;
        }
    }
    return out;
}

using lines = std::vector<std::string>;

// An open channel in confirm mode (select sent and answered), events cleared.
std::uint16_t confirm_channel(machine_driver& d) {
    const auto ch = d.open_channel();
    EXPECT_FALSE(d.m.send_sync(ch, amqp::confirm_select{}));
    const auto frames = d.take_frames();
    EXPECT_EQ(frames.size(), 1u);
    if (!frames.empty()) {
        EXPECT_EQ(frames[0].name, "confirm.select");
    }
    d.feed(method_frame(ch, amqp::confirm_select_ok{}));
    EXPECT_EQ(summary(d.events), lines{"reply confirm.select-ok"});
    d.events.clear();
    return ch;
}

std::uint64_t publish(machine_driver& d, std::uint16_t ch, std::string_view corr = "c", bool mandatory = false) {
    amqp::basic_publish p;
    p.routing_key = "rpc_queue";
    p.mandatory = mandatory;
    amqp::basic_properties props;
    props.correlation_id = corr;
    std::uint64_t seq = 99;
    EXPECT_FALSE(d.m.publish(ch, p, props, amqp::as_bytes("30"), seq));
    return seq;
}

void publish_n(machine_driver& d, std::uint16_t ch, std::uint64_t n) {
    for (std::uint64_t i = 1; i <= n; ++i) ASSERT_EQ(publish(d, ch), i);
    d.take_output();
}

byte_buffer ack(std::uint16_t ch, std::uint64_t tag, bool multiple = false) {
    return method_frame(ch, amqp::basic_ack{tag, multiple});
}
byte_buffer nack(std::uint16_t ch, std::uint64_t tag, bool multiple = false) {
    return method_frame(ch, amqp::basic_nack{tag, multiple, false});
}

// basic.return of an unroutable message, with its content.
byte_buffer returned_message(std::uint16_t ch, std::string_view corr) {
    amqp::basic_return ret;
    ret.reply_code = 312;
    ret.reply_text = "NO_ROUTE";
    ret.routing_key = "nowhere";
    amqp::basic_properties props;
    props.correlation_id = corr;
    byte_buffer out;
    (void)amqp::append_message(out, ch, ret, props, amqp::as_bytes("30"), 131072);
    return out;
}

// An open connection with one channel in confirm mode and `published` publishes waiting.
struct confirming {
    explicit confirming(std::uint64_t published) {
        d.open();
        ch = confirm_channel(d);
        publish_n(d, ch, published);
    }
    machine_driver d;
    std::uint16_t ch = 0;
};

// The channel.close we sent, if any.
std::optional<amqp::channel_close> sent_channel_close(machine_driver& d) {
    for (const auto& f : d.take_frames())
        if (const auto* c = std::get_if<amqp::channel_close>(&f.m)) return *c;
    return std::nullopt;
}

TEST(Confirms, PublishesAreNumberedOnlyInConfirmMode) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    EXPECT_EQ(publish(d, ch), 0u);
    EXPECT_FALSE(d.m.is_confirm_mode(ch));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::confirm_select{}));
    // The broker counts from the publish after confirm.select, which is already written:
    // numbering starts now, before select-ok.
    EXPECT_TRUE(d.m.is_confirm_mode(ch));
    EXPECT_EQ(publish(d, ch), 1u);
    d.feed(method_frame(ch, amqp::confirm_select_ok{}));
    EXPECT_EQ(summary(d.events), lines{"reply confirm.select-ok"});
    EXPECT_EQ(publish(d, ch), 2u);
    EXPECT_EQ(publish(d, ch), 3u);
    EXPECT_EQ(d.m.unconfirmed(ch), 3u);
    // A second select does not restart the count (nor does RabbitMQ's).
    ASSERT_FALSE(d.m.send_sync(ch, amqp::confirm_select{}));
    EXPECT_EQ(publish(d, ch), 4u);
}

TEST(Confirms, SelectQueuedBehindAnotherRequestStartsWhenWritten) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    amqp::queue_declare q;
    q.queue = "rpc_queue";
    ASSERT_FALSE(d.m.send_sync(ch, q));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::confirm_select{}));
    // The select waits for declare-ok, so this publish reaches the broker before it: no number.
    EXPECT_FALSE(d.m.is_confirm_mode(ch));
    EXPECT_EQ(publish(d, ch), 0u);
    d.take_output();
    amqp::queue_declare_ok ok;
    ok.queue = "rpc_queue";
    d.feed(method_frame(ch, ok));
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "confirm.select");
    EXPECT_EQ(publish(d, ch), 1u);
}

TEST(Confirms, NoWaitSelectSentAsyncStartsAtOnce) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    ASSERT_FALSE(d.m.send_async(ch, amqp::confirm_select{true}));
    EXPECT_EQ(publish(d, ch), 1u);
    d.feed(ack(ch, 1));
    EXPECT_EQ(summary(d.events), lines{"ack 1-1"});
}

TEST(Confirms, SingleAcksSettleOneNumberEach) {
    confirming c(3);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(ack(ch, 1) + ack(ch, 2) + ack(ch, 3));
    EXPECT_EQ(summary(d.events), (lines{"ack 1-1", "ack 2-2", "ack 3-3"}));
    EXPECT_FALSE(d.events[0].multiple);
    EXPECT_EQ(d.m.unconfirmed(ch), 0u);
}

TEST(Confirms, MultipleAckSettlesEverythingUpToItsTag) {
    confirming c(5);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(ack(ch, 3, true));
    EXPECT_EQ(summary(d.events), lines{"ack 1-3"});
    EXPECT_TRUE(d.events[0].multiple);
    EXPECT_EQ(d.m.unconfirmed(ch), 2u);
    d.feed(ack(ch, 5, true));
    EXPECT_EQ(summary(d.events), (lines{"ack 1-3", "ack 4-5"}));
    EXPECT_EQ(d.m.unconfirmed(ch), 0u);
}

TEST(Confirms, NacksSettleAsFailures) {
    confirming c(4);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(nack(ch, 2) + nack(ch, 1) + ack(ch, 3) + nack(ch, 4, true));
    EXPECT_EQ(summary(d.events), (lines{"nack 2-2", "nack 1-1", "ack 3-3", "nack 4-4"}));
    EXPECT_EQ(d.m.unconfirmed(ch), 0u);
}

TEST(Confirms, OutOfOrderAcks) {
    // RabbitMQ acks a message once all its queues hold it: 3 may be acked before 1 and 2.
    confirming c(3);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(ack(ch, 3));
    EXPECT_EQ(d.m.unconfirmed(ch), 2u);
    d.feed(ack(ch, 1) + ack(ch, 2));
    EXPECT_EQ(summary(d.events), (lines{"ack 3-3", "ack 1-1", "ack 2-2"}));
    EXPECT_EQ(d.m.unconfirmed(ch), 0u);
    EXPECT_EQ(publish(d, ch), 4u);
}

TEST(Confirms, MultipleAckOverARangeWithGapsAlreadySettled) {
    confirming c(6);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(ack(ch, 2) + nack(ch, 4) + ack(ch, 5, true));
    // 1, 3 and 5 were waiting; the range reported is 1-5 (2 and 4 were reported before).
    EXPECT_EQ(summary(d.events), (lines{"ack 2-2", "nack 4-4", "ack 1-5"}));
    EXPECT_EQ(d.m.unconfirmed(ch), 1u);
    // 3 is settled now: an ack for it is unknown.
    d.events.clear();
    d.feed(ack(ch, 3));
    EXPECT_EQ(summary(d.events), (lines{"lost 6-6", "channel_closed 406"}));
}

void expect_unknown_tag_closes_the_channel(const byte_buffer& answers, const byte_buffer& bad,
                                           const lines& before, const lines& after) {
    confirming c(4);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(answers);
    EXPECT_EQ(summary(d.events), before);
    d.events.clear();
    d.take_output();
    d.feed(bad);
    EXPECT_EQ(summary(d.events), after);
    ASSERT_FALSE(d.events.empty());
    const auto& closed = d.events.back();
    EXPECT_EQ(closed.reason.code, amqp::reply_code::precondition_failed);
    EXPECT_NE(closed.reason.reply_text.find("unknown delivery tag"), std::string::npos) << closed.reason.reply_text;
    const auto sent = sent_channel_close(d);
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->reply_code, 406);
    EXPECT_EQ(sent->class_id, 60);
    // The channel is closing, the connection stays open, and the channel's close-ok ends it quietly.
    EXPECT_TRUE(d.m.is_open());
    EXPECT_FALSE(d.m.is_channel_open(ch));
    d.events.clear();
    d.feed(ack(ch, 4) + method_frame(ch, amqp::channel_close_ok{}));
    EXPECT_TRUE(d.events.empty());
    EXPECT_TRUE(d.m.is_open());
}

TEST(Confirms, UnknownTagsCloseTheChannelWith406) {
    const std::uint16_t ch = 1;
    // Never published.
    expect_unknown_tag_closes_the_channel({}, ack(ch, 5), {}, {"lost 1-4", "channel_closed 406"});
    // Zero (a client's "everything" for multiple acks; never a publish number).
    expect_unknown_tag_closes_the_channel({}, ack(ch, 0, true), {}, {"lost 1-4", "channel_closed 406"});
    // Already settled singly, then again (single or multiple).
    expect_unknown_tag_closes_the_channel(ack(ch, 2), ack(ch, 2), {"ack 2-2"}, {"lost 1-4", "channel_closed 406"});
    expect_unknown_tag_closes_the_channel(ack(ch, 3), nack(ch, 3, true), {"ack 3-3"},
                                          {"lost 1-4", "channel_closed 406"});
    // Below a multiple ack's range.
    expect_unknown_tag_closes_the_channel(ack(ch, 2, true), ack(ch, 1), {"ack 1-2"},
                                          {"lost 3-4", "channel_closed 406"});
    // Everything settled: nothing left to report lost.
    expect_unknown_tag_closes_the_channel(ack(ch, 4, true), ack(ch, 4), {"ack 1-4"}, {"channel_closed 406"});
}

TEST(Confirms, AckOrNackOnAChannelNotInConfirmModeCloses406) {
    for (const bool is_ack : {true, false}) {
        machine_driver d;
        d.open();
        const auto ch = d.open_channel();
        publish(d, ch);
        d.take_output();
        d.feed(is_ack ? ack(ch, 1) : nack(ch, 1));
        EXPECT_EQ(summary(d.events), lines{"channel_closed 406"});
        ASSERT_EQ(d.events.size(), 1u);
        EXPECT_NE(d.events[0].reason.reply_text.find("not in confirm mode"), std::string::npos);
        const auto sent = sent_channel_close(d);
        ASSERT_TRUE(sent);
        EXPECT_EQ(sent->reply_code, 406);
        EXPECT_EQ(sent->method_id, is_ack ? 80 : 120);
        EXPECT_TRUE(d.m.is_open());
    }
}

TEST(Confirms, BrokerChannelCloseReportsWaitingPublishesLost) {
    machine_driver d;
    d.open();
    const auto ch = confirm_channel(d);
    const auto other = confirm_channel(d);
    publish_n(d, ch, 3);
    publish_n(d, other, 2);
    d.feed(ack(ch, 2) + method_frame(ch, amqp::channel_close{404, "NOT_FOUND - no exchange 'x'", 60, 40}));
    EXPECT_EQ(summary(d.events), (lines{"ack 2-2", "lost 1-3", "channel_closed 404"}));
    EXPECT_EQ(d.events[1].channel, ch);
    EXPECT_TRUE(d.events[1].multiple);
    // The other channel is untouched.
    EXPECT_EQ(d.m.unconfirmed(other), 2u);
    d.events.clear();
    d.feed(ack(other, 2, true));
    EXPECT_EQ(summary(d.events), lines{"ack 1-2"});
}

TEST(Confirms, OurChannelCloseReportsWaitingPublishesLostBeforeCloseOk) {
    confirming c(3);
    auto& d = c.d;
    const auto ch = c.ch;
    d.feed(ack(ch, 1));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::channel_close{200, "bye", 0, 0}));
    // After our channel.close the broker's acks are discarded (spec 4.2.2): their publishes'
    // fate is reported as unknown when the channel ends.
    d.feed(ack(ch, 2) + method_frame(ch, amqp::channel_close_ok{}));
    EXPECT_EQ(summary(d.events), (lines{"ack 1-1", "lost 2-3", "reply channel.close-ok"}));
    EXPECT_FALSE(d.m.is_confirm_mode(ch));
}

TEST(Confirms, CloseCrossingOursReportsLostOnce) {
    confirming c(2);
    auto& d = c.d;
    const auto ch = c.ch;
    ASSERT_FALSE(d.m.send_sync(ch, amqp::channel_close{200, "bye", 0, 0}));
    d.feed(method_frame(ch, amqp::channel_close{406, "PRECONDITION_FAILED", 60, 40}) +
           method_frame(ch, amqp::channel_close_ok{}));
    EXPECT_EQ(summary(d.events), (lines{"lost 1-2", "channel_closed 406"}));
}

TEST(Confirms, ConnectionLostReportsEveryChannelsWaitingPublishes) {
    machine_driver d;
    d.open();
    const auto a = confirm_channel(d);
    const auto b = confirm_channel(d);
    const auto c = confirm_channel(d);
    publish_n(d, a, 2);
    publish_n(d, b, 3);
    publish_n(d, c, 1);
    d.feed(ack(b, 3, true) + ack(c, 1) + nack(a, 2));
    d.events.clear();
    d.transport_closed();
    // Only `a` still waits (for 1); the lost settlement comes before `closed`.
    EXPECT_EQ(summary(d.events), (lines{"lost 1-2", "closed"}));
    EXPECT_EQ(d.events[0].channel, a);
    EXPECT_EQ(d.events[1].reason.code, amqp::client_error::connection_lost);
}

TEST(Confirms, ConnectionClosedByBrokerOrAFaultReportsLost) {
    {
        machine_driver d;
        d.open();
        const auto ch = confirm_channel(d);
        publish_n(d, ch, 2);
        d.feed(method_frame(0, amqp::connection_close{320, "CONNECTION_FORCED - shutdown", 0, 0}));
        EXPECT_EQ(summary(d.events), (lines{"lost 1-2", "closed"}));
    }
    {
        // A protocol fault we detect (a frame on a channel we never opened) closes the connection.
        machine_driver d;
        d.open();
        const auto ch = confirm_channel(d);
        publish_n(d, ch, 2);
        d.feed(ack(7, 1));
        EXPECT_EQ(summary(d.events), (lines{"lost 1-2", "closed"}));
        EXPECT_EQ(d.events[1].reason.code, amqp::reply_code::channel_error);
    }
    {
        // Our own close: waiting publishes are lost too, and nothing follows `closed`.
        machine_driver d;
        d.open();
        const auto ch = confirm_channel(d);
        publish_n(d, ch, 1);
        d.m.close();
        d.feed(ack(ch, 1) + method_frame(0, amqp::connection_close_ok{}));
        EXPECT_EQ(summary(d.events), (lines{"lost 1-1", "closed"}));
        d.transport_closed();
        EXPECT_EQ(d.events.size(), 2u);
    }
}

// RabbitMQ sends basic.return, then basic.ack, for a mandatory message no queue takes; acks of
// other publishes may come in between. The caller links the return to its publish by a
// property it set (here the correlation id).
TEST(Confirms, ReturnComesBeforeTheAckOfAnUnroutableMandatoryPublish) {
    machine_driver d;
    d.open();
    const auto ch = confirm_channel(d);
    EXPECT_EQ(publish(d, ch, "routable", true), 1u);
    EXPECT_EQ(publish(d, ch, "unroutable", true), 2u);
    d.feed(returned_message(ch, "unroutable") + ack(ch, 2) + ack(ch, 1));
    EXPECT_EQ(summary(d.events), (lines{"returned unroutable", "ack 2-2", "ack 1-1"}));
}

// The same broker bytes, split at every point, give the same events.
TEST(Confirms, EverySplitPointOfTheBrokersBytes) {
    const std::uint16_t ch = 1;
    const byte_buffer traffic = method_frame(ch, amqp::confirm_select_ok{}) + ack(ch, 3) + ack(ch, 2, true) +
                                nack(ch, 4) + returned_message(ch, "c-5") + ack(ch, 5) + ack(ch, 7, true) + ack(ch, 9) +
                                method_frame(ch, amqp::channel_close{406, "PRECONDITION_FAILED", 0, 0});
    auto run = [&](std::size_t split) {
        machine_driver d;
        d.open();
        const auto id = d.open_channel();
        EXPECT_EQ(id, ch);
        EXPECT_FALSE(d.m.send_sync(id, amqp::confirm_select{}));
        for (std::uint64_t i = 1; i <= 10; ++i) EXPECT_EQ(publish(d, id), i);
        d.take_output();
        if (split == 0) {
            d.feed_chunked(traffic, 1);
        } else {
            d.feed(amqp::bytes_view(traffic).first(split));
            d.feed(amqp::bytes_view(traffic).subspan(split));
        }
        return summary(d.events);
    };
    const lines expected{"reply confirm.select-ok", "ack 3-3", "ack 1-2", "nack 4-4", "returned c-5", "ack 5-5",
                         "ack 6-7", "ack 9-9", "lost 8-10", "channel_closed 406"};
    EXPECT_EQ(run(0), expected);
    for (std::size_t split = 1; split < traffic.size(); ++split) ASSERT_EQ(run(split), expected) << "split at " << split;
}

// A broker answering in any legal order settles every number exactly once, and the channel's end
// settles the rest: the invariant a transport relies on to complete each publish once.
TEST(Confirms, EveryNumberIsSettledExactlyOnce) {
    std::uint32_t s = 12345;
    auto rnd = [&s](std::uint32_t n) {
        s = s * 1664525u + 1013904223u;
        return (s >> 8) % n;
    };
    for (int round = 0; round < 20; ++round) {
        machine_driver d;
        d.open();
        const auto ch = confirm_channel(d);
        const std::uint64_t n = 40;
        publish_n(d, ch, n);
        std::set<std::uint64_t> waiting;
        for (std::uint64_t i = 1; i <= n; ++i) waiting.insert(i);
        std::vector<int> settled(n + 1, 0);
        byte_buffer answers;
        for (int k = 0; k < 15 && !waiting.empty(); ++k) {
            // Pick a waiting number; RabbitMQ's multiple answers name a waiting number too.
            auto it = waiting.begin();
            std::advance(it, rnd(static_cast<std::uint32_t>(waiting.size())));
            const std::uint64_t tag = *it;
            const bool multiple = rnd(3) == 0;
            const bool positive = rnd(4) != 0;
            answers = answers + (positive ? ack(ch, tag, multiple) : nack(ch, tag, multiple));
            if (multiple) waiting.erase(waiting.begin(), waiting.upper_bound(tag));
            else waiting.erase(tag);
        }
        d.feed_chunked(answers, 1 + rnd(40));
        d.transport_closed();
        for (const auto& e : d.events) {
            if (e.kind != event_kind::confirm) continue;
            ASSERT_LE(e.confirm_first, e.delivery_tag);
            // A transport completes what is still waiting in the range: mimic it.
            for (std::uint64_t t = e.confirm_first; t <= e.delivery_tag; ++t) {
                if (!e.multiple && !e.confirm_lost && t != e.delivery_tag) continue;
                if (settled[t] == 0) settled[t] = e.confirm_lost ? 2 : 1;
                else if (t == e.delivery_tag && !e.confirm_lost) FAIL() << "number " << t << " settled twice";
            }
        }
        for (std::uint64_t t = 1; t <= n; ++t) {
            EXPECT_NE(settled[t], 0) << "number " << t << " never settled";
            EXPECT_EQ(settled[t] == 2, waiting.count(t) == 1) << "number " << t;
        }
        EXPECT_EQ(summary(d.events).back(), "closed");
    }
}

}  // namespace
