// Field tables: validate_table, decode_table and the in-place reader (next_entry /
// next_value, which checks every length itself: a table_view may wrap any bytes) agree on
// every input; a decoded table re-encodes, and that encoding is a fixed point of decode+encode.
#include "fuzz/fuzz_check.hpp"

#include <amqp/field_table.hpp>

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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const amqp::bytes_view raw(data, size);
    amqp::diagnostics d1, d2;
    const auto v = amqp::validate_table(raw, d1);
    FUZZ_CHECK(walk(raw, true, 1) == !v);
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
