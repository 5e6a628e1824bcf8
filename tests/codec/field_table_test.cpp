// Field tables: every RabbitMQ errata tag, nesting, the readable form, and the limits.
#include "golden.hpp"
#include "nested_tables.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/printable.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace {

using namespace amqp;
using amqp_test::hex;
using amqp_test::nested_tables;
using amqp_test::to_hex;

// One entry per tag; name = the tag letter. Bytes derived by hand (Python's struct for the
// two's-complement and IEEE 754 spellings).
const char* const all_tags_hex =
    "01 74 74 01"                                    // t true
    "01 62 62 fb"                                    // b -5
    "01 42 42 fa"                                    // B 250
    "01 73 73 fed4"                                  // s -300 (int16: RabbitMQ, not the spec's shortstr)
    "01 75 75 fde8"                                  // u 65000
    "01 49 49 fffeee90"                              // I -70000
    "01 69 69 ee6b2800"                              // i 4000000000 (uint32)
    "01 6c 6c fffffffed5fa0e00"                      // l -5000000000 (int64)
    "01 66 66 3fc00000"                              // f 1.5
    "01 64 64 c002000000000000"                      // d -2.25
    "01 44 44 02 00003039"                           // D 123.45
    "01 53 53 00000002 6869"                         // S "hi"
    "01 41 41 0000000b 49 00000001 53 00000001 78"   // A [1, "x"]
    "01 54 54 000000006553f100"                      // T 1700000000
    "01 46 46 00000003 01 6e 56"                     // F {n: void}
    "01 56 56"                                       // V
    "01 78 78 00000002 00ff";                        // x bytes 00 ff

field_table all_tags_value() {
    return field_table{
        {"t", true},
        {"b", std::int8_t{-5}},
        {"B", std::uint8_t{250}},
        {"s", std::int16_t{-300}},
        {"u", std::uint16_t{65000}},
        {"I", std::int32_t{-70000}},
        {"i", std::uint32_t{4000000000u}},
        {"l", std::int64_t{-5000000000}},
        {"f", 1.5f},
        {"d", -2.25},
        {"D", decimal{2, 12345}},
        {"S", "hi"},
        {"A", field_array{std::int32_t{1}, "x"}},
        {"T", timestamp{1700000000}},
        {"F", field_table{{"n", field_value{}}}},
        {"V", field_value{}},
        {"x", byte_array{std::string("\x00\xff", 2)}},
    };
}

TEST(FieldTable, EveryTagDecodes) {
    const auto bytes = hex(all_tags_hex);
    diagnostics diag;
    ASSERT_FALSE(validate_table(bytes, diag)) << diag.to_string();
    field_table t;
    ASSERT_FALSE(decode_table(table_view{bytes}, t, diag)) << diag.to_string();
    EXPECT_EQ(t, all_tags_value()) << to_string(t);
    for (const auto& [name, v] : t) EXPECT_EQ(std::string(1, v.tag()), name);
}

TEST(FieldTable, EveryTagEncodes) {
    byte_buffer out;
    const auto t = all_tags_value();
    ASSERT_FALSE(encode_table(t, out));
    EXPECT_EQ(to_hex(out), to_hex(hex(all_tags_hex)));
    EXPECT_EQ(table_encoded_size(t), out.size());
}

TEST(FieldTable, EncodeAppends) {
    byte_buffer out = {0xAA};
    ASSERT_FALSE(encode_table(field_table{{"a", true}}, out));
    EXPECT_EQ(to_hex(out), "aa" "01617401");
}

TEST(FieldTable, NestedTablesAndArraysRoundTrip) {
    const field_table t{
        {"capabilities", field_table{{"publisher_confirms", true}, {"basic.nack", true}}},
        {"deep", field_table{{"a", field_array{field_array{field_table{{"z", std::int64_t{1}}}}}}}},
        {"empty_t", field_table{}},
        {"empty_a", field_array{}},
    };
    byte_buffer out;
    ASSERT_FALSE(encode_table(t, out));
    field_table back;
    diagnostics diag;
    ASSERT_FALSE(decode_table(table_view{out}, back, diag)) << diag.to_string();
    EXPECT_EQ(back, t);
    byte_buffer again;
    ASSERT_FALSE(encode_table(back, again));
    EXPECT_EQ(again, out);
}

TEST(FieldTable, NonZeroBooleanOctetIsTrue) {
    const auto bytes = hex("01 61 74 07");
    field_table t;
    diagnostics diag;
    ASSERT_FALSE(decode_table(table_view{bytes}, t, diag));
    EXPECT_EQ(t[0].second, field_value{true});
}

TEST(FieldTable, DuplicateNamesKeptInOrder) {
    const auto bytes = hex("01 61 42 01 01 61 42 02");
    field_table t;
    diagnostics diag;
    ASSERT_FALSE(decode_table(table_view{bytes}, t, diag));
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(find_field(t, "a")->get<std::uint8_t>(), 1);
    EXPECT_EQ(find_field(t, "b"), nullptr);
}

TEST(FieldTable, ReadableForm) {
    const field_table t{{"product", "RabbitMQ"},
                        {"capabilities", field_table{{"basic.nack", true}}},
                        {"n", std::int32_t{-3}},
                        {"raw", byte_array{std::string("\x01\xab", 2)}},
                        {"arr", field_array{1.5, field_value{}}},
                        {"esc", std::string("a\"\n")}};
    EXPECT_EQ(to_string(t),
              "{product: \"RabbitMQ\", capabilities: {basic.nack: true}, n: -3, raw: bytes(01ab), "
              "arr: [1.5, void], esc: \"a\\\"\\n\"}");
}

TEST(FieldTable, FloatSpecialValuesSurvive) {
    const field_table t{{"nan", std::nan("")}, {"inf", -HUGE_VALF}};
    byte_buffer out;
    ASSERT_FALSE(encode_table(t, out));
    field_table back;
    diagnostics diag;
    ASSERT_FALSE(decode_table(table_view{out}, back, diag));
    EXPECT_TRUE(std::isnan(back[0].second.get<double>()));
    EXPECT_EQ(back[1].second.get<float>(), -HUGE_VALF);
}

// ---- limits (502 SYNTAX_ERROR) -------------------------------------------------------------

void expect_syntax_error(const byte_buffer& bytes, std::size_t offset, const std::string& field) {
    diagnostics diag;
    EXPECT_EQ(validate_table(bytes, diag), reply_code::syntax_error);
    EXPECT_EQ(diag.offset, offset) << diag.to_string();
    EXPECT_EQ(diag.field, field) << diag.to_string();
    field_table t;
    diagnostics diag2;
    EXPECT_EQ(decode_table(table_view{bytes}, t, diag2), reply_code::syntax_error);
    EXPECT_EQ(diag2.offset, offset);
}

TEST(FieldTableLimits, UnknownTag) {
    // 'L' (uint64 in some clients) is not in RabbitMQ's errata table.
    expect_syntax_error(hex("01 61 74 01 | 01 62 4c 0000000000000001"), 6, "b");
}

TEST(FieldTableLimits, StringLengthPastTheEnd) { expect_syntax_error(hex("01 61 53 00000005 6869"), 3, "a"); }

TEST(FieldTableLimits, HugeStringLengthPastTheEnd) {
    expect_syntax_error(hex("01 61 53 ffffffff 6869"), 3, "a");
}

TEST(FieldTableLimits, NameLengthPastTheEnd) { expect_syntax_error(hex("05 6162"), 0, ""); }

TEST(FieldTableLimits, FixedValuePastTheEnd) { expect_syntax_error(hex("01 61 49 0000"), 3, "a"); }

TEST(FieldTableLimits, MissingTag) { expect_syntax_error(hex("01 61"), 2, "a"); }

TEST(FieldTableLimits, ErrorInsideNestedValueNamesThePath) {
    // {o: {p: [t true, ?]}} with an unknown tag 'Z' as the array's second element.
    const auto bytes = hex("01 6f 46 0000000b | 01 70 41 00000004 | 74 01 5a 00");
    diagnostics diag;
    ASSERT_EQ(validate_table(bytes, diag), reply_code::syntax_error);
    EXPECT_EQ(diag.field, "o.p.[1]");
    EXPECT_EQ(diag.offset, 16u);
    EXPECT_NE(diag.message.find("'Z'"), std::string::npos) << diag.message;
}

TEST(FieldTableLimits, DepthAtTheLimitIsAccepted) {
    const auto bytes = nested_tables(max_table_depth);
    diagnostics diag;
    EXPECT_FALSE(validate_table(bytes, diag)) << diag.to_string();
    field_table t;
    EXPECT_FALSE(decode_table(table_view{bytes}, t, diag));
    byte_buffer again;
    EXPECT_FALSE(encode_table(t, again));
    EXPECT_EQ(again, bytes);
}

TEST(FieldTableLimits, OneLevelTooDeepIsRejected) {
    const auto bytes = nested_tables(max_table_depth + 1);
    diagnostics diag;
    EXPECT_EQ(validate_table(bytes, diag), reply_code::syntax_error);
    EXPECT_NE(diag.message.find("nested deeper"), std::string::npos);
}

TEST(FieldTableLimits, TwentyThousandLevelsRejectedWithoutStackOverflow) {
    const auto bytes = nested_tables(20000);
    diagnostics diag;
    EXPECT_EQ(validate_table(bytes, diag), reply_code::syntax_error);
    field_table t;
    EXPECT_EQ(decode_table(table_view{bytes}, t, diag), reply_code::syntax_error);
}

TEST(FieldTableLimits, ArraysCountAsNesting) {
    // [[[...]]] 40 deep inside one table entry.
    byte_buffer inner;
    for (int i = 0; i < 40; ++i) {
        byte_buffer outer = {'A', 0, 0, 0, static_cast<std::uint8_t>(inner.size())};
        outer.insert(outer.end(), inner.begin(), inner.end());
        inner.swap(outer);
        if (inner.size() > 250) break;
    }
    byte_buffer bytes = {0x01, 'a'};
    bytes.insert(bytes.end(), inner.begin(), inner.end());
    diagnostics diag;
    EXPECT_EQ(validate_table(bytes, diag), reply_code::syntax_error);
}

TEST(FieldTableLimits, EncodeRejectsTooDeepNamesTooLong) {
    field_table t;
    for (std::size_t i = 0; i < max_table_depth + 1; ++i) t = field_table{{"a", std::move(t)}};
    byte_buffer out;
    EXPECT_EQ(encode_table(t, out), reply_code::syntax_error);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(encode_table(field_table{{std::string(256, 'n'), true}}, out), reply_code::syntax_error);
    EXPECT_FALSE(encode_table(field_table{{std::string(255, 'n'), true}}, out));
}

}  // namespace

namespace {

using namespace amqp;

TEST(TableView, EntriesInPlaceMatchTheValueModel) {
    const auto bytes = hex(all_tags_hex);
    const auto model = all_tags_value();
    std::size_t i = 0;
    for_each_entry(table_view{bytes}, [&](std::string_view name, const field_value_view& v) {
        ASSERT_LT(i, model.size());
        EXPECT_EQ(name, model[i].first);
        EXPECT_EQ(v.tag, model[i].second.tag());
        EXPECT_EQ(v.to_value(), model[i].second) << name;
        // Views point into the input.
        EXPECT_GE(v.raw.data(), bytes.data());
        EXPECT_LE(v.raw.data() + v.raw.size(), bytes.data() + bytes.size());
        ++i;
    });
    EXPECT_EQ(i, model.size());
}

TEST(TableView, TypedAccessors) {
    const auto bytes = hex(all_tags_hex);
    const table_view t{bytes};
    EXPECT_TRUE(find_entry(t, "t").as_bool());
    EXPECT_EQ(find_entry(t, "b").as_int(), -5);
    EXPECT_EQ(find_entry(t, "B").as_int(), 250);
    EXPECT_EQ(find_entry(t, "s").as_int(), -300);
    EXPECT_EQ(find_entry(t, "u").as_int(), 65000);
    EXPECT_EQ(find_entry(t, "I").as_int(), -70000);
    EXPECT_EQ(find_entry(t, "i").as_int(), 4000000000);
    EXPECT_EQ(find_entry(t, "l").as_int(), -5000000000);
    EXPECT_EQ(find_entry(t, "f").as_double(), 1.5);
    EXPECT_EQ(find_entry(t, "d").as_double(), -2.25);
    EXPECT_EQ(find_entry(t, "S").as_string(), "hi");
    EXPECT_EQ(find_entry(t, "x").as_string(), std::string_view("\x00\xff", 2));
    bool found = false;
    EXPECT_EQ(find_entry(find_entry(t, "F").as_table(), "n", &found).tag, 'V');
    EXPECT_TRUE(found);
    find_entry(t, "missing", &found);
    EXPECT_FALSE(found);
    EXPECT_EQ(find_entry(t, "S").as_int(), 0);  // wrong type: neutral value, no throw
}

TEST(TableView, StopsOnMalformedBytes) {
    const auto bytes = hex("01 61 74 01 | 01 62 5a 00");
    std::size_t n = 0;
    for_each_entry(table_view{bytes}, [&](std::string_view, const field_value_view&) { ++n; });
    EXPECT_EQ(n, 1u);
}

// Peer text for logs: one printable ASCII line, whatever the octets; capped.
TEST(Printable, ForgedLineAndTerminalEscapesAreEscaped) {
    EXPECT_EQ(printable("p\n [!] Error: x\x1b[2J"), "\"p\\n [!] Error: x\\x1b[2J\"");
    EXPECT_EQ(printable("a\"b\\c\r\t\x7f\xff"), "\"a\\\"b\\\\c\\r\\t\\x7f\\xff\"");
    EXPECT_EQ(printable(std::string_view("\0", 1)), "\"\\x00\"");
}

TEST(Printable, CappedAfterLimitOctets) {
    EXPECT_EQ(printable("abcdef", 3), "\"abc\"...");
    EXPECT_EQ(printable("abc", 3), "\"abc\"");
    const std::string big(100000, 'x');
    EXPECT_EQ(printable(big).size(), printable_limit + 5);
}

}  // namespace
