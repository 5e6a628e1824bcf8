// Field tables and arrays on the wire: validation (no allocation), decoding into the value
// model, and encoding. Type tags are RabbitMQ's errata set (see types.hpp).
//
// Errors: a malformed or unencodable table is reported as an error_code (502 SYNTAX_ERROR) with
// `diagnostics`; nothing here throws except std::bad_alloc where a function allocates.
// Threading: pure functions over the caller's bytes; they may run concurrently.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/types.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
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

/// Decode a (validated or not) table into values, replacing `out`'s contents. Same checks and
/// errors as `validate_table`; on an error `out` holds an unspecified part of the entries. Allocates.
error_code decode_table(table_view t, field_table& out, diagnostics& diag);

/// Append the table's wire bytes (without the 4-byte length prefix) to `out`.
/// 502 SYNTAX_ERROR if a name exceeds 255 bytes, a long string exceeds 2^32-1 bytes, or the
/// nesting exceeds max_table_depth; `out` is then unchanged (the size is checked first). Allocates.
error_code encode_table(const field_table& t, byte_buffer& out);

/// Size in bytes of the table's wire form (without the length prefix), as encode_table writes it
/// when it succeeds.
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
    /// The full value model (allocates for strings, arrays and tables). Malformed bytes give a
    /// void value (views from the decoders are validated, so only a hand-made view can be).
    field_value to_value() const;
};

namespace detail {

// Internal: what follows each type tag on the wire, indexed by the tag octet: 0..8 is a fixed
// size; the rest have a 4-byte length prefix, and bad_tag marks a tag outside RabbitMQ's set.
// One table for the in-place reader here and for validate_table, so the two cannot disagree
// about the grammar. A table rather than a switch: docs/codec-benchmarks.md (field_table.hpp).
enum : std::uint8_t { long_value = 16, nested_table = 17, nested_array = 18, bad_tag = 255 };

inline constexpr std::array<std::uint8_t, 256> value_kinds = [] {
    std::array<std::uint8_t, 256> k{};
    k.fill(bad_tag);
    k['V'] = 0;
    k['t'] = k['b'] = k['B'] = 1;
    k['s'] = k['u'] = 2;
    k['I'] = k['i'] = k['f'] = 4;
    k['D'] = 5;
    k['l'] = k['d'] = k['T'] = 8;
    k['S'] = k['x'] = long_value;
    k['F'] = nested_table;
    k['A'] = nested_array;
    return k;
}();

// The constant 1, hidden from the optimiser: a 1-byte value's size then comes from a branch rather
// than from `value_kinds` (docs/codec-benchmarks.md, field_table.hpp).
[[gnu::always_inline]] inline std::size_t opaque_one() noexcept {
    std::size_t one = 1;
#if defined(__GNUC__)
    asm volatile("" : "+r"(one));
#endif
    return one;
}

// Whether `n` more bytes from `p` stay within `end`, for a small `n` (a name and tag, or a
// fixed-size value: at most 257 bytes). Compared as addresses: `p + n` as a pointer could
// point past the end of the input, which C++ does not allow even unread (and `end - p >= n` is
// dearer: docs/codec-benchmarks.md). Cannot wrap: no object ends within 257 bytes of the top of
// the address space (that is the kernel's, on every platform we build for).
[[gnu::always_inline]] inline bool fits(const std::uint8_t* p, std::size_t n, const std::uint8_t* end) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) + n <= reinterpret_cast<std::uintptr_t>(end);
}
// Whether `p + n` is a readable position (before `end`), under the same terms.
[[gnu::always_inline]] inline bool before(const std::uint8_t* p, std::size_t n, const std::uint8_t* end) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) + n < reinterpret_cast<std::uintptr_t>(end);
}

// The tagged value starting at `p` (p < end): fills `value` and returns the position after it,
// or nullptr when it is malformed. Pointers rather than a span: one position changes per entry.
[[gnu::always_inline]] inline const std::uint8_t* take_value(const std::uint8_t* p, const std::uint8_t* end,
                                                             field_value_view& value) noexcept {
    const std::uint8_t tag = *p++;
    const std::uint8_t kind = value_kinds[tag];
    std::size_t n = kind;
    if (kind == 1) {
        n = opaque_one();
    } else if (kind > 8) {
        if (kind == bad_tag || !fits(p, 4, end)) return nullptr;
        n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
        p += 4;
        // Up to 4 GiB: compared as sizes.
        if (n > static_cast<std::size_t>(end - p)) return nullptr;
        value.tag = static_cast<char>(tag);
        value.raw = bytes_view(p, n);
        return p + n;
    }
    if (!fits(p, n, end)) return nullptr;
    value.tag = static_cast<char>(tag);
    value.raw = bytes_view(p, n);
    return p + n;
}

// The (name, value) entry starting at `p` (p < end), as take_value.
[[gnu::always_inline]] inline const std::uint8_t* take_entry(const std::uint8_t* p, const std::uint8_t* end,
                                                             std::string_view& name, field_value_view& value) noexcept {
    const std::size_t name_len = *p;
    // The name, then at least the tag octet.
    if (!before(p, 1 + name_len, end)) return nullptr;
    const std::uint8_t* next = take_value(p + 1 + name_len, end, value);
    name = std::string_view(reinterpret_cast<const char*>(p + 1), name_len);
    return next;
}

// Out of line, for walk_table: whether `p..end` is a well-formed array at `depth` (the
// validator's own check; arrays are rare in the tables we walk, so no copy of it is inlined).
bool well_formed_array(const std::uint8_t* p, const std::uint8_t* end, std::size_t depth) noexcept;

// Out of line and cold: the detailed walk that says why and where `raw` is malformed, once a
// fast verdict said it is. The one source of validate_table's fault reports (reply code,
// message, offset, field), so that walk_table reports exactly the same.
[[gnu::cold]] error_code explain_table_fault(bytes_view raw, diagnostics& diag) noexcept;

}  // namespace detail

/// Validate `raw` (a table's bytes after its 4-byte length) exactly as validate_table does, and
/// hand each entry to `on_entry(name, value)` as it goes, in one pass: for a table that is
/// read anyway, validating first and then reading it costs a second walk over every byte.
///
/// Entries of nested tables (values tagged 'F') are visited too, right after the entry that
/// holds them and before that entry's next sibling (the order for_each_entry gives when it is
/// called again on each 'F' value). A callback taking a third argument gets the entry's depth:
/// 1 for `raw`'s own entries, 2 inside one of their tables, and so on. An array ('A') is
/// validated in full, tables inside it too, before its entry reaches the callback, so the
/// callback may read it with next_value; the entries of tables inside arrays are not visited.
///
/// Returns what validate_table returns, with the same `diag` on a fault. On a fault the
/// callback has already seen every entry before it (and an 'F' entry whose nested table holds
/// the fault), as rabbitmq-c's amqp_decode_table has already filled its pool: callers must drop
/// what they collected when the result is an error. Allocates nothing itself; exceptions come
/// only from `on_entry`. Uses about 16 * max_table_depth bytes of stack, whatever the nesting.
template <class F>
error_code walk_table(bytes_view raw, diagnostics& diag, F&& on_entry) {
    const std::uint8_t* p = raw.data();
    const std::uint8_t* end = p + raw.size();
    // The tables we are inside: an explicit stack rather than recursion, so the whole walk is
    // one loop, and its size is the depth limit. Each keeps where its walk resumes, known from
    // the nested table's length (why not its end: docs/codec-benchmarks.md, walk_table).
    struct outer_table {
        const std::uint8_t* resume;
        const std::uint8_t* end;
    };
    outer_table outer[max_table_depth];
    std::size_t open = 0;  // nested tables we are inside; the current depth is open + 1
    for (;;) {
        if (p == end) {
            if (open == 0) return {};
            --open;
            p = outer[open].resume;
            end = outer[open].end;
            continue;
        }
        const std::size_t name_len = *p;
        // The name, then at least the tag octet.
        if (!detail::before(p, 1 + name_len, end)) [[unlikely]]
            return detail::explain_table_fault(raw, diag);
        const std::string_view name(reinterpret_cast<const char*>(p + 1), name_len);
        p += 1 + name_len;
        const std::uint8_t tag = *p++;
        const std::uint8_t kind = detail::value_kinds[tag];
        field_value_view value;
        value.tag = static_cast<char>(tag);
        const std::uint8_t* body = p;
        if (kind <= 8) [[likely]] {
            // As in detail::take_value: a 1-byte value's size from the branch, not the table load.
            const std::size_t n = kind == 1 ? detail::opaque_one() : kind;
            if (!detail::fits(p, n, end)) [[unlikely]]
                return detail::explain_table_fault(raw, diag);
            p += n;
            value.raw = bytes_view(body, n);
        } else {
            if (kind == detail::bad_tag || !detail::fits(p, 4, end)) [[unlikely]]
                return detail::explain_table_fault(raw, diag);
            const std::size_t n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) |
                                  p[3];
            p += 4;
            body = p;
            // Up to 4 GiB: compared as sizes.
            if (n > static_cast<std::size_t>(end - p)) [[unlikely]]
                return detail::explain_table_fault(raw, diag);
            p += n;
            value.raw = bytes_view(body, n);
            if (kind == detail::nested_array) {
                if (!detail::well_formed_array(body, p, open + 2)) [[unlikely]]
                    return detail::explain_table_fault(raw, diag);
            } else if (kind == detail::nested_table) {
                if (open + 2 > max_table_depth) [[unlikely]]
                    return detail::explain_table_fault(raw, diag);
            }
        }
        if constexpr (std::is_invocable_v<F&, std::string_view, const field_value_view&, std::size_t>) {
            on_entry(name, static_cast<const field_value_view&>(value), open + 1);
        } else {
            on_entry(name, static_cast<const field_value_view&>(value));
        }
        if (kind == detail::nested_table) {
            // Into the nested table; its parent's walk resumes at `p` when it ends.
            outer[open++] = {p, end};
            end = p;
            p = body;
        }
    }
}

/// Take one tagged value (tag octet, then the value; an array element's wire form) off the front
/// of `rest`. False at the end or on malformed bytes (`rest` is then unchanged).
inline bool next_value(bytes_view& rest, field_value_view& value) noexcept {
    if (rest.empty()) return false;
    const std::uint8_t* end = rest.data() + rest.size();
    const std::uint8_t* next = detail::take_value(rest.data(), end, value);
    if (next == nullptr) return false;
    rest = bytes_view(next, end);
    return true;
}

/// Step through a table's entries: takes the next (name, value) off the front of `rest`
/// (which starts as `t.raw`). False at the end or on malformed bytes (`rest` is then unchanged;
/// tables from the decoders are validated, so that means the end). Every length is checked here
/// too: a table_view can be made from any bytes.
inline bool next_entry(bytes_view& rest, std::string_view& name, field_value_view& value) noexcept {
    if (rest.empty()) return false;
    const std::uint8_t* end = rest.data() + rest.size();
    const std::uint8_t* next = detail::take_entry(rest.data(), end, name, value);
    if (next == nullptr) return false;
    rest = bytes_view(next, end);
    return true;
}

/// Calls `f(name, value)` for each entry of a table, in order, without allocating; stops early
/// when `f` returns false (if it returns bool), and silently at malformed bytes (use walk_table
/// to learn about them). Exceptions come only from `f`.
template <class F>
void for_each_entry(table_view t, F&& f) {
    const std::uint8_t* p = t.raw.data();
    const std::uint8_t* const end = p + t.raw.size();
    std::string_view name;
    field_value_view v;
    while (p != end) {
        p = detail::take_entry(p, end, name, v);
        if (p == nullptr) return;
        if constexpr (std::is_same_v<decltype(f(name, v)), bool>) {
            if (!f(name, v)) return;
        } else {
            f(name, v);
        }
    }
}

/// The first entry called `name`, e.g. find_entry(caps, "basic.nack").as_bool(); a value with
/// tag 'V' and no bytes when absent (check `found` to tell absent from void). Stops silently at
/// malformed bytes, as for_each_entry does.
field_value_view find_entry(table_view t, std::string_view name, bool* found = nullptr) noexcept;

/// One-line human form, e.g. `{product: "RabbitMQ", capabilities: {publisher_confirms: true}}`,
/// for traces and error messages. Strings are printed as they are: escape peer text with
/// amqp::printable() before it reaches a log.
std::string to_string(const field_table& t);
std::string to_string(const field_value& v);

}  // namespace amqp
