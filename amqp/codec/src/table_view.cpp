// Reading field tables in place: entries as (name, value view) pairs pointing into the
// table's bytes, for callers that only look values up (capabilities, headers).
#include <amqp/codec/field_table.hpp>

#include <bit>

#include <boost/endian/conversion.hpp>

namespace amqp {
field_value_view find_entry(table_view t, std::string_view name, bool* found) noexcept {
    field_value_view out;
    bool hit = false;
    for_each_entry(t, [&](std::string_view n, const field_value_view& v) {
        if (n != name) return true;
        out = v;
        hit = true;
        return false;
    });
    if (found != nullptr) *found = hit;
    return out;
}

std::int64_t field_value_view::as_int() const noexcept {
    const std::uint8_t* p = raw.data();
    switch (tag) {
        case 'b': return static_cast<std::int8_t>(p[0]);
        case 'B': return p[0];
        case 's': return static_cast<std::int16_t>(boost::endian::load_big_u16(p));
        case 'u': return boost::endian::load_big_u16(p);
        case 'I': return static_cast<std::int32_t>(boost::endian::load_big_u32(p));
        case 'i': return boost::endian::load_big_u32(p);
        case 'l': return static_cast<std::int64_t>(boost::endian::load_big_u64(p));
        default: return 0;
    }
}

double field_value_view::as_double() const noexcept {
    if (tag == 'f') return std::bit_cast<float>(boost::endian::load_big_u32(raw.data()));
    if (tag == 'd') return std::bit_cast<double>(boost::endian::load_big_u64(raw.data()));
    return 0;
}

field_value field_value_view::to_value() const {
    // Reuse the table decoder: wrap this one value as a one-entry table.
    byte_buffer one;
    one.reserve(2 + 4 + raw.size());
    one.push_back(0);  // empty name
    one.push_back(static_cast<std::uint8_t>(tag));
    if (tag == 'S' || tag == 'x' || tag == 'A' || tag == 'F') {
        const auto n = static_cast<std::uint32_t>(raw.size());
        for (int shift = 24; shift >= 0; shift -= 8) one.push_back(static_cast<std::uint8_t>(n >> shift));
    }
    one.insert(one.end(), raw.begin(), raw.end());
    field_table t;
    diagnostics diag;
    if (decode_table(table_view{one}, t, diag) || t.size() != 1) return {};
    return std::move(t.front().second);
}

}  // namespace amqp
