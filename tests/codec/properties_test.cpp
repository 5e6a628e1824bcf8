// Content headers: no properties, all 14, and each alone, byte for byte both ways.
#include "golden.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/properties.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp;
using amqp_test::golden_properties;
using amqp_test::header_prefix_hex;
using amqp_test::hex;
using amqp_test::to_hex;

void check_both_ways(const content_header& h, const std::string& want_hex, const std::string& what) {
    const auto want = hex(want_hex);
    ASSERT_EQ(content_header_payload_size(h), want.size()) << what;
    byte_buffer out(want.size());
    ASSERT_FALSE(encode_content_header(h, out.data())) << what;
    EXPECT_EQ(to_hex(out), to_hex(want)) << what;

    content_header back;
    diagnostics diag;
    ASSERT_FALSE(decode_content_header(want, back, diag)) << what << ": " << diag.to_string();
    EXPECT_TRUE(back == h) << what;
}

TEST(Properties, None) {
    content_header h;
    h.body_size = 5;
    EXPECT_EQ(h.properties.flags(), 0);
    check_both_ways(h, "003c 0000 0000000000000005 0000", "none");
}

TEST(Properties, EachAlone) {
    for (const auto& p : golden_properties()) {
        content_header h;
        h.body_size = 1;
        p.set(h.properties);
        const auto flags = static_cast<std::uint16_t>(1u << p.bit);
        EXPECT_EQ(h.properties.flags(), flags) << p.name;
        check_both_ways(h, header_prefix_hex(1, flags) + p.hex, p.name);
    }
}

TEST(Properties, AllFourteen) {
    content_header h;
    h.body_size = 0x0102030405060708ull;
    std::string tail;
    for (const auto& p : golden_properties()) {
        p.set(h.properties);
        tail += p.hex;
    }
    EXPECT_EQ(golden_properties().size(), 14u);
    EXPECT_EQ(h.properties.flags(), 0xFFFC);
    check_both_ways(h, header_prefix_hex(h.body_size, 0xFFFC) + tail, "all");
}

TEST(Properties, EveryPairOfProperties) {
    const auto& all = golden_properties();
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t j = i + 1; j < all.size(); ++j) {
            content_header h;
            all[i].set(h.properties);
            all[j].set(h.properties);
            const auto flags = static_cast<std::uint16_t>((1u << all[i].bit) | (1u << all[j].bit));
            check_both_ways(h, header_prefix_hex(0, flags) + all[i].hex + all[j].hex,
                            std::string(all[i].name) + "+" + all[j].name);
        }
}

TEST(Properties, HeadersTableDecodes) {
    content_header h;
    diagnostics diag;
    const auto bytes = hex(header_prefix_hex(0, 1u << 13) + "00000008 01 68 53 00000001 76");
    ASSERT_FALSE(decode_content_header(bytes, h, diag));
    field_table t;
    ASSERT_FALSE(decode_table(*h.properties.headers, t, diag));
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].first, "h");
    EXPECT_EQ(t[0].second.get<std::string>(), "v");
}

TEST(Properties, EmptyStringIsPresentNotAbsent) {
    content_header h;
    h.properties.reply_to = "";
    check_both_ways(h, header_prefix_hex(0, 1u << 9) + "00", "empty reply-to");
}

}  // namespace
