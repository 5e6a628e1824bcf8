// Field tables and arrays on the wire: validation (no allocation), decoding into the value
// model, and encoding. Type tags are RabbitMQ's errata set (see types.hpp).
#pragma once

#include <amqp/error.hpp>
#include <amqp/types.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace amqp {

/// Tables and arrays nested deeper than this are rejected (502). RabbitMQ's own
/// server-properties nest 2 deep; a peer that sends 20000 levels must not overflow our stack.
inline constexpr std::size_t max_table_depth = 32;

/// Check that `raw` (a table's bytes after its 4-byte length) is a well-formed table: every name
/// a shortstr, every tag known, every length inside `raw`, depth ≤ max_table_depth. No allocation.
/// 502 SYNTAX_ERROR with `diag` (offset relative to `raw`) otherwise.
error_code validate_table(bytes_view raw, diagnostics& diag) noexcept;

/// Decode a (validated or not) table into values. Same checks as `validate_table`.
error_code decode_table(table_view t, field_table& out, diagnostics& diag);

/// Append the table's wire bytes (without the 4-byte length prefix) to `out`.
/// 502 SYNTAX_ERROR if a name exceeds 255 bytes, a long string exceeds 2^32-1 bytes, or the
/// nesting exceeds max_table_depth.
error_code encode_table(const field_table& t, byte_buffer& out);

/// Size in bytes of the table's wire form (without the length prefix).
std::size_t table_encoded_size(const field_table& t) noexcept;

/// One field value as it stands on the wire, pointing into a table's bytes: reading a table
/// this way allocates nothing. `raw` is the value after its tag octet; for 'S', 'x', 'A' and
/// 'F' it is the content after the 4-byte length.
struct field_value_view {
    char tag = 'V';
    bytes_view raw;

    /// 't' as bool (any non-zero octet is true).
    bool as_bool() const noexcept { return tag == 't' && !raw.empty() && raw[0] != 0; }
    /// Any integer tag (b B s u I i l) widened to int64; 0 for other tags. 'i' and 'u' are
    /// unsigned on the wire and fit.
    std::int64_t as_int() const noexcept;
    /// 'f' or 'd' as double; 0 for other tags.
    double as_double() const noexcept;
    /// 'S' or 'x' bytes as a string view; empty for other tags.
    std::string_view as_string() const noexcept {
        return (tag == 'S' || tag == 'x') ? as_string_view(raw) : std::string_view{};
    }
    /// 'F' as a table view (validated along with its parent); empty for other tags.
    table_view as_table() const noexcept { return tag == 'F' ? table_view{raw} : table_view{}; }
    /// The full value model (allocates for strings, arrays and tables).
    field_value to_value() const;
};

/// Take one tagged value (tag octet, then the value; an array element's wire form) off the front
/// of `rest`. False at the end or on malformed bytes.
inline bool next_value(bytes_view& rest, field_value_view& value) noexcept {
    // Inline: it runs once per entry and is a few compares (out of line it doubled the cost of
    // walking RabbitMQ's server-properties). Lengths compared as `n <= end - pos`.
    const std::uint8_t* p = rest.data();
    std::size_t left = rest.size();
    if (left < 1) return false;
    const std::uint8_t tag = p[0];
    ++p;
    --left;
    std::size_t n = 0;
    switch (tag) {
        case 'V': n = 0; break;
        case 't': case 'b': case 'B': n = 1; break;
        case 's': case 'u': n = 2; break;
        case 'I': case 'i': case 'f': n = 4; break;
        case 'D': n = 5; break;
        case 'l': case 'd': case 'T': n = 8; break;
        case 'S': case 'x': case 'A': case 'F':
            if (left < 4) return false;
            n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
            p += 4;
            left -= 4;
            break;
        default: return false;
    }
    if (n > left) return false;
    value.tag = static_cast<char>(tag);
    value.raw = bytes_view(p, n);
    rest = bytes_view(p + n, left - n);
    return true;
}

/// Step through a table's entries: takes the next (name, value) off the front of `rest`
/// (which starts as `t.raw`). False at the end or on malformed bytes (tables from the decoders
/// are validated, so that means the end).
inline bool next_entry(bytes_view& rest, std::string_view& name, field_value_view& value) noexcept {
    if (rest.empty()) return false;
    const std::size_t name_len = rest[0];
    if (name_len + 2 > rest.size()) return false;  // name, then at least the tag octet
    bytes_view after_name = rest.subspan(1 + name_len);
    if (!next_value(after_name, value)) return false;
    name = std::string_view(reinterpret_cast<const char*>(rest.data() + 1), name_len);
    rest = after_name;
    return true;
}

/// Calls `f(name, value)` for each entry of a table, in order, without allocating; stops early
/// when `f` returns false (if it returns bool).
template <class F>
void for_each_entry(table_view t, F&& f) {
    bytes_view rest = t.raw;
    std::string_view name;
    field_value_view v;
    while (next_entry(rest, name, v)) {
        if constexpr (std::is_same_v<decltype(f(name, v)), bool>) {
            if (!f(name, v)) return;
        } else {
            f(name, v);
        }
    }
}

/// The first entry called `name`, e.g. find_entry(caps, "basic.nack").as_bool(); a value with
/// tag 'V' and no bytes when absent (check `found` to tell absent from void).
field_value_view find_entry(table_view t, std::string_view name, bool* found = nullptr) noexcept;

/// One-line human form, e.g. `{product: "RabbitMQ", capabilities: {publisher_confirms: true}}`,
/// for traces and error messages.
std::string to_string(const field_table& t);
std::string to_string(const field_value& v);

}  // namespace amqp
