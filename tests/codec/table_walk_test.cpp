// The in-place reader (next_entry, next_value, for_each_entry) on bytes nobody validated: it
// must stop exactly where validate_table says the bytes go wrong, and never read outside them
// (the ASan build runs these too). A table_view can be made from any bytes, so the reader
// checks every length itself. And walk_table, which validates and reads in one pass: it must
// give validate_table's verdict and report, and the entries the reader gives.
#include "golden.hpp"
#include "nested_tables.hpp"

#include <amqp/codec/field_table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace {

using namespace amqp;
using amqp_test::hex;
using amqp_test::nested_tables;
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

// Calls check(changed, label) for every one-byte change of `b`: each byte set to every tag,
// two unknown tags and some edge values, and flipped in its low bit.
template <class F>
void for_each_single_byte_change(const byte_buffer& b, F check) {
    const std::string tags = "tbBsuIilfdDSxATFV";
    std::string replacements = tags + "Zz";  // and two unknown tags
    for (const int x : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff}) replacements += static_cast<char>(x);
    for (std::size_t i = 0; i < b.size(); ++i) {
        for (const char r : replacements) {
            byte_buffer m = b;
            m[i] = static_cast<std::uint8_t>(r);
            check(m, "byte " + std::to_string(i) + " = " + std::to_string(static_cast<unsigned char>(r)));
        }
        byte_buffer m = b;
        m[i] ^= 0x01;
        check(m, "byte " + std::to_string(i) + " ^ 1");
    }
}

TEST(TableWalk, AgreesWithTheValidatorOnEverySingleByteChange) {
    for_each_single_byte_change(sample_table(), [](const byte_buffer& m, const std::string& label) {
        expect_agreement(m, label);
    });
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

// ---- walk_table ----------------------------------------------------------------------------

// One entry as a callback saw it: views (compared by address, not content) and depth.
struct seen_entry {
    std::string_view name;
    field_value_view value;
    std::size_t depth = 0;

    bool operator==(const seen_entry& o) const {
        return name.data() == o.name.data() && name.size() == o.name.size() && value.tag == o.value.tag &&
               value.raw.data() == o.value.raw.data() && value.raw.size() == o.value.raw.size() && depth == o.depth;
    }
};

std::ostream& operator<<(std::ostream& os, const seen_entry& e) {
    return os << "{" << e.name << " '" << e.value.tag << "' " << e.value.raw.size() << " bytes, depth " << e.depth << "}";
}

// The reference: for_each_entry over a table, and again over each 'F' value right after its
// entry (what the benchmark's two-pass reader does). It stops one level below the deepest the
// walk may go, since for_each_entry has no depth limit and the tests nest 20000 levels.
void reader_entries(table_view t, std::size_t depth, std::vector<seen_entry>& out) {
    for_each_entry(t, [&](std::string_view name, const field_value_view& v) {
        out.push_back({name, v, depth});
        if (v.tag == 'F' && depth <= max_table_depth) reader_entries(v.as_table(), depth + 1, out);
    });
}

void expect_walk_agrees(bytes_view b, const std::string& what) {
    diagnostics want;
    const error_code want_ec = validate_table(b, want);
    diagnostics got;
    got.message = "stale";  // must be overwritten on a fault, as validate_table overwrites it
    std::vector<seen_entry> seen;
    const error_code got_ec = walk_table(b, got, [&](std::string_view name, const field_value_view& v, std::size_t depth) {
        seen.push_back({name, v, depth});
    });
    ASSERT_EQ(got_ec, want_ec) << what << ": " << to_hex(b);
    std::vector<seen_entry> reader;
    reader_entries(table_view{b}, 1, reader);
    if (!want_ec) {
        EXPECT_EQ(seen, reader) << what;
        return;
    }
    EXPECT_EQ(got.message, want.message) << what;
    EXPECT_EQ(got.offset, want.offset) << what;
    EXPECT_EQ(got.field, want.field) << what;
    // Before the fault, the walk hands over what the reader reads, in the same order.
    ASSERT_LE(seen.size(), reader.size()) << what;
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], reader[i]) << what << ", entry " << i;
    // And nothing at or after the fault, bar the 'F' entries whose tables hold it.
    const std::uint8_t* fault = b.data() + want.offset;
    for (const auto& e : seen) {
        EXPECT_LE(reinterpret_cast<const std::uint8_t*>(e.name.data() + e.name.size()), fault) << what << " " << e;
        if (e.value.tag != 'F') {
            EXPECT_LE(e.value.raw.data() + e.value.raw.size(), fault) << what << " " << e;
        }
    }
}

TEST(ValidatingWalk, GivesTheReadersEntriesInOrderWithDepths) {
    const byte_buffer b = sample_table();
    std::vector<seen_entry> seen;
    diagnostics d;
    ASSERT_FALSE(walk_table(b, d, [&](std::string_view name, const field_value_view& v, std::size_t depth) {
        seen.push_back({name, v, depth});
    }));
    // 17 entries at the top, 3 capabilities below the first; the table inside the array is
    // validated but not visited.
    ASSERT_EQ(seen.size(), 20u);
    EXPECT_EQ(seen[0].name, "capabilities");
    EXPECT_EQ(seen[0].depth, 1u);
    EXPECT_EQ(seen[1].name, "publisher_confirms");
    EXPECT_EQ(seen[1].depth, 2u);
    EXPECT_TRUE(seen[1].value.as_bool());
    EXPECT_EQ(seen[3].name, "consumer_cancel_notify");
    EXPECT_FALSE(seen[3].value.as_bool());
    EXPECT_EQ(seen[4].name, "product");
    EXPECT_EQ(seen[4].depth, 1u);
    EXPECT_EQ(seen[4].value.as_string(), "RabbitMQ");
    EXPECT_EQ(seen[5].name.size(), 255u);
    EXPECT_EQ(seen[5].value.as_int(), -5);
    EXPECT_EQ(seen[16].name, "T");
    EXPECT_EQ(seen[19].name, "");
    EXPECT_EQ(seen[19].value.as_string(), "empty name");
    std::vector<seen_entry> reader;
    reader_entries(table_view{b}, 1, reader);
    EXPECT_EQ(seen, reader);

    // A two-argument callback works too and sees the same entries.
    std::size_t n = 0;
    ASSERT_FALSE(walk_table(b, d, [&](std::string_view name, const field_value_view& v) {
        EXPECT_EQ(name.data(), seen[n].name.data());
        EXPECT_EQ(v.raw.data(), seen[n].value.raw.data());
        ++n;
    }));
    EXPECT_EQ(n, seen.size());
}

TEST(ValidatingWalk, AgreesWithTheValidatorOnEveryPrefix) {
    const byte_buffer b = sample_table();
    for (std::size_t n = 0; n <= b.size(); ++n) {
        const byte_buffer prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
        expect_walk_agrees(prefix, "prefix " + std::to_string(n));
    }
}

TEST(ValidatingWalk, AgreesWithTheValidatorOnEverySingleByteChange) {
    for_each_single_byte_change(sample_table(), [](const byte_buffer& m, const std::string& label) {
        expect_walk_agrees(m, label);
    });
}

// `head`, then a 4-byte length and `body`.
byte_buffer prefixed(byte_buffer head, const byte_buffer& body) {
    const auto n = static_cast<std::uint32_t>(body.size());
    for (int shift = 24; shift >= 0; shift -= 8) head.push_back(static_cast<std::uint8_t>(n >> shift));
    head.insert(head.end(), body.begin(), body.end());
    return head;
}

// A table (level 1) whose one entry is an array, each array (levels 2 and on) the only value of
// its parent array; the innermost holds `inner` (tagged values). levels >= 2.
byte_buffer nested_arrays(std::size_t levels, const byte_buffer& inner) {
    byte_buffer b = inner;
    for (std::size_t i = 2; i < levels; ++i) b = prefixed({'A'}, b);
    return prefixed({1, 'n', 'A'}, b);
}

TEST(ValidatingWalk, KeepsTheDepthLimit) {
    const byte_buffer leaf = hex("01 6c 74 01");  // l: true
    const byte_buffer deepest = nested_tables(max_table_depth, leaf);
    std::size_t max_seen = 0;
    std::size_t count = 0;
    diagnostics d;
    ASSERT_FALSE(walk_table(deepest, d, [&](std::string_view, const field_value_view&, std::size_t depth) {
        max_seen = std::max(max_seen, depth);
        ++count;
    }));
    EXPECT_EQ(max_seen, max_table_depth);
    EXPECT_EQ(count, max_table_depth);
    expect_walk_agrees(deepest, "deepest allowed");

    const byte_buffer too_deep = nested_tables(max_table_depth + 1, leaf);
    EXPECT_EQ(walk_table(too_deep, d, [](std::string_view, const field_value_view&) {}), reply_code::syntax_error);
    EXPECT_NE(d.message.find("nested deeper"), std::string::npos) << d.message;
    expect_walk_agrees(too_deep, "one level too deep");
    // An empty table one level too deep is still too deep.
    expect_walk_agrees(nested_tables(max_table_depth + 1, {}), "empty, one level too deep");
    // Far deeper than any stack of ours would want to recurse (oss-fuzz 56296 in rabbitmq-c).
    expect_walk_agrees(nested_tables(20000, leaf), "20000 levels");
}

TEST(ValidatingWalk, ValidatesArraysBeforeHandingThemOver) {
    // A table whose second entry is an array holding a table holding an unknown tag: the walk
    // must not hand that array to the callback.
    const byte_buffer b = hex("01 61 74 01 | 01 62 41 00000009 | 46 00000004 01 63 5a 00");
    std::vector<std::string_view> names;
    diagnostics d;
    EXPECT_EQ(walk_table(b, d, [&](std::string_view name, const field_value_view&) { names.push_back(name); }),
              reply_code::syntax_error);
    EXPECT_EQ(names, std::vector<std::string_view>{"a"});
    EXPECT_EQ(d.field, "b.[0].c");
    expect_walk_agrees(b, "bad tag in a table in an array");
    // Arrays count toward the depth limit too.
    const byte_buffer deepest = nested_arrays(max_table_depth, hex("74 01"));
    diagnostics d2;
    ASSERT_FALSE(validate_table(deepest, d2)) << d2.to_string();
    expect_walk_agrees(deepest, "arrays, deepest allowed");
    const byte_buffer too_deep = nested_arrays(max_table_depth + 1, hex("74 01"));
    ASSERT_TRUE(validate_table(too_deep, d2));
    expect_walk_agrees(too_deep, "arrays, one level too deep");
    // And a table inside the deepest array allowed is one level too deep.
    expect_walk_agrees(nested_arrays(max_table_depth, prefixed({'F'}, {})), "table in the deepest array");
}

}  // namespace
