// The in-place reader (next_entry, next_value, for_each_entry) on bytes nobody validated: it
// must stop exactly where validate_table says the bytes go wrong, and never read outside them
// (the ASan build runs these too). A table_view can be made from any bytes, so the reader
// checks every length itself.
#include "golden.hpp"

#include <amqp/field_table.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace amqp;
using amqp_test::hex;
using amqp_test::to_hex;

bool walk_values(bytes_view raw, bool named, std::size_t depth, bytes_view whole);

// Checks one value the way a reader would use it: views inside the input, nested tables and
// arrays walked in turn.
bool walk_value(const field_value_view& v, std::size_t depth, bytes_view whole) {
    const std::uint8_t* lo = whole.data();
    const std::uint8_t* hi = whole.data() + whole.size();
    if (v.raw.size() > 0 && (v.raw.data() < lo || v.raw.data() + v.raw.size() > hi)) {
        ADD_FAILURE() << "value view outside the input";
        return false;
    }
    if (v.tag == 'F') return walk_values(v.raw, true, depth + 1, whole);
    if (v.tag == 'A') return walk_values(v.raw, false, depth + 1, whole);
    return true;
}

// True when the reader took every byte of `raw` as entries (or array values), recursively.
// Depth is not the reader's job; mirrored here so that the verdicts compare.
bool walk_values(bytes_view raw, bool named, std::size_t depth, bytes_view whole) {
    if (depth > max_table_depth) return false;
    bytes_view rest = raw;
    std::string_view name;
    field_value_view v;
    if (named) {
        while (next_entry(rest, name, v)) {
            if (name.data() < reinterpret_cast<const char*>(raw.data()) ||
                name.data() + name.size() > reinterpret_cast<const char*>(raw.data() + raw.size())) {
                ADD_FAILURE() << "name view outside the table";
                return false;
            }
            if (!walk_value(v, depth, whole)) return false;
        }
    } else {
        while (next_value(rest, v))
            if (!walk_value(v, depth, whole)) return false;
    }
    return rest.empty();
}

bool reader_accepts(bytes_view raw) { return walk_values(raw, true, 1, raw); }

// Entries for_each_entry visits at the top level (it stops silently at malformed bytes).
std::size_t visited(bytes_view raw) {
    std::size_t n = 0;
    for_each_entry(table_view{raw}, [&](std::string_view, const field_value_view&) { ++n; });
    return n;
}

// Every tag, a nested capabilities-style table of booleans, an array inside a table inside an
// array, and long names: what a walker meets in server properties and message headers.
byte_buffer sample_table() {
    const field_table caps{{"publisher_confirms", true}, {"basic.nack", true}, {"consumer_cancel_notify", false}};
    const field_table t{{"capabilities", caps},
                        {"product", "RabbitMQ"},
                        {std::string(255, 'n'), std::int8_t{-5}},
                        {"B", std::uint8_t{250}},
                        {"s", std::int16_t{-300}},
                        {"u", std::uint16_t{65000}},
                        {"I", std::int32_t{-70000}},
                        {"i", std::uint32_t{4000000000u}},
                        {"l", std::int64_t{-5000000000}},
                        {"f", 1.5f},
                        {"d", -2.25},
                        {"D", decimal{2, 12345}},
                        {"A", field_array{std::int32_t{1}, field_table{{"in", field_array{"x", true}}}}},
                        {"T", timestamp{1700000000}},
                        {"V", field_value{}},
                        {"x", byte_array{std::string("\x00\xff", 2)}},
                        {"", "empty name"}};
    byte_buffer out;
    EXPECT_FALSE(encode_table(t, out));
    return out;
}

void expect_agreement(bytes_view b, const std::string& what) {
    diagnostics d;
    const bool valid = !validate_table(b, d);
    ASSERT_EQ(reader_accepts(b), valid) << what << ": " << to_hex(b) << " validator: " << d.message;
    if (valid) {
        field_table t;
        ASSERT_FALSE(decode_table(table_view{b}, t, d)) << what;
        EXPECT_EQ(visited(b), t.size()) << what;
    }
}

TEST(TableWalk, AgreesWithTheValidatorOnEveryPrefix) {
    const byte_buffer b = sample_table();
    ASSERT_TRUE(reader_accepts(b));
    for (std::size_t n = 0; n <= b.size(); ++n) {
        // A copy of exactly n bytes, so that ASan sees any read past them.
        const byte_buffer prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
        expect_agreement(prefix, "prefix " + std::to_string(n));
    }
}

TEST(TableWalk, AgreesWithTheValidatorOnEverySingleByteChange) {
    const byte_buffer b = sample_table();
    const std::string tags = "tbBsuIilfdDSxATFV";
    std::string replacements = tags + "Zz";  // and two unknown tags
    for (const int x : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff}) replacements += static_cast<char>(x);
    for (std::size_t i = 0; i < b.size(); ++i) {
        for (const char r : replacements) {
            byte_buffer m = b;
            m[i] = static_cast<std::uint8_t>(r);
            expect_agreement(m, "byte " + std::to_string(i) + " = " + std::to_string(static_cast<unsigned char>(r)));
        }
        byte_buffer m = b;
        m[i] ^= 0x01;
        expect_agreement(m, "byte " + std::to_string(i) + " ^ 1");
    }
}

TEST(TableWalk, ForEachEntryVisitsEveryWholeEntryOfACutTable) {
    const byte_buffer b = sample_table();
    // Where each top-level entry ends, from the encoder rather than from the reader.
    field_table t;
    diagnostics d;
    ASSERT_FALSE(decode_table(table_view{b}, t, d));
    std::vector<std::size_t> ends;
    std::size_t at = 0;
    for (const auto& e : t) {
        at += table_encoded_size(field_table{e});
        ends.push_back(at);
    }
    ASSERT_EQ(at, b.size());
    for (std::size_t n = 0; n <= b.size(); ++n) {
        const byte_buffer prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
        std::size_t whole = 0;
        while (whole < ends.size() && ends[whole] <= n) ++whole;
        EXPECT_EQ(visited(prefix), whole) << "prefix " << n;
    }
}

TEST(TableWalk, RejectsEachKindOfFault) {
    // Each is a well-formed entry `a`, then the fault: the reader yields `a` and stops.
    const char* const faults[] = {
        "05 6162",                   // name length past the end
        "01 62",                     // name, no tag
        "01 62 5a 00",               // unknown tag 'Z'
        "01 62 00",                  // tag 0x00
        "01 62 ff 00",               // tag 0xff
        "01 62 49 0000",             // 4-byte integer cut short
        "01 62 74",                  // boolean with no octet
        "01 62 6c 00000000000000",   // 8-byte integer cut short
        "01 62 44 02 0000",          // decimal cut short
        "01 62 53 0000",             // string length prefix cut short
        "01 62 53 00000003 6869",    // string length past the end
        "01 62 53 ffffffff 6869",    // huge string length
        "01 62 46 00000004 0161",    // nested table length past the end
        "01 62 41 80000000",         // huge array length
        "01 62 78 00000001",         // byte array length past the end
    };
    for (const char* f : faults) {
        const byte_buffer b = hex(std::string("01 61 74 01 ") + f);
        bytes_view rest(b);
        std::string_view name;
        field_value_view v;
        ASSERT_TRUE(next_entry(rest, name, v)) << f;
        EXPECT_EQ(name, "a");
        EXPECT_TRUE(v.as_bool());
        const bytes_view at_fault = rest;
        EXPECT_FALSE(next_entry(rest, name, v)) << f;
        EXPECT_EQ(rest.data(), at_fault.data()) << f << ": a failed step leaves `rest` alone";
        EXPECT_EQ(rest.size(), at_fault.size()) << f;
        EXPECT_EQ(visited(b), 1u) << f;
        diagnostics d;
        EXPECT_EQ(validate_table(b, d), reply_code::syntax_error) << f;
    }
}

TEST(TableWalk, NextValueTakesArrayElements) {
    const byte_buffer b = hex("49 00000001 | 53 00000001 78 | 74 00 | 56 | 46 00000000 | 5a");
    bytes_view rest(b);
    field_value_view v;
    ASSERT_TRUE(next_value(rest, v));
    EXPECT_EQ(v.as_int(), 1);
    ASSERT_TRUE(next_value(rest, v));
    EXPECT_EQ(v.as_string(), "x");
    ASSERT_TRUE(next_value(rest, v));
    EXPECT_EQ(v.tag, 't');
    EXPECT_FALSE(v.as_bool());
    ASSERT_TRUE(next_value(rest, v));
    EXPECT_EQ(v.tag, 'V');
    EXPECT_TRUE(v.raw.empty());
    ASSERT_TRUE(next_value(rest, v));
    EXPECT_EQ(v.tag, 'F');
    EXPECT_TRUE(v.as_table().empty());
    EXPECT_FALSE(next_value(rest, v));  // unknown tag 'Z'
    EXPECT_EQ(rest.size(), 1u);
    rest = bytes_view{};
    EXPECT_FALSE(next_value(rest, v));
}

}  // namespace
