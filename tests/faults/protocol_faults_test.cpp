// Every framing and protocol fault the connection detects: the reply code it closes with
// (the design guide's table, as RabbitMQ's reader assigns them), and that the fault is sticky.
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp_test;
using amqp::protocol::event_kind;

byte_buffer deliver_method(std::uint16_t ch) {
    amqp::basic_deliver m;
    m.consumer_tag = "t";
    m.delivery_tag = 1;
    return method_frame(ch, m);
}

byte_buffer body_frame(std::uint16_t ch, std::string_view body) {
    return raw_frame(3, ch, byte_buffer(body.begin(), body.end()));
}

byte_buffer u16(std::uint16_t a, std::uint16_t b) {
    return {static_cast<std::uint8_t>(a >> 8), static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b >> 8),
            static_cast<std::uint8_t>(b)};
}

struct fault_case {
    const char* name;
    std::function<byte_buffer()> input;
    std::uint16_t code;
    bool stream_dead = false;  // a framing error: nothing after it can be parsed, so no close-ok wait
};

class Fault : public ::testing::TestWithParam<fault_case> {};

TEST_P(Fault, ClosesTheConnectionWithTheRightCodeAndStaysClosed) {
    const auto& c = GetParam();
    machine_driver d;
    d.open(60, 4096);
    ASSERT_EQ(d.open_channel(), 1);
    d.events.clear();
    d.feed(c.input());
    ASSERT_EQ(d.events.size(), 1u);
    const auto& e = d.events[0];
    EXPECT_EQ(e.kind, event_kind::closed);
    EXPECT_EQ(e.reason.code, amqp::error_code(c.code, amqp::reply_category()));
    EXPECT_EQ(e.reason.reply_code, c.code);
    EXPECT_FALSE(e.reason.from_broker);
    EXPECT_FALSE(e.reason.reply_text.empty());
    const auto frames = d.take_frames();
    ASSERT_FALSE(frames.empty());
    ASSERT_EQ(frames.back().name, "connection.close");
    EXPECT_EQ(std::get<amqp::connection_close>(frames.back().m).reply_code, c.code);
    EXPECT_EQ(frames.back().channel, 0);

    // Sticky: nothing more is reported or accepted; close-ok ends it.
    EXPECT_FALSE(d.m.is_open());
    d.feed(method_frame(1, amqp::queue_declare_ok{"q", 0, 0}));
    EXPECT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.m.publish(1, {}, {}, {}), amqp::client_error::not_open);
    std::uint16_t id = 0;
    EXPECT_EQ(d.m.open_channel(id), amqp::client_error::not_open);
    if (c.stream_dead) {
        EXPECT_TRUE(d.m.should_close_transport());
    } else {
        EXPECT_FALSE(d.m.should_close_transport());
        d.feed(method_frame(0, amqp::connection_close_ok{}));
        EXPECT_TRUE(d.m.should_close_transport());
    }
    EXPECT_EQ(d.events.size(), 1u);
    d.transport_closed();
    EXPECT_EQ(d.events.size(), 1u);
}

const fault_case fault_cases[] = {
    {"header_without_method", [] { return raw_frame(2, 1, header_payload(5)); }, 505},
    {"body_without_header", [] { return body_frame(1, "abc"); }, 505},
    {"body_right_after_method", [] { return deliver_method(1) + body_frame(1, "abc"); }, 505},
    {"method_instead_of_header", [] { return deliver_method(1) + method_frame(1, amqp::basic_qos_ok{}); }, 505},
    {"method_instead_of_body",
     [] { return deliver_method(1) + raw_frame(2, 1, header_payload(5)) + method_frame(1, amqp::basic_qos_ok{}); },
     505},
    {"header_of_another_class", [] { return deliver_method(1) + raw_frame(2, 1, header_payload(5, {}, 50)); }, 505},
    {"header_with_weight", [] { return deliver_method(1) + raw_frame(2, 1, header_payload(5, {}, 60, 1)); }, 505},
    {"body_longer_than_declared",
     [] { return deliver_method(1) + raw_frame(2, 1, header_payload(5)) + body_frame(1, "abcdef"); }, 501},
    {"body_longer_than_declared_in_second_frame",
     [] {
         return deliver_method(1) + raw_frame(2, 1, header_payload(5)) + body_frame(1, "abc") + body_frame(1, "def");
     },
     501},
    {"header_on_channel_0", [] { return raw_frame(2, 0, header_payload(5)); }, 503},
    {"body_on_channel_0", [] { return body_frame(0, "abc"); }, 503},
    {"heartbeat_on_channel_1", [] { return raw_frame(8, 1, {}); }, 505},
    {"heartbeat_with_payload", [] { return raw_frame(8, 0, {1, 2}); }, 501, true},
    {"frame_on_unopened_channel", [] { return method_frame(5, amqp::queue_declare_ok{"q", 0, 0}); }, 504},
    {"bad_frame_end", [] { return raw_frame(1, 1, u16(60, 11), 0xCD); }, 501, true},
    {"unknown_frame_type", [] { return raw_frame(7, 1, {}); }, 501, true},
    {"frame_larger_than_frame_max", [] { return raw_frame(3, 1, byte_buffer(4096 - 7, 'x')); }, 501, true},
    {"unknown_method", [] { return raw_frame(1, 1, u16(60, 999)); }, 540},
    {"method_payload_shorter_than_4", [] { return raw_frame(1, 1, {0, 60, 0}); }, 501},
    {"truncated_method_arguments", [] { return raw_frame(1, 1, u16(50, 11) + byte_buffer{5, 'q'}); }, 502},
    {"header_shorter_than_14", [] { return deliver_method(1) + raw_frame(2, 1, {0, 60, 0, 0, 0}); }, 501},
    {"reply_with_nothing_pending", [] { return method_frame(1, amqp::basic_qos_ok{}); }, 503},
    {"get_ok_with_nothing_pending",
     [] {
         byte_buffer b;
         (void)amqp::append_message(b, 1, amqp::basic_get_ok{1, false, "", "q", 0}, {}, amqp::as_bytes("x"), 4096);
         return b;
     },
     503},
    {"connection_method_on_channel_1", [] { return method_frame(1, amqp::connection_blocked{"x"}); }, 503},
    {"channel_method_on_channel_0", [] { return method_frame(0, amqp::basic_qos_ok{}); }, 503},
    {"start_after_open", [] { return connection_start_frame(); }, 503},
    {"close_ok_while_open", [] { return method_frame(0, amqp::connection_close_ok{}); }, 503},
};

INSTANTIATE_TEST_SUITE_P(Protocol, Fault, ::testing::ValuesIn(fault_cases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Faults, ReplyThatDoesNotMatchTheRequestIs503) {
    machine_driver d;
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    amqp::queue_declare q;
    q.queue = "x";
    ASSERT_FALSE(d.m.send_sync(ch, q));
    d.take_output();
    d.feed(method_frame(ch, amqp::basic_qos_ok{}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::command_invalid);
    EXPECT_NE(d.events[0].reason.reply_text.find("expected queue.declare-ok"), std::string::npos)
        << d.events[0].reason.reply_text;
}

TEST(Faults, BodyAboveMaxMessageSizeClosesOnlyTheChannelBeforeAllocating) {
    auto opts = machine_driver::default_options();
    opts.max_message_size = 1000;
    machine_driver d(opts);
    d.open(60, 4096);
    const auto ch = d.open_channel();
    d.events.clear();
    // Declared 1 GiB: refused at the header, before any of it arrives.
    d.feed(deliver_method(ch) + raw_frame(2, ch, header_payload(1ull << 30)));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::channel_closed);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::message_too_large);
    EXPECT_EQ(d.events[0].reason.reply_code, 311);
    auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "channel.close");
    EXPECT_EQ(std::get<amqp::channel_close>(frames[0].m).reply_code, 311);
    // Body frames still in flight are skipped; other channels go on.
    d.feed(body_frame(ch, std::string(4000, 'x')));
    EXPECT_EQ(d.events.size(), 1u);
    EXPECT_TRUE(d.m.is_open());
    d.feed(method_frame(ch, amqp::channel_close_ok{}));
    EXPECT_EQ(d.events.size(), 1u);
    EXPECT_TRUE(d.m.is_open());
    std::uint16_t id = 0;
    ASSERT_FALSE(d.m.open_channel(id));
    EXPECT_EQ(id, ch);
}

TEST(Faults, BodyAtExactlyMaxMessageSizeIsDelivered) {
    auto opts = machine_driver::default_options();
    opts.max_message_size = 10;
    machine_driver d(opts);
    d.open();
    const auto ch = d.open_channel();
    d.events.clear();
    d.feed(deliver_method(ch) + raw_frame(2, ch, header_payload(10)) + body_frame(ch, "0123456789"));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].body, "0123456789");
}

TEST(Faults, FrameLimitBeforeTuneIs4096) {
    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    // A connection.start padded past 4096 bytes: refused before any tune raised the limit.
    d.feed(raw_frame(1, 0, u16(10, 10) + byte_buffer(5000, 0)));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::frame_error);
    EXPECT_TRUE(d.take_output().empty()) << "before start-ok there is nobody to send close to";
    EXPECT_TRUE(d.m.should_close_transport());
}

TEST(Faults, GarbageInsteadOfAHeaderOrFrame) {
    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    d.feed(byte_buffer{'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '4', '0', '0'});
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::frame_error);
}

TEST(Faults, FaultWhileClosingStopsWaitingForCloseOk) {
    machine_driver d;
    d.open();
    d.m.close();
    d.take_output();
    d.feed(raw_frame(9, 0, {}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::closed);
    EXPECT_TRUE(d.m.should_close_transport());
    EXPECT_TRUE(d.take_output().empty());
}

}  // namespace
