// Channels on an open connection: synchronous requests and their replies, content assembly,
// publishing, server-sent methods, and both close handshakes.
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp_test;
using amqp::protocol::event_kind;

amqp::queue_declare declare(std::string_view name) {
    amqp::queue_declare q;
    q.queue = name;
    return q;
}

byte_buffer delivery(std::uint16_t ch, std::string_view tag, std::uint64_t delivery_tag, std::string_view body,
                     std::uint32_t frame_max = 131072, std::string_view corr = "c-1") {
    amqp::basic_deliver m;
    m.consumer_tag = tag;
    m.delivery_tag = delivery_tag;
    m.routing_key = "rpc_queue";
    amqp::basic_properties p;
    p.correlation_id = corr;
    p.reply_to = "amq.gen-reply";
    byte_buffer out;
    (void)amqp::append_message(out, ch, m, p, amqp::as_bytes(body), frame_max);
    return out;
}

TEST(Channel, OpenPicksTheLowestFreeIdAndWaitsForOpenOk) {
    machine_driver d;
    d.open();
    std::uint16_t id = 0;
    ASSERT_FALSE(d.m.open_channel(id));
    EXPECT_EQ(id, 1);
    EXPECT_FALSE(d.m.is_channel_open(1));
    auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "channel.open");
    EXPECT_EQ(frames[0].channel, 1);
    d.feed(method_frame(1, amqp::channel_open_ok{}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::reply);
    EXPECT_EQ(d.events[0].method, "channel.open-ok");
    EXPECT_TRUE(d.m.is_channel_open(1));
    std::uint16_t second = 0;
    ASSERT_FALSE(d.m.open_channel(second));
    EXPECT_EQ(second, 2);
}

TEST(Channel, CommandsBeforeOpenFail) {
    machine_driver d;
    std::uint16_t id = 0;
    EXPECT_EQ(d.m.open_channel(id), amqp::client_error::not_open);
    EXPECT_EQ(d.m.send_sync(1, amqp::basic_qos{}), amqp::client_error::not_open);
    EXPECT_EQ(d.m.publish(1, {}, {}, {}), amqp::client_error::not_open);
}

TEST(Channel, ChannelMaxIsEnforced) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame() + tune_frame(2, 131072, 0) + open_ok_frame());
    std::uint16_t id = 0;
    EXPECT_FALSE(d.m.open_channel(id));
    EXPECT_FALSE(d.m.open_channel(id));
    EXPECT_EQ(d.m.open_channel(id), amqp::reply_code::resource_error);
}

TEST(Channel, OneSynchronousRequestAtATimeRepliesInOrder) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    ASSERT_EQ(ch, 1);
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(ch, declare("a")));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::basic_qos{0, 10, false}));
    ASSERT_FALSE(d.m.send_sync(ch, declare("b")));
    auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u) << "only the first request goes out";
    EXPECT_EQ(std::get<amqp::queue_declare>(frames[0].m).queue, "a");

    d.feed(method_frame(ch, amqp::queue_declare_ok{"a", 0, 0}));
    frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "basic.qos");
    d.feed(method_frame(ch, amqp::basic_qos_ok{}));
    frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(std::get<amqp::queue_declare>(frames[0].m).queue, "b");
    d.feed(method_frame(ch, amqp::queue_declare_ok{"b", 3, 1}));
    ASSERT_EQ(d.events.size(), 3u);
    EXPECT_EQ(d.events[0].method, "queue.declare-ok");
    EXPECT_EQ(d.events[1].method, "basic.qos-ok");
    EXPECT_EQ(d.events[2].method, "queue.declare-ok");
    EXPECT_TRUE(d.take_output().empty());
}

TEST(Channel, ChannelsAreIndependent) {
    machine_driver d;
    d.open();
    const auto a = d.open_channel();
    const auto b = d.open_channel();
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(a, declare("a")));
    ASSERT_FALSE(d.m.send_sync(b, declare("b")));
    EXPECT_EQ(d.take_frames().size(), 2u);
    d.feed(method_frame(b, amqp::queue_declare_ok{"b", 0, 0}));
    d.feed(method_frame(a, amqp::queue_declare_ok{"a", 0, 0}));
    ASSERT_EQ(d.events.size(), 2u);
    EXPECT_EQ(d.events[0].channel, b);
    EXPECT_EQ(d.events[1].channel, a);
}

TEST(Channel, DeliveryInSeveralBodyFramesIsAssembled) {
    machine_driver d;
    d.open(60, 4096);
    const auto ch = d.open_channel();
    d.events.clear();
    std::string body(10000, 'x');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
    const auto bytes = delivery(ch, "ctag", 7, body, 4096, "corr-42");
    d.feed(bytes);
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::delivery);
    EXPECT_EQ(d.events[0].consumer_tag, "ctag");
    EXPECT_EQ(d.events[0].delivery_tag, 7u);
    EXPECT_EQ(d.events[0].correlation_id, "corr-42");
    EXPECT_EQ(d.events[0].body, body);
}

TEST(Channel, TrafficSplitAtEveryByteGivesTheSameEvents) {
    // After the handshake and a channel open: a declare-ok, three deliveries (one empty, one in
    // three body frames), a return, a server cancel, a heartbeat.
    amqp::basic_return ret;
    ret.reply_code = 312;
    ret.reply_text = "NO_ROUTE";
    ret.routing_key = "nowhere";
    byte_buffer returned;
    (void)amqp::append_message(returned, 1, ret, {}, amqp::as_bytes("lost"), 4096);
    byte_buffer heartbeat;
    amqp::append_heartbeat(heartbeat);
    const byte_buffer traffic = method_frame(1, amqp::queue_declare_ok{"q", 0, 0}) + delivery(1, "t", 1, "hello") +
                                delivery(1, "t", 2, "", 131072, "c-2") +
                                delivery(1, "t", 3, std::string(9000, 'z'), 4096, "c-3") + returned +
                                method_frame(1, amqp::basic_cancel{"t", true}) + heartbeat;
    // Whole deliveries in one chunk take the one-pass decoder (decode_delivery); byte by byte,
    // or with a frame observer, every frame goes through the frame-by-frame path.
    std::size_t traced_in = 0;
    auto run = [&](std::size_t split, bool traced = false) {
        machine_driver d;
        d.open(60, 4096);
        EXPECT_EQ(d.open_channel(), 1);
        EXPECT_FALSE(d.m.send_sync(1, declare("q")));
        d.take_output();
        d.events.clear();
        if (traced) {
            d.m.set_frame_observer([&](amqp::protocol::direction dir, const amqp::frame_view&) {
                if (dir == amqp::protocol::direction::in) ++traced_in;
            });
        }
        if (split == 0) {
            d.feed_chunked(traffic, 1);
        } else {
            d.feed(amqp::bytes_view(traffic).first(split));
            d.feed(amqp::bytes_view(traffic).subspan(split));
        }
        std::vector<std::string> seen;
        for (const auto& e : d.events)
            seen.push_back(std::to_string(static_cast<int>(e.kind)) + ":" + e.method + ":" + e.body + ":" +
                           std::to_string(e.delivery_tag) + ":" + e.text + ":" + e.correlation_id);
        EXPECT_TRUE(d.m.is_open());
        return seen;
    };
    const auto bytewise = run(0);
    ASSERT_EQ(bytewise.size(), 6u);
    EXPECT_EQ(bytewise[1], "3:basic.deliver:hello:1::c-1");
    EXPECT_EQ(bytewise[2], "3:basic.deliver::2::c-2");
    EXPECT_EQ(bytewise[3], "3:basic.deliver:" + std::string(9000, 'z') + ":3::c-3");
    EXPECT_EQ(run(traffic.size(), true), bytewise);
    // The observer saw every frame: 1 + 3 + 2 + (2 + 3) + 3 + 1 + 1.
    EXPECT_EQ(traced_in, 16u);
    for (std::size_t split = 1; split < traffic.size(); ++split) ASSERT_EQ(run(split), bytewise) << "split at " << split;
}

// The transport reads straight into the machine (read_space / commit_read) instead of feed():
// the handshake (the protocol-header check reads through a staging buffer) and multi-frame
// deliveries must come out as feed() gives them, whatever the read sizes.
TEST(Channel, ReadInPlaceGivesTheSameEventsAsFeed) {
    const byte_buffer handshake = connection_start_frame() + tune_frame(2047, 4096, 60) + open_ok_frame();
    const byte_buffer traffic = method_frame(1, amqp::channel_open_ok{}) + delivery(1, "t", 1, "hello") +
                                delivery(1, "t", 2, std::string(9000, 'z'), 4096, "c-2") +
                                delivery(1, "t", 3, std::string(20000, 'y'), 4096, "c-3");
    auto run = [&](std::size_t read_size, bool in_place) {
        machine_driver d;
        d.m.start(d.now);
        d.take_output();
        std::uint16_t id = 0;
        const byte_buffer all = handshake + traffic;
        for (std::size_t pos = 0; pos < all.size();) {
            if (pos == handshake.size()) {
                EXPECT_FALSE(d.m.open_channel(id));
            }
            const std::size_t until = pos < handshake.size() ? handshake.size() : all.size();
            std::size_t n = std::min(read_size, until - pos);
            if (in_place) {
                const auto space = d.m.read_space(read_size);
                EXPECT_FALSE(space.empty());
                n = std::min(n, space.size());
                std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(pos), n, space.begin());
                d.m.commit_read(n, d.now);
                d.drain();
            } else {
                d.feed(amqp::bytes_view(all).subspan(pos, n));
            }
            pos += n;
        }
        std::vector<std::string> seen;
        for (const auto& e : d.events)
            seen.push_back(std::to_string(static_cast<int>(e.kind)) + ":" + e.method + ":" + e.body + ":" +
                           std::to_string(e.delivery_tag) + ":" + e.correlation_id);
        EXPECT_TRUE(d.m.is_open());
        return seen;
    };
    const auto fed = run(handshake.size() + 1, false);
    ASSERT_EQ(fed.size(), 5u);  // opened, channel open-ok, three deliveries
    EXPECT_EQ(fed[4], "3:basic.deliver:" + std::string(20000, 'y') + ":3:c-3");
    for (std::size_t read_size : {1, 7, 100, 4096, 5000, 65536}) {
        EXPECT_EQ(run(read_size, true), fed) << "reads of " << read_size;
    }
}

TEST(Channel, PublishPutsMethodHeaderAndBodyFramesTogether) {
    machine_driver d;
    d.open(60, 4096);
    const auto ch = d.open_channel();
    amqp::basic_publish m;
    m.routing_key = "rpc_queue";
    amqp::basic_properties p;
    p.correlation_id = "abc";
    const std::string body(10000, 'q');
    ASSERT_FALSE(d.m.publish(ch, m, p, amqp::as_bytes(body)));
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 5u);  // method, header, 3 bodies of <= 4088 bytes
    EXPECT_EQ(frames[0].name, "basic.publish");
    EXPECT_EQ(frames[1].type, amqp::frame_type::header);
    std::size_t total = 0;
    for (std::size_t i = 2; i < frames.size(); ++i) {
        EXPECT_EQ(frames[i].type, amqp::frame_type::body);
        EXPECT_LE(frames[i].payload.size(), 4096u - 8);
        total += frames[i].payload.size();
    }
    EXPECT_EQ(total, body.size());
}

TEST(Channel, PublishAboveMaxMessageSizeIsRefused) {
    auto opts = machine_driver::default_options();
    opts.max_message_size = 100;
    machine_driver d(opts);
    d.open();
    const auto ch = d.open_channel();
    const std::string body(101, 'x');
    EXPECT_EQ(d.m.publish(ch, {}, {}, amqp::as_bytes(body)), amqp::client_error::message_too_large);
    EXPECT_TRUE(d.take_output().empty());
}

TEST(Channel, AcksGoOutAtOnce) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    ASSERT_FALSE(d.m.send_async(ch, amqp::basic_ack{5, false}));
    ASSERT_FALSE(d.m.send_async(ch, amqp::basic_nack{6, true, false}));
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(std::get<amqp::basic_ack>(frames[0].m).delivery_tag, 5u);
    EXPECT_EQ(frames[1].name, "basic.nack");
}

TEST(Channel, BrokerChannelCloseFailsThePendingRequestAndIsAnswered) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(ch, declare("missing")));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::basic_qos{}));
    d.take_output();
    d.feed(method_frame(ch, amqp::channel_close{404, "NOT_FOUND - no queue 'missing' in vhost '/'", 50, 10}));
    ASSERT_EQ(d.events.size(), 1u);
    const auto& e = d.events[0];
    EXPECT_EQ(e.kind, event_kind::channel_closed);
    EXPECT_EQ(e.channel, ch);
    EXPECT_EQ(e.reason.code, amqp::reply_code::not_found);
    EXPECT_EQ(e.reason.to_string(),
              "channel closed by broker: 404 NOT_FOUND - no queue 'missing' in vhost '/' (queue.declare)");
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "channel.close-ok");
    EXPECT_EQ(frames[0].channel, ch);
    EXPECT_FALSE(d.m.is_channel_open(ch));
    EXPECT_EQ(d.m.send_sync(ch, amqp::basic_qos{}), amqp::client_error::not_open);
    EXPECT_TRUE(d.m.is_open()) << "a channel error leaves the connection open";
    // The id is free again.
    std::uint16_t id = 0;
    ASSERT_FALSE(d.m.open_channel(id));
    EXPECT_EQ(id, ch);
}

TEST(Channel, OurCloseWaitsForCloseOkAndDiscardsTheRest) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(ch, amqp::channel_close{200, "bye", 0, 0}));
    EXPECT_EQ(d.m.publish(ch, {}, {}, {}), amqp::client_error::not_open);
    EXPECT_EQ(d.take_frames().at(0).name, "channel.close");
    // A delivery already on its way is discarded (spec 2.2.4 / 4.2.2).
    d.feed(delivery(ch, "t", 1, "late"));
    EXPECT_TRUE(d.events.empty());
    d.feed(method_frame(ch, amqp::channel_close_ok{}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].method, "channel.close-ok");
    EXPECT_TRUE(d.m.is_open());
}

TEST(Channel, CloseQueuedBehindARequestGoesOutAfterItsReply) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    ASSERT_FALSE(d.m.send_sync(ch, declare("q")));
    ASSERT_FALSE(d.m.send_sync(ch, amqp::channel_close{200, "bye", 0, 0}));
    EXPECT_EQ(d.take_frames().size(), 1u);
    d.feed(delivery(ch, "t", 1, "still delivered"));
    d.feed(method_frame(ch, amqp::queue_declare_ok{"q", 0, 0}));
    EXPECT_EQ(d.take_frames().at(0).name, "channel.close");
}

TEST(Channel, CrossingClosesAreBothAnswered) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    ASSERT_FALSE(d.m.send_sync(ch, amqp::channel_close{200, "bye", 0, 0}));
    d.take_output();
    d.feed(method_frame(ch, amqp::channel_close{406, "PRECONDITION_FAILED", 50, 10}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::channel_closed);
    EXPECT_EQ(d.take_frames().at(0).name, "channel.close-ok");
    d.feed(method_frame(ch, amqp::channel_close_ok{}));
    EXPECT_EQ(d.events.size(), 1u);
    EXPECT_TRUE(d.m.is_open());
}

TEST(Channel, ServerCancelFlowAndBlocked) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    d.feed(method_frame(ch, amqp::basic_cancel{"ctag-1", false}));
    d.feed(method_frame(ch, amqp::channel_flow{false}));
    d.feed(method_frame(0, amqp::connection_blocked{"low on memory"}));
    d.feed(method_frame(0, amqp::connection_unblocked{}));
    ASSERT_EQ(d.events.size(), 4u);
    EXPECT_EQ(d.events[0].kind, event_kind::consumer_cancelled);
    EXPECT_EQ(d.events[0].text, "ctag-1");
    EXPECT_EQ(d.events[1].kind, event_kind::flow);
    EXPECT_EQ(d.events[2].kind, event_kind::blocked);
    EXPECT_EQ(d.events[2].text, "low on memory");
    EXPECT_EQ(d.events[3].kind, event_kind::unblocked);
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(std::get<amqp::basic_cancel_ok>(frames[0].m).consumer_tag, "ctag-1");
    EXPECT_EQ(std::get<amqp::channel_flow_ok>(frames[1].m).active, false);
}

TEST(Connection, BrokerCloseIsAnsweredAndReported) {
    machine_driver d;
    d.open();
    d.open_channel();
    d.events.clear();
    d.feed(method_frame(0, amqp::connection_close{320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", 0, 0}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::closed);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::connection_forced);
    EXPECT_TRUE(d.events[0].reason.from_broker);
    EXPECT_EQ(d.take_frames().at(0).name, "connection.close-ok");
    EXPECT_TRUE(d.m.should_close_transport());
    EXPECT_FALSE(d.m.is_open());
    EXPECT_EQ(d.m.send_sync(1, amqp::basic_qos{}), amqp::client_error::not_open);
}

TEST(Connection, OurCloseEndsWithCloseOk) {
    machine_driver d;
    d.open();
    d.m.close();
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(std::get<amqp::connection_close>(frames[0].m).reply_code, 200);
    EXPECT_FALSE(d.m.should_close_transport());
    d.feed(delivery(1, "t", 1, "ignored"));  // discarded while closing, even on unknown channels
    EXPECT_TRUE(d.events.empty());
    d.feed(method_frame(0, amqp::connection_close_ok{}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::closed);
    EXPECT_FALSE(d.events[0].reason.code);
    EXPECT_TRUE(d.m.should_close_transport());
}

}  // namespace
