// AMQP 0-9-1 domain types: the value model for field tables and arrays, and the raw
// views the decoders hand out. Pure data; no I/O.
// Threading: plain values; concurrent reads of one object are safe, a write needs one owner.
// Errors: only std::bad_alloc (allocation) and std::bad_variant_access (field_value::get).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace amqp {

/// A span of raw bytes (input to decoders, output of encoders).
using bytes_view = std::span<const std::uint8_t>;
/// std::allocator, except that a value-initialised element is left uninitialised: resize(n)
/// and the buffer(n) constructor do not zero-fill: an encoder grows its output by a size it
/// computed and then writes every byte, so a fill would be wasted work.
template <class T>
struct default_init_allocator : std::allocator<T> {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = default_init_allocator<U>;
    };
    default_init_allocator() = default;
    template <class U>
    default_init_allocator(const default_init_allocator<U>&) noexcept {}
    // Out of line to silence false compiler warnings (docs/codec-benchmarks.md, types.hpp).
    [[gnu::noinline]] T* allocate(std::size_t n) { return std::allocator<T>::allocate(n); }
    [[gnu::noinline]] void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>::deallocate(p, n); }
    /// Default-initialisation: for bytes, nothing is written.
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
};

/// A growable byte buffer. resize() leaves new bytes unspecified (see default_init_allocator):
/// write them, or use resize(n, 0).
using byte_buffer = std::vector<std::uint8_t, default_init_allocator<std::uint8_t>>;

/// Append `bytes` to `b` as one copy (not vector::insert: docs/codec-benchmarks.md). The
/// capacity grows geometrically. Throws std::bad_alloc if `b` cannot grow.
inline void append(byte_buffer& b, bytes_view bytes) {
    if (bytes.empty()) return;
    const std::size_t at = b.size();
    b.resize(at + bytes.size());
    std::memcpy(b.data() + at, bytes.data(), bytes.size());
}

/// Reinterpret a string's characters as bytes (AMQP strings are byte strings).
inline bytes_view as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
/// Reinterpret bytes as a string view (no copy, no UTF-8 check: AMQP strings are octets).
inline std::string_view as_string_view(bytes_view b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Decimal value, tag 'D': value × 10^-scale.
struct decimal {
    std::uint8_t scale = 0;
    std::int32_t value = 0;
    friend bool operator==(const decimal&, const decimal&) = default;
};

/// Timestamp, tag 'T': seconds since the Unix epoch (64-bit, POSIX time_t).
struct timestamp {
    std::uint64_t seconds = 0;
    friend bool operator==(const timestamp&, const timestamp&) = default;
};

/// Byte array, tag 'x' (RabbitMQ extension): a long string that is not text.
struct byte_array {
    std::string data;
    friend bool operator==(const byte_array&, const byte_array&) = default;
};

struct field_value;

/// A field table: ordered (name, value) pairs. Order is kept so that encode(decode(b)) == b.
/// Names are short strings (at most 255 bytes, checked on encode).
using field_table = std::vector<std::pair<std::string, field_value>>;
/// A field array, tag 'A'.
using field_array = std::vector<field_value>;

/// One value of a field table or array, tagged by RabbitMQ's errata type tags
/// (https://www.rabbitmq.com/amqp-0-9-1-errata.html#section_3), as rabbitmq-c and pamqp use them:
///
/// | tag | alternative | tag | alternative |
/// |-----|-------------|-----|-------------|
/// | t   | bool        | f   | float       |
/// | b   | int8_t      | d   | double      |
/// | B   | uint8_t     | D   | decimal     |
/// | s   | int16_t     | S   | std::string (long string) |
/// | u   | uint16_t    | A   | field_array |
/// | I   | int32_t     | T   | timestamp   |
/// | i   | uint32_t    | F   | field_table |
/// | l   | int64_t     | V   | std::monostate (void) |
/// | x   | byte_array  |     |             |
struct field_value {
    using variant_type = std::variant<std::monostate, bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                                      std::int32_t, std::uint32_t, std::int64_t, float, double, decimal, std::string,
                                      field_array, timestamp, field_table, byte_array>;
    variant_type value;

    field_value() = default;
    template <class T>
    requires std::is_constructible_v<variant_type, T&&> &&
        (!std::is_same_v<std::remove_cvref_t<T>, field_value>)field_value(T&& v)
        : value(std::forward<T>(v)) {}
    /// A C string literal is a long string ('S'), not a bool.
    field_value(const char* s) : value(std::string(s)) {}

    /// The type tag this value is encoded with ('V' for std::monostate).
    char tag() const noexcept;

    template <class T>
    bool is() const noexcept {
        return std::holds_alternative<T>(value);
    }
    /// Throws std::bad_variant_access if the value is not a T.
    template <class T>
    const T& get() const {
        return std::get<T>(value);
    }
    /// nullptr if the value is not a T.
    template <class T>
    const T* get_if() const noexcept {
        return std::get_if<T>(&value);
    }

    friend bool operator==(const field_value&, const field_value&) = default;
};

/// Find a field by name (first match, byte-wise comparison), or nullptr. Linear in the table's size.
const field_value* find_field(const field_table& t, std::string_view name) noexcept;

/// A field table as it stands on the wire: the bytes after the 4-byte length prefix, already
/// validated by the decoder that produced it (or produced by `encode_table`). Decoding a method
/// does not build a `field_table` (no allocation); call `decode_table` when you need the values.
/// A view: valid as long as the bytes it points into.
struct table_view {
    bytes_view raw;
    bool empty() const noexcept { return raw.empty(); }
    friend bool operator==(const table_view& a, const table_view& b) noexcept {
        return a.raw.size() == b.raw.size() && std::equal(a.raw.begin(), a.raw.end(), b.raw.begin());
    }
};

}  // namespace amqp
