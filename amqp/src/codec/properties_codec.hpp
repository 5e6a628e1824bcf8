// Internal: content-header payload encoding straight from a basic_properties, for the message
// encoder (building a content_header just to encode it copied ~300 bytes per message). Inline,
// so that the walks over the 14 properties (amqp/detail/property_list.hpp) are compiled into
// the encoders rather than being calls.
#pragma once

#include "wire_writer.hpp"

#include <amqp/detail/property_list.hpp>
#include <amqp/field_table.hpp>
#include <amqp/properties.hpp>

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace amqp::detail {

/// class (2), weight (2), body size (8), property flags (2).
inline constexpr std::size_t fixed_part = 14;

// Sizes and checks in one pass.
class property_sizer {
public:
    [[gnu::always_inline]] bool shortstr(int, const char*, const std::optional<std::string_view>& p) noexcept {
        if (p) {
            size_ += 1 + p->size();
            ok_ &= p->size() <= 255;
        }
        return true;
    }
    [[gnu::always_inline]] bool u8(int, const char*, const std::optional<std::uint8_t>& p) noexcept {
        if (p) size_ += 1;
        return true;
    }
    [[gnu::always_inline]] bool u64(int, const char*, const std::optional<std::uint64_t>& p) noexcept {
        if (p) size_ += 8;
        return true;
    }
    [[gnu::always_inline]] bool table(int, const char*, const std::optional<table_view>& p) noexcept {
        if (p) {
            size_ += 4 + p->raw.size();
            ok_ &= p->raw.size() <= std::numeric_limits<std::uint32_t>::max();
        }
        return true;
    }
    std::size_t size() const noexcept { return size_; }
    bool ok() const noexcept { return ok_; }

private:
    std::size_t size_ = 0;
    bool ok_ = true;
};

// Writes the present properties and collects their flag bits on the way.
class property_writer {
public:
    explicit property_writer(std::uint8_t* out) noexcept : w_(out) {}
    [[gnu::always_inline]] bool shortstr(int bit, const char*, const std::optional<std::string_view>& p) noexcept {
        if (p) w_.shortstr(*p), flag(bit);
        return true;
    }
    [[gnu::always_inline]] bool u8(int bit, const char*, const std::optional<std::uint8_t>& p) noexcept {
        if (p) w_.u8(*p), flag(bit);
        return true;
    }
    [[gnu::always_inline]] bool u64(int bit, const char*, const std::optional<std::uint64_t>& p) noexcept {
        if (p) w_.u64(*p), flag(bit);
        return true;
    }
    [[gnu::always_inline]] bool table(int bit, const char*, const std::optional<table_view>& p) noexcept {
        if (p) w_.longbytes(p->raw.data(), p->raw.size()), flag(bit);
        return true;
    }
    std::uint16_t flags() const noexcept { return flags_; }

private:
    void flag(int bit) noexcept { flags_ = static_cast<std::uint16_t>(flags_ | (1u << bit)); }
    detail::wire_writer w_;
    std::uint16_t flags_ = 0;
};

// Upper bound of the bytes for_each_property can write, the headers table aside (its size is
// the caller's): every shortstr at its 256-octet maximum, and the fixed-size ones.
class property_bound {
public:
    constexpr bool shortstr(int, const char*, const std::optional<std::string_view>&) noexcept { return add(256); }
    constexpr bool u8(int, const char*, const std::optional<std::uint8_t>&) noexcept { return add(1); }
    constexpr bool u64(int, const char*, const std::optional<std::uint64_t>&) noexcept { return add(8); }
    constexpr bool table(int, const char*, const std::optional<table_view>&) noexcept { return true; }
    std::size_t size = 0;

private:
    constexpr bool add(std::size_t n) noexcept {
        size += n;
        return true;
    }
};

/// The most octets the properties other than `headers` can take on the wire (2826).
inline constexpr std::size_t max_untabled_properties_size = [] {
    basic_properties p;
    property_bound b;
    for_each_property(p, b);
    return b.size;
}();

/// Writes the present properties and collects their flag bits in the same pass, into room
/// the caller reserved for the worst case (max_untabled_properties_size plus the headers
/// table, whose length the caller checked); stops at a shortstr over 255 octets.
class checked_property_writer {
public:
    explicit checked_property_writer(std::uint8_t* out) noexcept : w_(out) {}
    [[gnu::always_inline]] bool shortstr(int bit, const char*, const std::optional<std::string_view>& p) noexcept {
        if (p) {
            if (p->size() > 255) [[unlikely]]
                return false;
            w_.shortstr(*p), flag(bit);
        }
        return true;
    }
    [[gnu::always_inline]] bool u8(int bit, const char*, const std::optional<std::uint8_t>& p) noexcept {
        if (p) w_.u8(*p), flag(bit);
        return true;
    }
    [[gnu::always_inline]] bool u64(int bit, const char*, const std::optional<std::uint64_t>& p) noexcept {
        if (p) w_.u64(*p), flag(bit);
        return true;
    }
    [[gnu::always_inline]] bool table(int bit, const char*, const std::optional<table_view>& p) noexcept {
        if (p) w_.longbytes(p->raw.data(), p->raw.size()), flag(bit);
        return true;
    }
    std::uint8_t* position() const noexcept { return w_.position(); }
    std::uint16_t flags() const noexcept { return flags_; }

private:
    void flag(int bit) noexcept { flags_ = static_cast<std::uint16_t>(flags_ | (1u << bit)); }
    wire_writer w_;
    std::uint16_t flags_ = 0;
};

/// Payload size of a content header carrying `p`; 0 when a property cannot be encoded
/// (a shortstr over 255 bytes, a table over 2^32-1): a valid payload is never below 14.
[[gnu::always_inline]] inline std::size_t header_payload_size_checked(const basic_properties& p) noexcept {
    property_sizer s;
    for_each_property(p, s);
    return s.ok() ? fixed_part + s.size() : 0;
}

/// Write the payload (class, weight, body size, flags, properties); `p` passed the check above.
[[gnu::always_inline]] inline void write_header_payload(std::uint8_t* out, std::uint16_t class_index, std::uint16_t weight,
                                 std::uint64_t body_size, const basic_properties& p) noexcept {
    wire_writer w(out);
    w.u16(class_index);
    w.u16(weight);
    w.u64(body_size);
    property_writer pw(out + fixed_part);
    for_each_property(p, pw);
    // The flags precede the properties but are known only after writing them.
    boost::endian::store_big_u16(out + fixed_part - 2, pw.flags());
}

}  // namespace amqp::detail
