// decode_delivery, the one-pass decoder for a whole delivered message, against the
// frame-by-frame path (delivery_reference.hpp): same values where it decodes, and a decline
// (0) wherever the shape is not a single-body-frame delivery or any byte is wrong.
#include <test_support/delivery_reference.hpp>
#include "golden.hpp"

#include <amqp/codec/delivery.hpp>
#include <amqp/codec/message.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

using namespace amqp;
using amqp_test::decode_delivery_by_frames;
using amqp_test::hex;
using amqp_test::to_hex;

constexpr std::uint32_t frame_max = 131072;

// The payload size in the header of the frame at the front of `f`.
std::size_t load_size(bytes_view f) {
    return std::size_t{f[3]} << 24 | std::size_t{f[4]} << 16 | std::size_t{f[5]} << 8 | f[6];
}

// A table {"k": "v"}, as a headers property.
const table_view headers_table = amqp_test::table_bytes("01 6b 53 00000001 76");

// Properties with the ones whose flag bits are in `flags` set to distinct values.
basic_properties properties_with(std::uint16_t flags) {
    basic_properties p;
    const auto on = [&](int bit) { return ((flags >> bit) & 1u) != 0; };
    if (on(15)) p.content_type = "application/json";
    if (on(14)) p.content_encoding = "utf-8";
    if (on(13)) p.headers = headers_table;
    if (on(12)) p.delivery_mode = 2;
    if (on(11)) p.priority = 7;
    if (on(10)) p.correlation_id = "6f1c9a52-3b7e-4d0a-9e61-0c2f5b8d7a43";
    if (on(9)) p.reply_to = "amq.gen-Jz3Qy8Z2n5v8kT0aX4pWcA";
    if (on(8)) p.expiration = "60000";
    if (on(7)) p.message_id = "m-1";
    if (on(6)) p.timestamp = 0x0102030405060708u;
    if (on(5)) p.type = "fib";
    if (on(4)) p.user_id = "guest";
    if (on(3)) p.app_id = "rpc_client";
    if (on(2)) p.cluster_id = "c";
    return p;
}

const basic_deliver sample_deliver{"amq.ctag-4Jx2Zb0oQ1y7hLZ5yq3U0w", 1234567, true, "", "rpc_queue"};

byte_buffer delivery_bytes(const basic_properties& p, std::string_view body, std::uint16_t channel = 1,
                           std::uint32_t max = frame_max, const basic_deliver& d = sample_deliver) {
    byte_buffer out;
    if (append_message(out, channel, d, p, as_bytes(body), max)) throw std::runtime_error("encode");
    return out;
}

void expect_agreement(bytes_view in, std::uint32_t max = frame_max) {
    delivery_view v;
    const std::size_t n = decode_delivery(in, max, v);
    EXPECT_EQ(amqp_test::delivery_disagreement(in, max, n, v), "") << to_hex(in);
}

TEST(Delivery, DecodesWhatRabbitmqSendsForAReply) {
    basic_properties p;
    p.correlation_id = "6f1c9a52-3b7e-4d0a-9e61-0c2f5b8d7a43";
    const auto in = delivery_bytes(p, "832040", 7);
    delivery_view v;
    ASSERT_EQ(decode_delivery(in, frame_max, v), in.size());
    EXPECT_EQ(v.channel(), 7);
    EXPECT_EQ(v.deliver(), sample_deliver);
    EXPECT_EQ(v.properties(), p);
    EXPECT_EQ(as_string_view(v.body()), "832040");
    expect_agreement(in);
}

TEST(Delivery, GoldenBytes) {
    // basic.deliver (ctag "t", tag 5, redelivered, exchange "", key "q"), correlation-id "c1",
    // body "30", on channel 2.
    const auto in = hex(
        "01 0002 00000012 | 003c 003c 01 74 0000000000000005 01 00 01 71 | ce"
        "02 0002 00000011 | 003c 0000 0000000000000002 0400 02 6331 | ce"
        "03 0002 00000002 | 3330 | ce");
    delivery_view v;
    ASSERT_EQ(decode_delivery(in, frame_max, v), in.size());
    EXPECT_EQ(v.channel(), 2);
    EXPECT_EQ(v.deliver(), (basic_deliver{"t", 5, true, "", "q"}));
    basic_properties want;
    want.correlation_id = "c1";
    EXPECT_EQ(v.properties(), want);
    EXPECT_EQ(as_string_view(v.body()), "30");
}

TEST(Delivery, EveryPropertySubsetAgreesWithTheFramePath) {
    for (unsigned flags = 0; flags < (1u << 16); flags += 4) {  // bits 15..2
        const auto p = properties_with(static_cast<std::uint16_t>(flags));
        const auto in = delivery_bytes(p, "body");
        delivery_view v;
        ASSERT_EQ(decode_delivery(in, frame_max, v), in.size()) << std::hex << flags;
        ASSERT_EQ(v.properties(), p) << std::hex << flags;
        expect_agreement(in);
    }
}

// The view clears only the properties the previous message had: every pair of property sets
// in a row must leave exactly the second one.
TEST(Delivery, EachMessageHasOnlyItsOwnProperties) {
    const std::uint16_t sets[] = {0x0000, 0x0600, 0x0400, 0xFFFC, 0xDFFC, 0x8000, 0x2000, 0x0040, 0x2600};
    for (const auto first : sets) {
        for (const auto second : sets) {
            delivery_view v;
            const auto a = delivery_bytes(properties_with(first), "a");
            const auto b = delivery_bytes(properties_with(second), "b");
            ASSERT_EQ(decode_delivery(a, frame_max, v), a.size());
            ASSERT_EQ(decode_delivery(b, frame_max, v), b.size());
            EXPECT_EQ(v.properties(), properties_with(second)) << std::hex << first << " then " << second;
        }
    }
}

// Also after a decode that stopped in the middle of the properties.
TEST(Delivery, AFailedDecodeLeavesNoStaleProperty) {
    const auto all = delivery_bytes(properties_with(0xDFFC), "x");
    auto cut = delivery_bytes(properties_with(0x8600), "y");
    // Make the reply-to length run past the header payload (after content-type and
    // correlation-id were read).
    const std::size_t method_frame = 8 + load_size(cut);
    ASSERT_GT(cut.size(), method_frame + 22);
    const std::size_t header_end = method_frame + 7 + load_size(bytes_view(cut).subspan(method_frame));
    const std::size_t reply_to_len = header_end - 1 - std::string_view("amq.gen-Jz3Qy8Z2n5v8kT0aX4pWcA").size();
    ASSERT_EQ(cut[reply_to_len], 30);
    cut[reply_to_len] = 200;
    const auto last = delivery_bytes(properties_with(0x0400), "z");
    delivery_view v;
    ASSERT_EQ(decode_delivery(all, frame_max, v), all.size());
    EXPECT_EQ(decode_delivery(cut, frame_max, v), 0u);
    ASSERT_EQ(decode_delivery(last, frame_max, v), last.size());
    EXPECT_EQ(v.properties(), properties_with(0x0400));
}

TEST(Delivery, EmptyBodyHasNoBodyFrame) {
    const auto in = delivery_bytes(properties_with(0x0400), "");
    delivery_view v;
    ASSERT_EQ(decode_delivery(in, frame_max, v), in.size());
    EXPECT_TRUE(v.body().empty());
    expect_agreement(in);
    // What follows the message is not part of it.
    auto two = in;
    const auto next = delivery_bytes(properties_with(0), "next");
    two.insert(two.end(), next.begin(), next.end());
    ASSERT_EQ(decode_delivery(two, frame_max, v), in.size());
    ASSERT_EQ(decode_delivery(bytes_view(two).subspan(in.size()), frame_max, v), next.size());
    EXPECT_EQ(as_string_view(v.body()), "next");
}

TEST(Delivery, EveryPrefixIsDeclined) {
    const auto in = delivery_bytes(properties_with(0x2600), "832040");
    delivery_view v;
    for (std::size_t n = 0; n < in.size(); ++n)
        EXPECT_EQ(decode_delivery(bytes_view(in).first(n), frame_max, v), 0u) << n;
}

// Every one-byte change: where the fast path still decodes, the frame path agrees.
TEST(Delivery, EveryByteChangedAgreesWithTheFramePath) {
    for (const std::uint16_t flags : {0x0000, 0x0600, 0x2600, 0xFFFC}) {
        const auto in = delivery_bytes(properties_with(flags), "832040");
        for (std::size_t i = 0; i < in.size(); ++i) {
            for (const std::uint8_t x : {0x00, 0x01, 0x03, 0x08, 0x3c, 0x80, 0xce, 0xff}) {
                auto changed = in;
                if (changed[i] == x) continue;
                changed[i] = x;
                SCOPED_TRACE(std::to_string(i) + " := " + std::to_string(x));
                expect_agreement(changed);
            }
        }
    }
}

TEST(Delivery, DeclinesOtherShapes) {
    delivery_view v;
    const auto p = properties_with(0x0600);
    // A body over several frames: the frame path reads it, decode_delivery leaves it to it.
    const std::string big(5000, 'b');
    const auto split = delivery_bytes(p, big, 1, 4096);
    EXPECT_EQ(decode_delivery(split, 4096, v), 0u);
    ASSERT_TRUE(decode_delivery_by_frames(split, 4096));
    EXPECT_EQ(decode_delivery_by_frames(split, 4096)->body_frames, 2u);
    // The same body in one frame under a larger frame_max, but more than this frame_max allows.
    const auto whole = delivery_bytes(p, big, 1, frame_max);
    EXPECT_EQ(decode_delivery(whole, frame_max, v), whole.size());
    EXPECT_EQ(decode_delivery(whole, 4096, v), 0u);
    // Content on channel 0.
    EXPECT_EQ(decode_delivery(delivery_bytes(p, "x", 0), frame_max, v), 0u);
    // basic.return and basic.get-ok carry content too, but are not deliveries.
    byte_buffer ret;
    ASSERT_FALSE(append_message(ret, 1, basic_return{312, "NO_ROUTE", "", "q"}, p, as_bytes("x"), frame_max));
    EXPECT_EQ(decode_delivery(ret, frame_max, v), 0u);
    // A heartbeat between the frames (the connection accepts it; the fast path does not).
    auto beat = delivery_bytes(p, "x");
    const std::size_t after_method = 8 + load_size(beat);
    const auto hb = hex("08 0000 00000000 ce");
    beat.insert(beat.begin() + static_cast<std::ptrdiff_t>(after_method), hb.begin(), hb.end());
    EXPECT_EQ(decode_delivery(beat, frame_max, v), 0u);
    // The header on another channel.
    auto moved = delivery_bytes(p, "x");
    moved[after_method + 2] = 2;
    EXPECT_EQ(decode_delivery(moved, frame_max, v), 0u);
    EXPECT_FALSE(decode_delivery_by_frames(moved, frame_max));
}

TEST(Delivery, HeaderClassWeightAndBodySizeAreChecked) {
    const auto in = delivery_bytes(properties_with(0x0400), "832040");
    const std::size_t h = 8 + load_size(in) + 7;  // the header payload
    delivery_view v;
    for (const std::size_t at : {h + 1, h + 3, h + 11}) {  // class, weight, body size
        auto changed = in;
        changed[at] ^= 1;
        EXPECT_EQ(decode_delivery(changed, frame_max, v), 0u) << at;
        expect_agreement(changed);
    }
}

}  // namespace
