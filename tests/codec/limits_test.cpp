// One test per row of the design guide's limits table that the codec owns, checking the reply
// code; rows that are the connection's decision are pinned down as "decoded as is".
#include "golden.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp;
using amqp_test::frame_bytes;
using amqp_test::header_prefix_hex;
using amqp_test::hex;

frame_result decode(const byte_buffer& in, std::uint32_t frame_max, diagnostics& diag) {
    return decode_frame(in, frame_max, diag);
}

// ---- frames: 501 FRAME_ERROR -----------------------------------------------------------------

TEST(Limits, PayloadOverFrameMaxMinus8) {
    diagnostics diag;
    auto ok = frame_bytes(3, 1, byte_buffer(4088, 0));
    EXPECT_EQ(decode(ok, 4096, diag).status, decode_status::ok);
    auto big = frame_bytes(3, 1, byte_buffer(4089, 0));
    const auto r = decode(big, 4096, diag);
    EXPECT_EQ(r.status, decode_status::error);
    EXPECT_EQ(r.ec, reply_code::frame_error);
    EXPECT_EQ(diag.field, "frame.size");
    EXPECT_EQ(diag.offset, 3u);
    // A negotiated larger frame_max accepts it.
    EXPECT_EQ(decode(big, 131072, diag).status, decode_status::ok);
}

TEST(Limits, FrameMaxBelow4096IsRaised) {
    diagnostics diag;
    const auto f = frame_bytes(3, 1, byte_buffer(4000, 0));
    for (std::uint32_t fm : {0u, 1u, 7u, 8u, 9u, 100u, 4095u}) {
        EXPECT_EQ(decode(f, fm, diag).status, decode_status::ok) << fm;
        frame_decoder dec(fm);
        EXPECT_EQ(dec.frame_max(), 4096u);
        dec.feed(f);
        EXPECT_EQ(dec.next().status, decode_status::ok);
    }
}

TEST(Limits, HugeClaimedSizeFailsFromTheHeaderAlone) {
    // Only the 7 header bytes: the decoder must not wait for (or allocate) 4 GiB.
    const auto head = hex("03 0001 fffffff0");
    diagnostics diag;
    EXPECT_EQ(decode(head, 131072, diag).ec, reply_code::frame_error);
    frame_decoder dec(131072);
    dec.feed(head);
    const auto r = dec.next();
    EXPECT_EQ(r.status, decode_status::error);
    EXPECT_EQ(r.ec, reply_code::frame_error);
    EXPECT_LE(dec.buffered(), 7u);
    // With the largest possible frame_max the claim is legal: the decoder waits, holding only
    // what it was fed (it never sizes its buffer from the claim).
    frame_decoder wide(0xFFFFFFFF);
    wide.feed(head);
    EXPECT_EQ(wide.next().status, decode_status::need_more);
    EXPECT_EQ(wide.buffered(), 7u);
    // ... and sizes past frame_max - 8 fail without `size + 8` wrapping.
    for (std::uint32_t size : {0xFFFFFFF8u, 0xFFFFFFF9u, 0xFFFFFFFFu}) {
        const byte_buffer h = {3, 0, 1, static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                               static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
        EXPECT_EQ(decode(h, 0xFFFFFFFF, diag).ec, reply_code::frame_error) << size;
    }
}

TEST(Limits, FrameEndNotCE) {
    auto f = frame_bytes(1, 1, hex("0014000a00"));
    f.back() = 0xCD;
    diagnostics diag;
    const auto r = decode(f, 4096, diag);
    EXPECT_EQ(r.ec, reply_code::frame_error);
    EXPECT_EQ(diag.field, "frame.end");
    EXPECT_EQ(diag.offset, f.size() - 1);
}

TEST(Limits, UnknownFrameTypeFailsOnTheFirstByte) {
    for (std::uint8_t t : {0, 4, 5, 9, 65, 255}) {
        diagnostics diag;
        const auto r = decode(byte_buffer{t}, 4096, diag);
        EXPECT_EQ(r.ec, reply_code::frame_error) << int(t);
        EXPECT_EQ(diag.field, "frame.type");
    }
}

TEST(Limits, HeartbeatWithPayload) {
    diagnostics diag;
    EXPECT_EQ(decode(frame_bytes(8, 0, hex("00")), 4096, diag).ec, reply_code::frame_error);
    // Decided from the header: the payload need not have arrived.
    EXPECT_EQ(decode(hex("08 0000 00000001"), 4096, diag).ec, reply_code::frame_error);
}

TEST(Limits, ChannelRulesAreTheConnectionsJob) {
    // Heartbeat on channel 5 (505) and a body on channel 0 (503) are frame-level valid; the
    // connection state machine rejects them. Pin down that the codec hands them over intact.
    diagnostics diag;
    const auto hb = decode(frame_bytes(8, 5, {}), 4096, diag);
    ASSERT_EQ(hb.status, decode_status::ok);
    EXPECT_EQ(hb.frame.channel, 5);
    const auto body = decode(frame_bytes(3, 0, hex("00")), 4096, diag);
    ASSERT_EQ(body.status, decode_status::ok);
    EXPECT_EQ(body.frame.channel, 0);
}

TEST(Limits, ErrorsAreSticky) {
    frame_decoder dec;
    dec.feed(hex("07"));
    const auto r1 = dec.next();
    EXPECT_EQ(r1.ec, reply_code::frame_error);
    const auto diag1 = dec.diag().to_string();
    dec.feed(frame_bytes(8, 0, {}));  // a valid frame after the fault changes nothing
    const auto r2 = dec.next();
    EXPECT_EQ(r2.status, decode_status::error);
    EXPECT_EQ(r2.ec, reply_code::frame_error);
    EXPECT_EQ(dec.error(), reply_code::frame_error);
    EXPECT_EQ(dec.diag().to_string(), diag1);
}

TEST(Limits, DecoderErrorOffsetIsInStreamTerms) {
    frame_decoder dec;
    auto s = frame_bytes(8, 0, {});
    auto bad = frame_bytes(3, 1, hex("00"));
    bad.back() = 0;
    s.insert(s.end(), bad.begin(), bad.end());
    dec.feed(s);
    EXPECT_EQ(dec.next().status, decode_status::ok);
    EXPECT_EQ(dec.next().ec, reply_code::frame_error);
    EXPECT_EQ(dec.diag().offset, s.size() - 1);
}

// ---- methods: 501 / 502 / 540 ----------------------------------------------------------------

TEST(Limits, MethodPayloadShorterThan4) {
    for (const char* h : {"", "00", "000a", "000a00"}) {
        method m;
        diagnostics diag;
        EXPECT_EQ(decode_method(hex(h), m, diag), reply_code::frame_error) << h;
    }
}

TEST(Limits, MethodArgumentsThatDoNotDecode) {
    // basic.deliver whose exchange shortstr claims 200 bytes.
    method m;
    diagnostics diag;
    EXPECT_EQ(decode_method(hex("003c 003c | 04 63746167 | 0000000000000005 | 01 | c8 00"), m, diag),
              reply_code::syntax_error);
    EXPECT_EQ(diag.field, "basic.deliver.exchange");
    EXPECT_EQ(diag.offset, 18u);
    // Every truncation of every golden method (that has arguments) fails with 502, never reads past the end.
    for (const auto& g : amqp_test::golden_methods()) {
        const auto full = hex(g.payload_hex);
        for (std::size_t n = 4; n < full.size(); ++n) {
            const byte_buffer cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            EXPECT_EQ(decode_method(cut, m, diag), reply_code::syntax_error) << method_name(g.value) << " " << n;
        }
    }
}

TEST(Limits, MethodTrailingBytes) {
    method m;
    diagnostics diag;
    EXPECT_EQ(decode_method(hex("0014 000a | 00 | ff"), m, diag), reply_code::syntax_error);
    EXPECT_EQ(diag.offset, 5u);
    EXPECT_EQ(diag.field, "channel.open");
    EXPECT_EQ(decode_method(hex("000a 0033 | 00"), m, diag), reply_code::syntax_error);
}

TEST(Limits, MethodTableThatDoesNotValidate) {
    // queue.declare whose arguments table has an unknown tag: the offset is in payload terms.
    method m;
    diagnostics diag;
    EXPECT_EQ(decode_method(hex("0032 000a | 0000 | 01 71 | 00 | 00000004 01 61 5a 00"), m, diag),
              reply_code::syntax_error);
    EXPECT_EQ(diag.field, "queue.declare.arguments.a");
    EXPECT_EQ(diag.offset, 15u);
}

TEST(Limits, UnknownClassOrMethodIs540) {
    for (const char* h : {"005a 000a", "0028 001e 0000 00 00 00 00 00000000", "003c 0064 00", "ffff ffff",
                          "000a 0000", "0000 0000"}) {
        method m;
        diagnostics diag;
        EXPECT_EQ(decode_method(hex(h), m, diag), reply_code::not_implemented) << h;
        EXPECT_FALSE(diag.message.empty());
    }
}

// ---- content headers -------------------------------------------------------------------------

TEST(Limits, HeaderPayloadShorterThan14) {
    for (std::size_t n = 0; n < 14; ++n) {
        content_header h;
        diagnostics diag;
        const auto full = hex(header_prefix_hex(0, 0));
        EXPECT_EQ(decode_content_header(bytes_view(full).first(n), h, diag), reply_code::frame_error) << n;
    }
}

TEST(Limits, HeaderPropertyPastTheEnd) {
    content_header h;
    diagnostics diag;
    EXPECT_EQ(decode_content_header(hex(header_prefix_hex(0, 1u << 10) + "05 6331"), h, diag),
              reply_code::syntax_error);
    EXPECT_EQ(diag.field, "basic.properties.correlation-id");
    EXPECT_EQ(diag.offset, 14u);
}

TEST(Limits, HeaderTrailingBytes) {
    content_header h;
    diagnostics diag;
    EXPECT_EQ(decode_content_header(hex(header_prefix_hex(0, 0) + "00"), h, diag), reply_code::syntax_error);
}

TEST(Limits, HeaderContinuationOrUnknownFlagBit) {
    content_header h;
    diagnostics diag;
    EXPECT_EQ(decode_content_header(hex(header_prefix_hex(0, 1)), h, diag), reply_code::syntax_error);
    EXPECT_EQ(decode_content_header(hex(header_prefix_hex(0, 2)), h, diag), reply_code::syntax_error);
}

TEST(Limits, HeaderBadTable) {
    content_header h;
    diagnostics diag;
    EXPECT_EQ(decode_content_header(hex(header_prefix_hex(0, 1u << 13) + "00000003 01 61 5a"), h, diag),
              reply_code::syntax_error);
    EXPECT_EQ(diag.field, "basic.properties.headers.a");
}

TEST(Limits, HeaderClassAndWeightAreTheConnectionsJob) {
    // Wrong class (505) and weight != 0 (505) are decided by the connection; decoded as they are.
    content_header h;
    diagnostics diag;
    ASSERT_FALSE(decode_content_header(hex("0032 0007 0000000000000000 0000"), h, diag));
    EXPECT_EQ(h.class_index, 50);
    EXPECT_EQ(h.weight, 7);
}

TEST(Limits, HugeBodySizeDecodesTheMaxMessageSizeCheckIsTheConnections) {
    // body-size 2^62: a valid header. Refusing it against a configured max message size, and
    // never pre-allocating from it, is the connection's job (content assembly).
    content_header h;
    diagnostics diag;
    ASSERT_FALSE(decode_content_header(hex(header_prefix_hex(1ull << 62, 0)), h, diag));
    EXPECT_EQ(h.body_size, 1ull << 62);
}

// ---- encoding ----------------------------------------------------------------------------------

TEST(Limits, AppendMessageNeedsAContentMethod) {
    byte_buffer out;
    EXPECT_EQ(append_message(out, 1, basic_ack{}, {}, {}, 4096), reply_code::command_invalid);
    EXPECT_TRUE(out.empty());
}

TEST(Limits, AppendMessageRefusesHeaderLargerThanAFrame) {
    // A headers table bigger than frame_max cannot be sent in one header frame.
    static const byte_buffer big_table = [] {
        // {a: S "x" * 5000}; filled by index (gcc 12 -O3 warns falsely on resize after a list).
        byte_buffer t(7 + 5000, 'x');
        const std::uint8_t head[] = {0x01, 'a', 'S', 0x00, 0x00, 0x13, 0x88};
        for (std::size_t i = 0; i < sizeof head; ++i) t[i] = head[i];
        return t;
    }();
    basic_properties p;
    p.headers = table_view{big_table};
    byte_buffer out;
    EXPECT_EQ(append_message(out, 1, basic_publish{}, p, {}, 4096), reply_code::frame_error);
    EXPECT_TRUE(out.empty());
    EXPECT_FALSE(append_message(out, 1, basic_publish{}, p, {}, 131072));
}

TEST(Limits, EncodeShortstrPropertyOver255) {
    const std::string s(256, 'c');
    content_header h;
    h.properties.correlation_id = s;
    byte_buffer out(content_header_payload_size(h));
    EXPECT_EQ(encode_content_header(h, out.data()), reply_code::syntax_error);
}

}  // namespace
