// Field tables: validate_table, decode_table, walk_table (validation and reading in one pass)
// and the in-place reader (next_entry / next_value, which checks every length itself: a
// table_view may wrap any bytes) agree on every input; a decoded table re-encodes, and that
// encoding is a fixed point of decode+encode.
#include "fuzz_check.hpp"

#include <amqp/codec/field_table.hpp>

namespace {
// Reads `raw` (a table's entries, or an array's values) with the in-place reader, nested
// tables and arrays too. True when every byte was read as well-formed entries; every view
// it hands out lies within `raw`.
bool walk(amqp::bytes_view raw, bool named, std::size_t depth) {
    if (depth > amqp::max_table_depth) return false;
    amqp::bytes_view rest = raw;
    std::string_view name;
    amqp::field_value_view v;
    while (named ? amqp::next_entry(rest, name, v) : amqp::next_value(rest, v)) {
        FUZZ_CHECK(v.raw.empty() || (v.raw.data() >= raw.data() && v.raw.data() + v.raw.size() <= raw.data() + raw.size()));
        if (v.tag == 'F' && !walk(v.raw, true, depth + 1)) return false;
        if (v.tag == 'A' && !walk(v.raw, false, depth + 1)) return false;
    }
    return rest.empty();
}

// Whether `v` lies within `raw` (an empty view may point anywhere).
bool inside(amqp::bytes_view v, amqp::bytes_view raw) {
    return v.empty() || (v.data() >= raw.data() && v.data() + v.size() <= raw.data() + raw.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const amqp::bytes_view raw(data, size);
    amqp::diagnostics d1, d2;
    const auto v = amqp::validate_table(raw, d1);
    FUZZ_CHECK(walk(raw, true, 1) == !v);
    {
        // walk_table: validate_table's verdict and report, and only views inside the input,
        // at depths within the limit; on valid input, every entry for_each_entry gives.
        amqp::diagnostics d3;
        std::size_t seen = 0;
        std::size_t top = 0;
        const auto w = amqp::walk_table(raw, d3, [&](std::string_view name, const amqp::field_value_view& value, std::size_t depth) {
            FUZZ_CHECK(inside(amqp::as_bytes(name), raw) && inside(value.raw, raw));
            FUZZ_CHECK(depth >= 1 && depth <= amqp::max_table_depth);
            ++seen;
            if (depth == 1) ++top;
        });
        FUZZ_CHECK(w == v);
        if (v) {
            FUZZ_CHECK(d3.message == d1.message && d3.offset == d1.offset && d3.field == d1.field);
        } else {
            std::size_t entries = 0;
            amqp::for_each_entry(amqp::table_view{raw}, [&](std::string_view, const amqp::field_value_view&) { ++entries; });
            FUZZ_CHECK(top == entries);
            FUZZ_CHECK(seen >= top);
        }
    }
    amqp::field_table t;
    const auto ec = amqp::decode_table(amqp::table_view{raw}, t, d2);
    FUZZ_CHECK(v == ec);
    if (!ec) {
        std::size_t entries = 0;
        amqp::for_each_entry(amqp::table_view{raw}, [&](std::string_view, const amqp::field_value_view&) { ++entries; });
        FUZZ_CHECK(entries == t.size());
    }
    if (ec) {
        FUZZ_CHECK(d1.offset == d2.offset && d1.field == d2.field);
        FUZZ_CHECK(d1.offset <= size);
        return 0;
    }
    amqp::byte_buffer once;
    FUZZ_CHECK(!amqp::encode_table(t, once));
    FUZZ_CHECK(once.size() == size);  // only 't' octets other than 0/1 are non-canonical
    FUZZ_CHECK(amqp::table_encoded_size(t) == once.size());
    amqp::field_table t2;
    FUZZ_CHECK(!amqp::decode_table(amqp::table_view{once}, t2, d2));
    amqp::byte_buffer twice;
    FUZZ_CHECK(!amqp::encode_table(t2, twice));
    FUZZ_CHECK(once == twice);
    (void)amqp::to_string(t);
    return 0;
}
