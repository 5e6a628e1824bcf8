// Exchanges and bindings on a channel: each request waits for its own -ok, a reply for another
// request is a protocol fault, and the broker's 404 for a missing exchange ends only the channel.
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp_test;
using amqp::protocol::event_kind;

amqp::queue_bind bind(std::string_view queue, std::string_view exchange, std::string_view key) {
    amqp::queue_bind b;
    b.queue = queue;
    b.exchange = exchange;
    b.routing_key = key;
    return b;
}

TEST(Topology, EachRequestIsAnsweredByItsOwnOkInOrder) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    amqp::exchange_declare x;
    x.exchange = "demo";
    x.type = "topic";
    amqp::queue_unbind u;
    u.queue = "q";
    u.exchange = "demo";
    u.routing_key = "a.*";
    ASSERT_FALSE(d.m.send_sync(ch, x));
    ASSERT_FALSE(d.m.send_sync(ch, bind("q", "demo", "a.*")));
    ASSERT_FALSE(d.m.send_sync(ch, u));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::exchange_delete{0, "demo", false, false}));

    const std::pair<const char*, amqp::method> steps[] = {
        {"exchange.declare", amqp::exchange_declare_ok{}},
        {"queue.bind", amqp::queue_bind_ok{}},
        {"queue.unbind", amqp::queue_unbind_ok{}},
        {"exchange.delete", amqp::exchange_delete_ok{}},
    };
    for (const auto& [request, reply] : steps) {
        auto frames = d.take_frames();
        ASSERT_EQ(frames.size(), 1u) << request << ": one request at a time";
        EXPECT_EQ(frames[0].name, request);
        EXPECT_EQ(frames[0].channel, ch);
        d.feed(method_frame(ch, reply));
    }
    EXPECT_TRUE(d.take_output().empty());
    ASSERT_EQ(d.events.size(), 4u);
    EXPECT_EQ(d.events[0].method, "exchange.declare-ok");
    EXPECT_EQ(d.events[1].method, "queue.bind-ok");
    EXPECT_EQ(d.events[2].method, "queue.unbind-ok");
    EXPECT_EQ(d.events[3].method, "exchange.delete-ok");
    for (const auto& e : d.events) {
        EXPECT_EQ(e.kind, event_kind::reply);
        EXPECT_EQ(e.channel, ch);
    }
    EXPECT_TRUE(d.m.is_channel_open(ch));
}

TEST(Topology, TheArgumentsGoOutAsGiven) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    amqp::exchange_declare x;
    x.exchange = "demo";
    x.type = "topic";
    x.durable = true;
    x.auto_delete = true;
    ASSERT_FALSE(d.m.send_sync(ch, x));
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    const auto& sent = std::get<amqp::exchange_declare>(frames[0].m);
    EXPECT_EQ(sent.exchange, "demo");
    EXPECT_EQ(sent.type, "topic");
    EXPECT_TRUE(sent.durable);
    EXPECT_TRUE(sent.auto_delete);
    EXPECT_FALSE(sent.passive || sent.internal || sent.no_wait);
}

// bind-ok where unbind-ok is due: a broker that answers the wrong request cannot be trusted with
// the rest of the connection.
TEST(Topology, AReplyForAnotherRequestClosesTheConnectionWith503) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    amqp::queue_unbind u;
    u.queue = "q";
    u.exchange = "demo";
    ASSERT_FALSE(d.m.send_sync(ch, u));
    d.take_output();
    d.feed(method_frame(ch, amqp::queue_bind_ok{}));
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    ASSERT_EQ(frames[0].name, "connection.close");
    const auto& c = std::get<amqp::connection_close>(frames[0].m);
    EXPECT_EQ(c.reply_code, 503);
    EXPECT_NE(std::string(c.reply_text).find("expected queue.unbind-ok"), std::string::npos) << c.reply_text;
}

// RabbitMQ answers a binding to a missing exchange with channel.close 404, naming queue.bind.
TEST(Topology, BindToAMissingExchangeFailsTheRequestAndOnlyTheChannel) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(ch, bind("q", "missing", "a.*")));
    d.take_output();
    d.feed(method_frame(ch, amqp::channel_close{404, "NOT_FOUND - no exchange 'missing' in vhost '/'", 50, 20}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::channel_closed);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::not_found);
    EXPECT_EQ(d.events[0].reason.to_string(),
              "channel closed by broker: 404 NOT_FOUND - no exchange 'missing' in vhost '/' (queue.bind)");
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "channel.close-ok");
    EXPECT_TRUE(d.m.is_open());
}

}  // namespace
