// protocol_options::deliver_oversized on the sans-IO machine: a delivery or return whose body
// exceeds max_message_size is reported with its method and properties but no body (body_refused,
// the declared size), the body frames are skipped unread, and the channel stays open, so a
// consumer can settle and answer it (the RPC server's error reply, the client's failed call).
#include <test_support/broker_script.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using amqp::byte_buffer;
using amqp::protocol::event_kind;
using namespace amqp_test;

byte_buffer body_frame(std::uint16_t ch, std::size_t n, char c) { return raw_frame(3, ch, byte_buffer(n, static_cast<std::uint8_t>(c))); }

struct seen {
    event_kind kind = event_kind::none;
    std::uint64_t delivery_tag = 0;
    std::string correlation_id;
    std::string body;
    bool refused = false;
    std::uint64_t body_size = 0;
};

std::vector<seen> feed(amqp::protocol::connection_machine& m, const byte_buffer& bytes, std::size_t chunk) {
    std::vector<seen> out;
    const auto now = amqp::protocol::clock::now();
    for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        m.feed(amqp::bytes_view(bytes).subspan(i, std::min(chunk, bytes.size() - i)), now);
        amqp::protocol::event ev;
        while (m.next_event(ev)) {
            seen s;
            s.kind = ev.kind;
            s.delivery_tag = ev.kind == event_kind::delivery ? ev.deliver.delivery_tag : 0;
            s.correlation_id = std::string(ev.properties.correlation_id.value_or(""));
            s.body = std::string(amqp::as_string_view(ev.body));
            s.refused = ev.body_refused;
            s.body_size = ev.body_size;
            out.push_back(std::move(s));
        }
    }
    return out;
}

byte_buffer deliver(std::uint16_t ch, std::uint64_t tag) {
    amqp::basic_deliver d;
    d.consumer_tag = "t";
    d.delivery_tag = tag;
    return method_frame(ch, d);
}

// A machine with deliver_oversized on and `max_message_size`, open (with `frame_max`), one channel.
struct oversized_machine {
    explicit oversized_machine(std::uint64_t max_message_size, std::uint32_t frame_max = 131072)
        : d(options(max_message_size)) {
        d.open(60, frame_max);
        ch = d.open_channel();
    }
    static amqp::protocol_options options(std::uint64_t max_message_size) {
        auto opts = machine_driver::default_options();
        opts.max_message_size = max_message_size;
        opts.deliver_oversized = true;
        return opts;
    }
    machine_driver d;
    std::uint16_t ch = 0;
};

class oversized : public ::testing::TestWithParam<std::size_t> {};

TEST_P(oversized, delivery_is_reported_without_its_body_and_the_channel_stays) {
    oversized_machine om(1000, 4096);
    auto& d = om.d;
    const auto ch = om.ch;
    ASSERT_NE(ch, 0);
    d.events.clear();
    amqp::basic_properties p;
    p.correlation_id = "c1";
    const byte_buffer input = deliver(ch, 7) + raw_frame(2, ch, header_payload(5000, p)) + body_frame(ch, 4000, 'x') +
                              body_frame(ch, 1000, 'y') + deliver(ch, 8) + raw_frame(2, ch, header_payload(2)) +
                              body_frame(ch, 2, 'k');
    const auto events = feed(d.m, input, GetParam());
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, event_kind::delivery);
    EXPECT_EQ(events[0].delivery_tag, 7u);
    EXPECT_EQ(events[0].correlation_id, "c1");
    EXPECT_TRUE(events[0].refused);
    EXPECT_EQ(events[0].body_size, 5000u);
    EXPECT_EQ(events[0].body, "");
    EXPECT_EQ(events[1].kind, event_kind::delivery);
    EXPECT_EQ(events[1].delivery_tag, 8u);
    EXPECT_FALSE(events[1].refused);
    EXPECT_EQ(events[1].body, "kk");
    EXPECT_TRUE(d.m.is_channel_open(ch));
    EXPECT_TRUE(d.take_output().empty()) << "nothing to say to the broker: no channel.close";
}

TEST_P(oversized, return_is_reported_without_its_body) {
    oversized_machine om(10);
    auto& d = om.d;
    const auto ch = om.ch;
    d.events.clear();
    amqp::basic_return r;
    r.reply_code = 312;
    r.reply_text = "NO_ROUTE";
    r.routing_key = "q";
    amqp::basic_properties p;
    p.correlation_id = "c2";
    const auto events =
        feed(d.m, method_frame(ch, r) + raw_frame(2, ch, header_payload(11, p)) + body_frame(ch, 11, 'z'), GetParam());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, event_kind::returned);
    EXPECT_EQ(events[0].correlation_id, "c2");
    EXPECT_TRUE(events[0].refused);
    EXPECT_EQ(events[0].body_size, 11u);
    EXPECT_TRUE(d.m.is_channel_open(ch));
}

TEST_P(oversized, body_longer_than_declared_is_still_a_frame_error) {
    oversized_machine om(10);
    auto& d = om.d;
    const auto ch = om.ch;
    const auto events = feed(d.m, deliver(ch, 1) + raw_frame(2, ch, header_payload(11)) + body_frame(ch, 12, 'z'), GetParam());
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().kind, event_kind::closed);
    EXPECT_FALSE(d.m.is_open());
}

// Whole, and one byte at a time.
INSTANTIATE_TEST_SUITE_P(chunks, oversized, ::testing::Values(std::size_t{1} << 20, std::size_t{1}));

}  // namespace
