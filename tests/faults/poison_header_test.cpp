// A delivery whose content header is well framed but whose properties break our limits or do not
// decode (issue 15, defect 1): one event with `fault` set, the properties that could be read, no
// body; the next message on the channel as usual; the connection and channel still open. Bytes
// that cannot be re-synchronised stay connection-fatal. Every split point gives the same events.
#include <test_support/broker_script.hpp>
#include <test_support/poison_tables.hpp>

#include <amqp/codec/field_table.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using amqp::byte_buffer;
using amqp::protocol::event_kind;
using namespace amqp_test;

// ---- golden bytes, assembled by hand (our encoder refuses to write most of them) --------------

void put_u8(byte_buffer& b, std::uint8_t v) { b.push_back(v); }

// {"a": F <length 1000> {}}: the inner table claims more than its table holds (not the frame).
byte_buffer inner_length_past_table_body() {
    byte_buffer t;
    put_shortstr(t, "a");
    put_u8(t, 'F');
    put_u32(t, 1000);
    return t;
}

constexpr std::uint16_t headers_bit = 1u << 13, correlation_bit = 1u << 10, reply_to_bit = 1u << 9,
                        message_id_bit = 1u << 7;

// A content header payload: content-type "text/plain", then `headers_body` as the headers table
// (its length prefix as `headers_length`, normally its size), correlation-id, reply-to,
// message-id, and `trailing` extra octets.
byte_buffer header_with(std::uint64_t body_size, const byte_buffer& headers_body, std::uint32_t headers_length,
                        std::string_view correlation_id, std::size_t trailing = 0) {
    byte_buffer p = {0, 60, 0, 0};  // class basic, weight 0
    for (int s = 56; s >= 0; s -= 8) p.push_back(static_cast<std::uint8_t>(body_size >> s));
    const std::uint16_t flags = 1u << 15 | headers_bit | correlation_bit | reply_to_bit | message_id_bit;
    p.push_back(static_cast<std::uint8_t>(flags >> 8));
    p.push_back(static_cast<std::uint8_t>(flags));
    put_shortstr(p, "text/plain");
    put_u32(p, headers_length);
    p.insert(p.end(), headers_body.begin(), headers_body.end());
    put_shortstr(p, correlation_id);
    put_shortstr(p, "amq.rabbitmq.reply-to.g1h2");
    put_shortstr(p, "m-1");
    p.insert(p.end(), trailing, 0xAB);
    return p;
}

byte_buffer header_with(std::uint64_t body_size, const byte_buffer& headers_body, std::string_view correlation_id) {
    return header_with(body_size, headers_body, static_cast<std::uint32_t>(headers_body.size()), correlation_id);
}

byte_buffer deliver(std::uint16_t ch, std::uint64_t tag) {
    amqp::basic_deliver d;
    d.consumer_tag = "ctag";
    d.delivery_tag = tag;
    d.routing_key = "rpc_queue";
    return method_frame(ch, d);
}

byte_buffer body_frame(std::uint16_t ch, std::string_view s) {
    return raw_frame(3, ch, byte_buffer(s.begin(), s.end()));
}

// A good message after the bad one, on the same channel: it must come through untouched.
byte_buffer good_delivery(std::uint16_t ch) {
    amqp::basic_properties p;
    p.correlation_id = "next";
    return deliver(ch, 2) + raw_frame(2, ch, header_payload(2, p)) + body_frame(ch, "ok");
}

// ---- driving ------------------------------------------------------------------------------------

struct seen {
    event_kind kind = event_kind::none;
    std::uint64_t delivery_tag = 0;
    std::string correlation_id, reply_to, message_id, content_type, body, fault, reason;
    bool has_headers = false;
    friend bool operator==(const seen&, const seen&) = default;
};

std::ostream& operator<<(std::ostream& os, const seen& s) {
    return os << "{kind " << int(s.kind) << " tag " << s.delivery_tag << " corr '" << s.correlation_id << "' reply_to '"
              << s.reply_to << "' body '" << s.body << "' fault '" << s.fault << "' reason '" << s.reason << "'}";
}

// An open machine with channel 1, fed `input` in the pieces `cuts` makes (offsets, ascending).
struct run {
    explicit run(const byte_buffer& input, const std::vector<std::size_t>& cuts,
                 amqp::protocol_options opts = machine_driver::default_options())
        : d(std::move(opts)) {
        d.open();
        ch = d.open_channel();
        d.take_output();
        std::size_t from = 0;
        auto feed_to = [&](std::size_t to) {
            d.m.feed(amqp::bytes_view(input).subspan(from, to - from), d.now);
            from = to;
            drain();
        };
        for (std::size_t c : cuts) feed_to(c);
        feed_to(input.size());
    }
    void drain() {
        amqp::protocol::event ev;
        while (d.m.next_event(ev)) {
            seen s;
            s.kind = ev.kind;
            if (ev.kind == event_kind::delivery) s.delivery_tag = ev.deliver.delivery_tag;
            s.correlation_id = std::string(ev.properties.correlation_id.value_or("-"));
            s.reply_to = std::string(ev.properties.reply_to.value_or("-"));
            s.message_id = std::string(ev.properties.message_id.value_or("-"));
            s.content_type = std::string(ev.properties.content_type.value_or("-"));
            s.has_headers = ev.properties.headers.has_value();
            s.body = std::string(amqp::as_string_view(ev.body));
            s.fault = std::string(ev.fault);
            s.reason = ev.reason.reply_text;
            events.push_back(std::move(s));
        }
    }
    machine_driver d;
    std::uint16_t ch = 0;
    std::vector<seen> events;
};

// The events whole, one byte at a time, and cut in two at every offset: all the same.
std::vector<seen> events_at_every_split(const byte_buffer& input) {
    const run whole(input, {});
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
    EXPECT_EQ(run(input, every).events, whole.events) << "one byte at a time";
    for (std::size_t i = 1; i < input.size(); ++i) EXPECT_EQ(run(input, {i}).events, whole.events) << "cut at " << i;
    return whole.events;
}

// The bad message's event, then the good one's; the connection and channel still open, and
// nothing said to the broker (no channel.close, no connection.close).
void expect_per_message_fault(const byte_buffer& bad_header, std::string_view body, std::string_view fault_part) {
    const std::uint16_t ch = 1;
    byte_buffer input = deliver(ch, 1) + raw_frame(2, ch, bad_header);
    // The body in two frames: both skipped unread.
    if (!body.empty()) input = input + body_frame(ch, body.substr(0, 1)) + body_frame(ch, body.substr(1));
    input = input + good_delivery(ch);
    const auto events = events_at_every_split(input);
    ASSERT_EQ(events.size(), 2u) << (events.empty() ? seen{} : events.back());
    const seen& bad = events[0];
    EXPECT_EQ(bad.kind, event_kind::delivery);
    EXPECT_EQ(bad.delivery_tag, 1u);
    EXPECT_NE(bad.fault.find(fault_part), std::string::npos) << bad.fault;
    EXPECT_EQ(bad.body, "");
    EXPECT_EQ(bad.content_type, "text/plain");
    EXPECT_FALSE(bad.has_headers) << "the refused table is left out";
    EXPECT_EQ(bad.correlation_id, "corr-1");
    EXPECT_EQ(bad.reply_to, "amq.rabbitmq.reply-to.g1h2");
    EXPECT_EQ(bad.message_id, "m-1");
    for (char c : bad.fault) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "printable text only: " << bad.fault;

    const seen& good = events[1];
    EXPECT_EQ(good.kind, event_kind::delivery);
    EXPECT_EQ(good.delivery_tag, 2u);
    EXPECT_EQ(good.fault, "");
    EXPECT_EQ(good.correlation_id, "next");
    EXPECT_EQ(good.body, "ok");

    run r(input, {});
    EXPECT_TRUE(r.d.m.is_open());
    EXPECT_TRUE(r.d.m.is_channel_open(ch));
    EXPECT_TRUE(r.d.take_output().empty()) << "nothing to say to the broker";
}

TEST(poison_header, builders_write_the_bytes_pika_sends) {
    // pika 1.2's data.encode_table for {'n': {'leaf': 1}}, without its length prefix: name "n",
    // tag F, length 10, then name "leaf", tag I, 1.
    const byte_buffer two = {1, 'n', 'F', 0, 0, 0, 10, 4, 'l', 'e', 'a', 'f', 'I', 0, 0, 0, 1};
    EXPECT_EQ(nested_table_body(2), two);
    EXPECT_EQ(nested_table_body(40).size(), 10u + 39u * 7u);
    const byte_buffer unknown = {2, 'o', 'k', 'b', 1, 2, 'k', '\n', 'Z', 0};
    EXPECT_EQ(unknown_tag_table_body('Z'), unknown);
}

TEST(poison_header, forty_levels_of_nested_headers_cost_the_message_only) {
    expect_per_message_fault(header_with(2, nested_table_body(40), "corr-1"), "10",
                             "tables nested deeper than 32 levels");
}

TEST(poison_header, thirty_two_levels_are_within_the_limit) {
    const std::uint16_t ch = 1;
    const byte_buffer input =
        deliver(ch, 1) + raw_frame(2, ch, header_with(2, nested_table_body(32), "corr-1")) + body_frame(ch, "10");
    const auto events = run(input, {}).events;
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].fault, "");
    EXPECT_TRUE(events[0].has_headers);
    EXPECT_EQ(events[0].body, "10");
}

TEST(poison_header, unknown_field_type_tag_costs_the_message_only) {
    expect_per_message_fault(header_with(2, unknown_tag_table_body('Z'), "corr-1"), "10",
                             "unknown field type tag 'Z'");
}

TEST(poison_header, peer_key_in_the_fault_is_escaped) {
    const std::uint16_t ch = 1;
    const auto events =
        run(deliver(ch, 1) + raw_frame(2, ch, header_with(0, unknown_tag_table_body('Z'), "corr-1")), {}).events;
    ASSERT_EQ(events.size(), 1u);
    // The tag is at 14 (fixed part) + 11 (content-type) + 4 (table length) + 5 ("ok") + 3 ("k\n").
    EXPECT_EQ(events[0].fault, R"(content header refused: unknown field type tag 'Z' )"
                               R"((field "basic.properties.headers.k\n" at offset 37))");
}

TEST(poison_header, inner_table_length_past_its_table_costs_the_message_only) {
    expect_per_message_fault(header_with(2, inner_length_past_table_body(), "corr-1"), "10",
                             "nested table length runs past the end of the table");
}

TEST(poison_header, trailing_bytes_cost_the_message_only) {
    const byte_buffer fine = nested_table_body(2);
    auto h = header_with(2, fine, static_cast<std::uint32_t>(fine.size()), "corr-1", 3);
    const std::uint16_t ch = 1;
    const auto events =
        events_at_every_split(deliver(ch, 1) + raw_frame(2, ch, h) + body_frame(ch, "10") + good_delivery(ch));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_NE(events[0].fault.find("3 trailing byte(s)"), std::string::npos) << events[0].fault;
    EXPECT_TRUE(events[0].has_headers) << "every property was read";
    EXPECT_EQ(events[0].correlation_id, "corr-1");
    EXPECT_EQ(events[0].body, "");
    EXPECT_EQ(events[1].body, "ok");
}

TEST(poison_header, empty_body_message_is_reported_at_its_header) {
    const std::uint16_t ch = 1;
    const auto events = events_at_every_split(deliver(ch, 1) +
                                              raw_frame(2, ch, header_with(0, nested_table_body(40), "corr-1")) +
                                              good_delivery(ch));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_NE(events[0].fault, "");
    EXPECT_EQ(events[1].body, "ok");
}

TEST(poison_header, returned_message_carries_the_fault) {
    const std::uint16_t ch = 1;
    amqp::basic_return r;
    r.reply_code = 312;
    r.reply_text = "NO_ROUTE";
    r.routing_key = "nowhere";
    const auto events = events_at_every_split(method_frame(ch, r) +
                                              raw_frame(2, ch, header_with(2, nested_table_body(40), "corr-1")) +
                                              body_frame(ch, "10") + good_delivery(ch));
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kind, event_kind::returned);
    EXPECT_NE(events[0].fault.find("nested deeper"), std::string::npos);
    EXPECT_EQ(events[0].correlation_id, "corr-1");
    EXPECT_EQ(events[0].body, "");
    EXPECT_EQ(events[1].body, "ok");
}

TEST(poison_header, fault_wins_over_an_oversized_body) {
    // Nothing of the body is kept either way; the fault is the message's first problem.
    auto opts = machine_driver::default_options();
    opts.max_message_size = 1;
    const std::uint16_t ch = 1;
    run r(deliver(ch, 1) + raw_frame(2, ch, header_with(2, nested_table_body(40), "corr-1")) + body_frame(ch, "10"), {},
          opts);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_NE(r.events[0].fault, "");
    EXPECT_EQ(r.events[0].correlation_id, "corr-1");
    EXPECT_TRUE(r.d.m.is_channel_open(ch));
}

TEST(poison_header, on_a_closing_channel_it_is_skipped_silently) {
    run r({}, {});
    ASSERT_FALSE(r.d.m.send_sync(r.ch, amqp::channel_close{200, "bye", 0, 0}));
    r.d.take_output();
    r.d.m.feed(deliver(r.ch, 1) + raw_frame(2, r.ch, header_with(2, nested_table_body(40), "corr-1")) +
                   body_frame(r.ch, "10") + method_frame(r.ch, amqp::channel_close_ok{}),
               r.d.now);
    r.drain();
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].kind, event_kind::reply);
    EXPECT_TRUE(r.d.m.is_open());
}

// ---- what stays connection-fatal ------------------------------------------------------------

void expect_connection_fatal(const byte_buffer& input, std::string_view reason_part) {
    const auto events = events_at_every_split(input);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().kind, event_kind::closed);
    EXPECT_NE(events.back().reason.find(reason_part), std::string::npos) << events.back();
    for (const auto& e : events) EXPECT_NE(e.kind, event_kind::delivery);
}

TEST(poison_header, headers_length_past_the_frame_is_fatal) {
    const auto body = nested_table_body(2);
    expect_connection_fatal(
        deliver(1, 1) + raw_frame(2, 1, header_with(2, body, 5000, "corr-1")) + body_frame(1, "10"),
        "table length runs past the end of the payload");
}

TEST(poison_header, property_flags_continuation_is_fatal) {
    auto h = header_with(0, nested_table_body(2), "corr-1");
    h[13] |= 1;  // the flags' low octet: bit 0 announces a second flags word
    expect_connection_fatal(deliver(1, 1) + raw_frame(2, 1, h), "continuation");
}

TEST(poison_header, basic_get_ok_with_a_bad_header_is_fatal) {
    // basic.get-ok answers a request of ours that no consumer settles: documented as fatal.
    run r({}, {});
    ASSERT_FALSE(r.d.m.send_sync(r.ch, amqp::basic_get{}));
    r.d.take_output();
    amqp::basic_get_ok ok;
    ok.delivery_tag = 1;
    r.d.m.feed(method_frame(r.ch, ok) + raw_frame(2, r.ch, header_with(0, nested_table_body(40), "corr-1")), r.d.now);
    r.drain();
    ASSERT_FALSE(r.events.empty());
    EXPECT_EQ(r.events.back().kind, event_kind::closed);
    EXPECT_NE(r.events.back().reason.find("nested deeper"), std::string::npos);
}

}  // namespace
