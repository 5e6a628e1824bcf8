// Whole messages: method + header + body frames in one buffer, split by frame_max.
#include "golden.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace {

using namespace amqp;
using amqp_test::hex;
using amqp_test::to_hex;

// What a message decodes back to, frame by frame, with everything the decoders say.
struct decoded_message {
    method m;
    content_header header;
    byte_buffer header_payload;
    byte_buffer body;
    std::size_t body_frames = 0;
    std::size_t max_body_frame = 0;
};

::testing::AssertionResult decode_message(bytes_view in, std::uint16_t channel, std::uint32_t frame_max,
                                          decoded_message& out) {
    diagnostics diag;
    for (int i = 0; !in.empty(); ++i) {
        const auto r = decode_frame(in, frame_max, diag);
        if (r.status != decode_status::ok) return ::testing::AssertionFailure() << "frame " << i << " does not decode";
        if (r.frame.channel != channel) return ::testing::AssertionFailure() << "frame " << i << " channel";
        const auto want = i == 0 ? frame_type::method : i == 1 ? frame_type::header : frame_type::body;
        if (r.frame.type != want) return ::testing::AssertionFailure() << "frame " << i << " type";
        if (i == 0 && decode_method(r.frame.payload, out.m, diag))
            return ::testing::AssertionFailure() << "method: " << diag.message;
        if (i == 1) {
            if (decode_content_header(r.frame.payload, out.header, diag))
                return ::testing::AssertionFailure() << "header: " << diag.message << " at " << diag.offset;
            out.header_payload.assign(r.frame.payload.begin(), r.frame.payload.end());
        }
        if (i >= 2) {
            out.body.insert(out.body.end(), r.frame.payload.begin(), r.frame.payload.end());
            ++out.body_frames;
            out.max_body_frame = std::max(out.max_body_frame, r.frame.payload.size());
        }
        in = in.subspan(r.consumed);
    }
    return ::testing::AssertionSuccess();
}

// Properties with exactly the ones in `mask` (bit 15 = content-type ... bit 2 = cluster-id)
// present, each with a value of its own; string lengths vary with `salt`.
basic_properties properties_for(unsigned mask, std::size_t salt) {
    static const std::string text(300, 'v');
    static const byte_buffer table = hex("01 6b 74 01");  // {k: t true}
    const auto str = [&](int bit) { return std::string_view(text).substr(0, (bit * 7 + salt) % 64); };
    basic_properties p;
    if (mask & (1u << 15)) p.content_type = str(15);
    if (mask & (1u << 14)) p.content_encoding = str(14);
    if (mask & (1u << 13)) p.headers = table_view{table};
    if (mask & (1u << 12)) p.delivery_mode = 2;
    if (mask & (1u << 11)) p.priority = 9;
    if (mask & (1u << 10)) p.correlation_id = str(10);
    if (mask & (1u << 9)) p.reply_to = str(9);
    if (mask & (1u << 8)) p.expiration = str(8);
    if (mask & (1u << 7)) p.message_id = str(7);
    if (mask & (1u << 6)) p.timestamp = 0x0102030405060708ull;
    if (mask & (1u << 5)) p.type = str(5);
    if (mask & (1u << 4)) p.user_id = str(4);
    if (mask & (1u << 3)) p.app_id = str(3);
    if (mask & (1u << 2)) p.cluster_id = str(2);
    return p;
}

TEST(Message, PublishGolden) {
    basic_properties props;
    props.correlation_id = "c1";
    props.reply_to = "amq.gen-x";
    const basic_publish pub{0, "", "rpc_queue", false, false};
    byte_buffer out;
    ASSERT_FALSE(append_message(out, 1, pub, props, as_bytes("30"), 131072));
    const auto want = hex(
        "01 0001 00000012 | 003c 0028 0000 00 09 7270635f7175657565 00 | ce"
        "02 0001 0000001b | 003c 0000 0000000000000002 0600 02 6331 09 616d712e67656e2d78 | ce"
        "03 0001 00000002 | 3330 | ce");
    EXPECT_EQ(to_hex(out), to_hex(want));
    EXPECT_EQ(message_size(pub, props, 2, 131072), out.size());
}

TEST(Message, EmptyBodyHasNoBodyFrame) {
    byte_buffer out;
    ASSERT_FALSE(append_message(out, 2, basic_publish{}, {}, {}, 4096));
    // method frame (8 + 4 + 2 + 1 + 1 + 1) + header frame (8 + 14)
    EXPECT_EQ(out.size(), 17u + 22u);
    EXPECT_EQ(message_size(basic_publish{}, {}, 0, 4096), out.size());
}

TEST(Message, BodySplitAtFrameMaxMinus8) {
    for (std::size_t body_size : {4087u, 4088u, 4089u, 8176u, 8177u, 20000u}) {
        const byte_buffer body(body_size, 0x42);
        byte_buffer out = {0xEE};  // appends, keeps what was there
        ASSERT_FALSE(append_message(out, 9, basic_publish{}, {}, body, 4096));
        EXPECT_EQ(out[0], 0xEE);
        EXPECT_EQ(message_size(basic_publish{}, {}, body_size, 4096), out.size() - 1);
        frame_decoder dec(4096);
        dec.feed(bytes_view(out).subspan(1));
        std::size_t frames = 0, body_bytes = 0;
        for (auto r = dec.next(); r.status == decode_status::ok; r = dec.next()) {
            ++frames;
            EXPECT_EQ(r.frame.channel, 9);
            if (r.frame.type == frame_type::body) {
                EXPECT_LE(r.frame.payload.size(), 4088u);
                body_bytes += r.frame.payload.size();
            }
        }
        EXPECT_EQ(dec.error(), error_code{});
        EXPECT_EQ(body_bytes, body_size);
        EXPECT_EQ(frames, 2 + (body_size + 4087) / 4088) << body_size;
    }
}

TEST(Message, ReusedBufferDoesNotReallocate) {
    byte_buffer out;
    const byte_buffer body(100, 1);
    ASSERT_FALSE(append_message(out, 1, basic_publish{}, {}, body, 4096));
    const auto* data = out.data();
    for (int i = 0; i < 100; ++i) {
        out.clear();
        ASSERT_FALSE(append_message(out, 1, basic_publish{}, {}, body, 4096));
        EXPECT_EQ(out.data(), data);
    }
}

// Every one of the 2^14 property sets: the message decodes back to what went in, its header
// payload is byte for byte what encode_content_header writes, message_size agrees, and bytes
// already in the buffer stay. Once into an empty buffer (it grows) and once into a reused one.
TEST(Message, EveryPropertySetRoundTrips) {
    const std::string body_text = "0123456789";
    byte_buffer reused;
    for (unsigned mask = 0; mask < (1u << 14); ++mask) {
        const basic_properties props = properties_for(mask << 2, mask);
        const basic_publish pub{7, mask % 3 == 0 ? "" : "amq.direct", "rpc_queue", (mask & 1) != 0, (mask & 2) != 0};
        const bytes_view body = as_bytes(std::string_view(body_text).substr(0, mask % 11));
        for (byte_buffer* out : {static_cast<byte_buffer*>(nullptr), &reused}) {
            byte_buffer fresh;
            byte_buffer& buf = out != nullptr ? *out : fresh;
            buf.assign({0xAB, 0xCD});
            ASSERT_FALSE(append_message(buf, 513, pub, props, body, 4096)) << mask;
            ASSERT_EQ(buf[0], 0xAB);
            ASSERT_EQ(buf[1], 0xCD);
            ASSERT_EQ(buf.size() - 2, message_size(pub, props, body.size(), 4096)) << mask;
            decoded_message d;
            ASSERT_TRUE(decode_message(bytes_view(buf).subspan(2), 513, 4096, d)) << mask;
            ASSERT_EQ(d.m, method{pub}) << mask;
            ASSERT_EQ(d.header.class_index, 60);
            ASSERT_EQ(d.header.weight, 0);
            ASSERT_EQ(d.header.body_size, body.size());
            ASSERT_EQ(d.header.properties, props) << mask;
            ASSERT_EQ(d.header.properties.flags(), mask << 2);
            content_header h;
            h.body_size = body.size();
            h.properties = props;
            byte_buffer want(content_header_payload_size(h));
            ASSERT_FALSE(encode_content_header(h, want.data()));
            ASSERT_EQ(d.header_payload, want) << mask;
            ASSERT_EQ(d.body, byte_buffer(body.begin(), body.end()));
            ASSERT_EQ(d.body_frames, body.empty() ? 0u : 1u);
        }
        // encode_publish, into a caller's buffer of exactly its bound, writes the same bytes.
        byte_buffer into(publish_size_bound(pub, props, body.size(), 4096));
        const auto r = encode_publish(into, 513, pub, props, body, 4096);
        ASSERT_FALSE(r.ec) << mask;
        ASSERT_EQ(to_hex(bytes_view(into).first(r.size)), to_hex(bytes_view(reused).subspan(2))) << mask;
    }
}

// encode_publish's buffer must hold the bound, whatever the message needs; its errors are
// append_message's.
TEST(Message, EncodePublishChecksItsBufferAndArguments) {
    basic_properties props;
    props.correlation_id = "c1";
    const basic_publish pub{0, "", "rpc_queue", false, false};
    const std::size_t bound = publish_size_bound(pub, props, 2, 4096);
    EXPECT_GT(bound, 2570u);  // every property at its largest
    byte_buffer buf(bound);
    EXPECT_FALSE(encode_publish(buf, 1, pub, props, as_bytes("30"), 4096).ec);
    const auto small = encode_publish(std::span<std::uint8_t>(buf.data(), bound - 1), 1, pub, props, as_bytes("30"), 4096);
    EXPECT_EQ(small.ec, make_error_code(boost::system::errc::no_buffer_space));
    EXPECT_EQ(small.size, 0u);
    const std::string s256(256, 's');
    EXPECT_EQ(publish_size_bound(basic_publish{0, "", s256, false, false}, props, 2, 4096), 0u);
    EXPECT_EQ(encode_publish(buf, 1, basic_publish{0, s256, "q", false, false}, props, {}, 4096).ec,
              reply_code::syntax_error);
    basic_properties long_id = props;
    long_id.correlation_id = s256;
    EXPECT_EQ(encode_publish(buf, 1, pub, long_id, {}, 4096).ec, reply_code::syntax_error);
    // A header over frame_max - 8 (a 4071-octet table, as in the test above): 501.
    byte_buffer table(4071, 'x');
    const std::uint8_t head[] = {0x01, 'a', 'S'};
    for (std::size_t i = 0; i < sizeof head; ++i) table[i] = head[i];
    const std::uint32_t len = 4071 - 7;
    for (int i = 0; i < 4; ++i) table[3 + i] = static_cast<std::uint8_t>(len >> (24 - 8 * i));
    basic_properties big;
    big.headers = table_view{table};
    byte_buffer room(publish_size_bound(pub, big, 1, 4096));
    EXPECT_EQ(encode_publish(room, 1, pub, big, as_bytes("b"), 4096).ec, reply_code::frame_error);
}

// The other content-bearing methods take the general path: same bytes for the header.
TEST(Message, DeliverRoundTripsWithProperties) {
    for (unsigned mask : {0u, 0x0600u, 0xFFFCu, 0x2000u, 0x1040u}) {
        const basic_properties props = properties_for(mask, 5);
        const basic_deliver d{"ctag", 42, true, "ex", "rk"};
        byte_buffer out;
        ASSERT_FALSE(append_message(out, 2, d, props, as_bytes("hello"), 4096));
        decoded_message got;
        ASSERT_TRUE(decode_message(out, 2, 4096, got));
        EXPECT_EQ(got.m, method{d});
        EXPECT_EQ(got.header.properties, props);
        EXPECT_EQ(to_hex(got.body), to_hex(as_bytes("hello")));
        EXPECT_EQ(message_size(d, props, 5, 4096), out.size());
    }
}

// Bodies around multiples of frame_max - 8 under several frame_max values (4096 is the least;
// smaller ones are raised to it), with properties, into a reused buffer.
TEST(Message, BodySplitsByFrameMaxWithProperties) {
    const basic_properties props = properties_for(0x0600, 3);
    byte_buffer body(3 * 131072 + 17);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 31 + 7);
    byte_buffer out;
    for (std::uint32_t frame_max : {0u, 4095u, 4096u, 4097u, 10000u, 131072u}) {
        const std::size_t chunk = std::max<std::size_t>(frame_max, 4096) - 8;
        for (std::size_t n : {std::size_t{1}, chunk - 1, chunk, chunk + 1, 2 * chunk, 2 * chunk + 1, body.size()}) {
            out.clear();
            const bytes_view b = bytes_view(body).first(n);
            ASSERT_FALSE(append_message(out, 1, basic_publish{0, "", "q", false, false}, props, b, frame_max));
            EXPECT_EQ(out.size(), message_size(basic_publish{0, "", "q", false, false}, props, n, frame_max));
            decoded_message d;
            ASSERT_TRUE(decode_message(out, 1, std::max<std::uint32_t>(frame_max, 4096), d)) << frame_max << " " << n;
            EXPECT_EQ(d.body_frames, (n + chunk - 1) / chunk) << frame_max << " " << n;
            EXPECT_EQ(d.max_body_frame, std::min(n, chunk));
            EXPECT_TRUE(d.body == byte_buffer(b.begin(), b.end())) << frame_max << " " << n;
            EXPECT_EQ(d.header.body_size, n);
        }
    }
}

// Each shortstr, method argument or property, refused at 256 octets and accepted at 255, with
// the buffer as it was on refusal.
TEST(Message, ShortstrOver255IsRefusedAndOutIsUnchanged) {
    const std::string s255(255, 's');
    const std::string s256(256, 's');
    const auto refused = [](const basic_publish& pub, const basic_properties& props) {
        byte_buffer out = {1, 2, 3};
        const auto ec = append_message(out, 1, pub, props, as_bytes("body"), 131072);
        return ec == reply_code::syntax_error && out == byte_buffer{1, 2, 3};
    };
    const auto accepted = [](const basic_publish& pub, const basic_properties& props) {
        byte_buffer out = {1, 2, 3};
        decoded_message d;
        return !append_message(out, 1, pub, props, as_bytes("body"), 131072) &&
               decode_message(bytes_view(out).subspan(3), 1, 131072, d) && d.m == method{pub} &&
               d.header.properties == props;
    };
    EXPECT_TRUE(refused(basic_publish{0, s256, "q", false, false}, {}));
    EXPECT_TRUE(refused(basic_publish{0, "", s256, false, false}, {}));
    EXPECT_TRUE(accepted(basic_publish{0, s255, s255, true, true}, {}));
    for (int bit : {15, 14, 10, 9, 8, 7, 5, 4, 3, 2}) {
        for (bool over : {false, true}) {
            basic_properties p = properties_for(0xFFFC, 1);  // every property present
            const std::string_view v = over ? s256 : s255;
            switch (bit) {
                case 15: p.content_type = v; break;
                case 14: p.content_encoding = v; break;
                case 10: p.correlation_id = v; break;
                case 9: p.reply_to = v; break;
                case 8: p.expiration = v; break;
                case 7: p.message_id = v; break;
                case 5: p.type = v; break;
                case 4: p.user_id = v; break;
                case 3: p.app_id = v; break;
                case 2: p.cluster_id = v; break;
            }
            const basic_publish pub{0, "", "q", false, false};
            EXPECT_TRUE(over ? refused(pub, p) : accepted(pub, p)) << bit << " " << over;
        }
    }
}

// Every shortstr property at 255 octets together: the largest header without a table (2850
// octets with the others), which fits the smallest frame.
TEST(Message, LargestHeaderWithoutATableFits) {
    const std::string s(255, 'x');
    basic_properties p;
    p.content_type = p.content_encoding = p.correlation_id = p.reply_to = p.expiration = p.message_id = p.type =
        p.user_id = p.app_id = p.cluster_id = std::string_view(s);
    p.delivery_mode = 1;
    p.priority = 2;
    p.timestamp = 3;
    byte_buffer out;
    ASSERT_FALSE(append_message(out, 1, basic_publish{}, p, as_bytes("b"), 4096));
    decoded_message d;
    ASSERT_TRUE(decode_message(out, 1, 4096, d));
    EXPECT_EQ(d.header.properties, p);
    EXPECT_EQ(d.header_payload.size(), 14u + 10 * 256 + 1 + 1 + 8);
}

// A header one octet over frame_max - 8 is refused with 501 and nothing appended; at the limit
// it goes out.
TEST(Message, HeaderOverFrameMaxIsRefusedAndOutIsUnchanged) {
    // header payload = 14 + 4 + table: 4088 octets at table size 4070
    for (std::size_t table_size : {4070u, 4071u}) {
        byte_buffer table(table_size, 'x');
        const std::uint8_t head[] = {0x01, 'a', 'S'};
        for (std::size_t i = 0; i < sizeof head; ++i) table[i] = head[i];
        const std::uint32_t len = static_cast<std::uint32_t>(table_size - 7);
        for (int i = 0; i < 4; ++i) table[3 + i] = static_cast<std::uint8_t>(len >> (24 - 8 * i));
        basic_properties p;
        p.headers = table_view{table};
        byte_buffer out = {9};
        const auto ec = append_message(out, 1, basic_publish{}, p, as_bytes("b"), 4096);
        if (table_size == 4070) {
            ASSERT_FALSE(ec);
            decoded_message d;
            ASSERT_TRUE(decode_message(bytes_view(out).subspan(1), 1, 4096, d));
            EXPECT_EQ(d.header_payload.size(), 4088u);
            EXPECT_EQ(d.header.properties, p);
        } else {
            EXPECT_EQ(ec, reply_code::frame_error);
            EXPECT_EQ(out, byte_buffer{9});
        }
    }
}

// A table the wire cannot express (its length over 2^32 - 1) is refused before anything is
// read or written; the view's bytes are never touched.
TEST(Message, TableOver4GiBIsRefused) {
    static const std::uint8_t one = 0;
    basic_properties p;
    p.headers = table_view{bytes_view(&one, std::size_t{std::numeric_limits<std::uint32_t>::max()} + 1)};
    byte_buffer out = {7};
    EXPECT_EQ(append_message(out, 1, basic_publish{}, p, {}, 131072), reply_code::syntax_error);
    EXPECT_EQ(out, byte_buffer{7});
}

TEST(Message, NonContentMethodIsRefusedAndOutIsUnchanged) {
    byte_buffer out = {5};
    EXPECT_EQ(append_message(out, 1, basic_ack{1, false}, {}, as_bytes("x"), 4096), reply_code::command_invalid);
    EXPECT_EQ(append_message(out, 1, queue_declare{}, {}, {}, 4096), reply_code::command_invalid);
    EXPECT_EQ(out, byte_buffer{5});
}

}  // namespace
