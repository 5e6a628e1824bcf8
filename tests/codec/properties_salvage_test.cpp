// decode_content_header_salvaging: a property fault confined to its own bytes (the headers table
// not validating, trailing bytes) is skipped and described, the rest decoded; a payload that
// cannot be read past some point is an error, as with decode_content_header. And decode_delivery
// declines such a message, so the connection's frame path (which salvages it) handles it.
#include <test_support/poison_tables.hpp>

#include <amqp/codec/delivery.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/properties.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace amqp;
using amqp_test::nested_table_body;
using amqp_test::unknown_tag_table_body;

basic_properties with_headers(const byte_buffer& table) {
    basic_properties p;
    p.content_type = "text/plain";
    p.headers = table_view{table};
    p.correlation_id = "corr-1";
    p.reply_to = "amq.gen-reply";
    p.timestamp = 42;
    return p;
}

// Encoded as given: the encoder only measures a headers table, it does not validate it.
byte_buffer header_payload(const basic_properties& p, std::size_t trailing = 0) {
    content_header h;
    h.body_size = 2;
    h.properties = p;
    byte_buffer out(content_header_payload_size(h));
    EXPECT_FALSE(encode_content_header(h, out.data()));
    out.insert(out.end(), trailing, 0);
    return out;
}

struct salvaged {
    error_code ec;
    content_header h;
    diagnostics diag, skipped;
};

salvaged salvage(const byte_buffer& payload) {
    salvaged s;
    s.ec = decode_content_header_salvaging(payload, s.h, s.diag, s.skipped);
    return s;
}

TEST(HeaderSalvage, ValidHeaderDecodesAsTheStrictDecoderDoes) {
    const byte_buffer table = nested_table_body(32);
    const byte_buffer payload = header_payload(with_headers(table));
    content_header strict;
    diagnostics diag;
    ASSERT_FALSE(decode_content_header(payload, strict, diag));
    const auto s = salvage(payload);
    EXPECT_FALSE(s.ec);
    EXPECT_TRUE(s.skipped.message.empty());
    EXPECT_EQ(s.h, strict);
}

void expect_table_skipped(const byte_buffer& table, std::string_view why) {
    const byte_buffer payload = header_payload(with_headers(table));
    content_header strict;
    diagnostics diag;
    EXPECT_EQ(decode_content_header(payload, strict, diag), reply_code::syntax_error);
    const auto s = salvage(payload);
    ASSERT_FALSE(s.ec) << s.diag.to_string();
    EXPECT_NE(s.skipped.message.find(why), std::string::npos) << s.skipped.to_string();
    EXPECT_EQ(s.skipped.field.rfind("basic.properties.headers.", 0), 0u) << s.skipped.field;
    EXPECT_LT(s.skipped.offset, payload.size());
    EXPECT_FALSE(s.h.properties.headers);
    EXPECT_EQ(s.h.properties.content_type, "text/plain");
    EXPECT_EQ(s.h.properties.correlation_id, "corr-1");
    EXPECT_EQ(s.h.properties.reply_to, "amq.gen-reply");
    EXPECT_EQ(s.h.properties.timestamp, 42u);
    EXPECT_EQ(s.h.body_size, 2u);
}

TEST(HeaderSalvage, FortyLevelsOfNestingAreSkipped) {
    expect_table_skipped(nested_table_body(40), "tables nested deeper than 32 levels");
}

TEST(HeaderSalvage, UnknownTagIsSkipped) {
    expect_table_skipped(unknown_tag_table_body('Z'), "unknown field type tag 'Z'");
}

TEST(HeaderSalvage, TrailingBytesAreIgnoredAndDescribed) {
    const byte_buffer table = nested_table_body(3);
    const byte_buffer payload = header_payload(with_headers(table), 5);  // the decoded views point into it
    const auto s = salvage(payload);
    ASSERT_FALSE(s.ec);
    EXPECT_EQ(s.skipped.message, "5 trailing byte(s) after the last property");
    EXPECT_TRUE(s.h.properties.headers);
    EXPECT_EQ(s.h.properties.correlation_id, "corr-1");
}

TEST(HeaderSalvage, UnreadablePayloadsAreStillErrors) {
    const byte_buffer table = nested_table_body(3);
    byte_buffer payload = header_payload(with_headers(table));
    // The headers table's length (after 14 fixed octets and content-type) runs past the payload.
    byte_buffer long_table = payload;
    long_table[14 + 11] = 0x7f;
    EXPECT_EQ(salvage(long_table).ec, reply_code::syntax_error);
    // A shortstr after the table running past the end.
    byte_buffer cut(payload.begin(), payload.end() - 12);
    EXPECT_EQ(salvage(cut).ec, reply_code::syntax_error);
    // Flag bit 0: a second flags word we do not read.
    byte_buffer continuation = payload;
    continuation[13] |= 1;
    EXPECT_EQ(salvage(continuation).ec, reply_code::syntax_error);
    EXPECT_EQ(salvage(byte_buffer(13, 0)).ec, reply_code::frame_error);
}

TEST(HeaderSalvage, DecodeDeliveryDeclinesAFaultyHeader) {
    for (const byte_buffer& table : {nested_table_body(40), unknown_tag_table_body('Z')}) {
        byte_buffer msg;
        ASSERT_FALSE(append_message(msg, 1, basic_deliver{"ctag", 1, false, "", "q"}, with_headers(table),
                                    as_bytes(std::string_view("10")), 131072));
        delivery_view v;
        EXPECT_EQ(decode_delivery(msg, 131072, v), 0u);
    }
}

}  // namespace
