// The streaming decoder: a stream of every golden frame fed whole, one byte at a time and
// split in two at every point decodes to the same frames.
#include "golden.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp;
using amqp_test::frame_bytes;
using amqp_test::golden_methods;
using amqp_test::hex;

struct owned_frame {
    frame_type type;
    std::uint16_t channel;
    byte_buffer payload;
    friend bool operator==(const owned_frame&, const owned_frame&) = default;
};

// Every golden method, a content header, a body, a heartbeat, an empty body frame.
byte_buffer golden_stream() {
    byte_buffer s;
    std::uint16_t ch = 1;
    for (const auto& g : golden_methods()) {
        const auto f = frame_bytes(1, ch++, hex(g.payload_hex));
        s.insert(s.end(), f.begin(), f.end());
    }
    for (const auto& f : {frame_bytes(2, 1, hex("003c 0000 0000000000000002 2000 01 61")),
                          frame_bytes(3, 1, hex("3330")), frame_bytes(8, 0, {}), frame_bytes(3, 65535, {})})
        s.insert(s.end(), f.begin(), f.end());
    return s;
}

// Drain all whole frames; fail the test on an error.
void drain(frame_decoder& dec, std::vector<owned_frame>& out) {
    for (;;) {
        const auto r = dec.next();
        if (r.status == decode_status::need_more) return;
        ASSERT_EQ(r.status, decode_status::ok) << dec.diag().to_string();
        out.push_back({r.frame.type, r.frame.channel, byte_buffer(r.frame.payload.begin(), r.frame.payload.end())});
    }
}

std::vector<owned_frame> feed_in_chunks(bytes_view stream, const std::vector<std::size_t>& cuts) {
    frame_decoder dec;
    std::vector<owned_frame> out;
    std::size_t pos = 0;
    for (std::size_t cut : cuts) {
        dec.feed(stream.subspan(pos, cut - pos));
        drain(dec, out);
        pos = cut;
    }
    dec.feed(stream.subspan(pos));
    drain(dec, out);
    EXPECT_EQ(dec.buffered(), 0u);
    EXPECT_EQ(dec.stream_offset(), stream.size());
    return out;
}

TEST(FrameDecoder, WholeStream) {
    const auto s = golden_stream();
    const auto frames = feed_in_chunks(s, {});
    ASSERT_EQ(frames.size(), golden_methods().size() + 4);
    EXPECT_EQ(frames[0].type, frame_type::method);
    EXPECT_EQ(frames[0].channel, 1);
    EXPECT_EQ(frames.back().channel, 65535);
    EXPECT_TRUE(frames.back().payload.empty());
    // Each method payload decodes to the golden value.
    for (std::size_t i = 0; i < golden_methods().size(); ++i) {
        method m;
        diagnostics diag;
        ASSERT_FALSE(decode_method(frames[i].payload, m, diag));
        EXPECT_TRUE(m == golden_methods()[i].value);
    }
}

TEST(FrameDecoder, OneByteAtATime) {
    const auto s = golden_stream();
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < s.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(feed_in_chunks(s, cuts), feed_in_chunks(s, {}));
}

TEST(FrameDecoder, EveryTwoWaySplit) {
    const auto s = golden_stream();
    const auto whole = feed_in_chunks(s, {});
    for (std::size_t i = 0; i <= s.size(); ++i) ASSERT_EQ(feed_in_chunks(s, {i}), whole) << "split at " << i;
}

TEST(FrameDecoder, EveryTwoWaySplitOfAMessage) {
    // A published message through append_message, small frame_max so the body is split too.
    byte_buffer msg;
    basic_properties props;
    props.correlation_id = "c1";
    props.reply_to = "amq.gen-x";
    const std::string body(5000, 'b');
    ASSERT_FALSE(append_message(msg, 3, basic_publish{0, "", "rpc_queue", false, false}, props, as_bytes(body), 4096));
    const auto whole = feed_in_chunks(msg, {});
    ASSERT_EQ(whole.size(), 4u);  // method, header, 4088 + 912 body bytes
    EXPECT_EQ(whole[2].payload.size(), 4088u);
    EXPECT_EQ(whole[3].payload.size(), 912u);
    for (std::size_t i = 0; i <= msg.size(); i += 7) ASSERT_EQ(feed_in_chunks(msg, {i}), whole) << i;
}

TEST(FrameDecoder, PrepareCommitPath) {
    const auto s = golden_stream();
    frame_decoder dec;
    std::vector<owned_frame> out;
    for (std::size_t pos = 0; pos < s.size();) {
        const std::size_t n = std::min<std::size_t>(13, s.size() - pos);
        auto space = dec.prepare(64);
        std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(pos), n, space.begin());
        dec.commit(n);
        pos += n;
        drain(dec, out);
    }
    EXPECT_EQ(out, feed_in_chunks(s, {}));
}

TEST(FrameDecoder, PrepareReadPath) {
    // Reads of any size through prepare_read decode as feed() does.
    const auto s = golden_stream();
    for (std::size_t chunk : {1, 5, 13, 64, 4096}) {
        frame_decoder dec;
        std::vector<owned_frame> out;
        for (std::size_t pos = 0; pos < s.size();) {
            auto space = dec.prepare_read(chunk);
            ASSERT_FALSE(space.empty());
            const std::size_t n = std::min(space.size(), s.size() - pos);
            std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(pos), n, space.begin());
            dec.commit(n);
            pos += n;
            drain(dec, out);
        }
        EXPECT_EQ(out, feed_in_chunks(s, {})) << "reads of " << chunk;
    }
}

TEST(FrameDecoder, PrepareReadEndsOnAFrameBoundaryWithoutMovingThePartialFrame) {
    // A read that left part of a frame asks only for the rest of it, right after it (prepare()
    // moved the partial frame to the front: most of a copy of each byte at large frames), and
    // the read after that starts at the front of the emptied buffer. The first frame grows the
    // buffer once; from the second on nothing moves.
    const auto f = frame_bytes(3, 1, byte_buffer(100000, 0x55));  // 100 008 bytes
    frame_decoder dec(131072);
    for (int round = 0; round < 3; ++round) {
        auto first = dec.prepare_read(65536);
        ASSERT_EQ(first.size(), 65536u);
        std::copy_n(f.begin(), 65536, first.begin());
        dec.commit(65536);
        EXPECT_EQ(dec.next().status, decode_status::need_more);
        auto rest = dec.prepare_read(65536);
        ASSERT_EQ(rest.size(), f.size() - 65536) << "round " << round;
        if (round > 0) {
            EXPECT_EQ(rest.data(), first.data() + 65536) << "round " << round;  // nothing moved
        }
        std::copy_n(f.begin() + 65536, rest.size(), rest.begin());
        dec.commit(rest.size());
        const auto r = dec.next();
        ASSERT_EQ(r.status, decode_status::ok);
        EXPECT_EQ(r.frame.payload.size(), 100000u);
        EXPECT_EQ(dec.next().status, decode_status::need_more);
        if (round > 0) {
            EXPECT_EQ(dec.prepare_read(65536).data(), first.data()) << "round " << round;
        }
    }
}

TEST(FrameDecoder, BufferIsReusedNotGrown) {
    // Feeding the same 1000-byte frame many times must not grow the buffer past one frame's
    // worth plus the chunk: no allocation per frame in steady state.
    const auto f = frame_bytes(3, 1, byte_buffer(1000, 0x55));
    frame_decoder dec(131072);
    std::size_t first_capacity = 0;
    for (int i = 0; i < 1000; ++i) {
        dec.feed(bytes_view(f).first(600));
        dec.feed(bytes_view(f).subspan(600));
        const auto r = dec.next();
        ASSERT_EQ(r.status, decode_status::ok);
        ASSERT_EQ(dec.next().status, decode_status::need_more);
        const auto cap = dec.prepare(0).data();
        if (i == 0) first_capacity = reinterpret_cast<std::uintptr_t>(cap);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(cap), first_capacity);  // same storage
    }
}

TEST(FrameDecoder, ProtocolHeader) {
    std::array<std::uint8_t, 4> v{};
    EXPECT_EQ(check_protocol_header(protocol_header, &v), header_check::ours);
    EXPECT_EQ(v, (std::array<std::uint8_t, 4>{0, 0, 9, 1}));
    EXPECT_EQ(check_protocol_header(hex("414d5150 00000901")), header_check::ours);
    EXPECT_EQ(check_protocol_header(hex("414d5150 01010009"), &v), header_check::other_version);
    EXPECT_EQ(v, (std::array<std::uint8_t, 4>{1, 1, 0, 9}));
    EXPECT_EQ(check_protocol_header(hex("414d51")), header_check::need_more);
    EXPECT_EQ(check_protocol_header(hex("")), header_check::need_more);
    EXPECT_EQ(check_protocol_header(hex("01")), header_check::not_a_header);
    EXPECT_EQ(check_protocol_header(hex("414d5151")), header_check::not_a_header);
}

TEST(FrameDecoder, HeartbeatAndFrameHeader) {
    byte_buffer out;
    append_heartbeat(out);
    EXPECT_EQ(amqp_test::to_hex(out), "08000000000000ce");
    std::uint8_t h[7];
    EXPECT_EQ(write_frame_header(h, frame_type::body, 0x1234, 0xA0B0C0D0), 7u);
    EXPECT_EQ(amqp_test::to_hex(h), "031234a0b0c0d0");
}

// frame_result carries its error as a two-byte frame_error; callers that want an error_code
// (or compare with one) get the same value as before.
TEST(FrameDecoder, FrameErrorActsAsErrorCode) {
    diagnostics diag;
    const auto bad = decode_frame(hex("09 0000 00000000 CE"), 4096, diag);
    ASSERT_EQ(bad.status, decode_status::error);
    EXPECT_TRUE(static_cast<bool>(bad.ec));
    EXPECT_EQ(bad.ec, reply_code::frame_error);
    EXPECT_EQ(bad.ec.value(), 501);
    const error_code ec = bad.ec;
    EXPECT_EQ(ec, make_error_code(reply_code::frame_error));
    EXPECT_EQ(&ec.category(), &reply_category());
    EXPECT_TRUE(bad.ec == ec);
    EXPECT_FALSE(bad.ec == reply_code::syntax_error);

    const auto good = decode_frame(hex("08 0000 00000000 CE"), 4096, diag);
    ASSERT_EQ(good.status, decode_status::ok);
    EXPECT_FALSE(static_cast<bool>(good.ec));
    EXPECT_FALSE(error_code(good.ec));
    EXPECT_EQ(good.ec, frame_error{});

    // The streaming decoder's sticky error reads the same through error() and next().
    frame_decoder dec;
    dec.feed(hex("01 0000 00000000 00"));
    EXPECT_EQ(dec.next().ec, reply_code::frame_error);
    EXPECT_EQ(dec.error(), make_error_code(reply_code::frame_error));
    EXPECT_EQ(dec.next().ec, reply_code::frame_error);
}

}  // namespace
