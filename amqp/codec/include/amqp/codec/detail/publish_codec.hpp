// Internal: basic.publish encoded in one pass, inline so that `encode_publish` (message.hpp)
// compiles into its caller, and the pieces it needs: the properties' worst-case size and a
// property writer that checks as it writes. Not part of the API.
// Errors: put_publish reports through `ec` (502/501 as append_message does); nothing throws or
// allocates. Threading: pure functions over the caller's buffer.
#pragma once

#include <amqp/codec/detail/property_list.hpp>
#include <amqp/codec/detail/wire_writer.hpp>
#include <amqp/codec/error.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace amqp::detail {

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

/// The most octets the properties other than `headers` can take on the wire: 2570 (ten
/// shortstrs of 1 + 255, two octets, a timestamp).
inline constexpr std::size_t max_untabled_properties_size = [] {
    basic_properties p;
    property_bound b;
    for_each_property(p, b);
    return b.size;
}();
static_assert(max_untabled_properties_size == 10 * 256 + 1 + 1 + 8);

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

/// The bytes of the body frames for a body of `body_size` under `frame_max`.
inline std::size_t body_frames_size(std::size_t body_size, std::uint32_t frame_max) noexcept {
    const std::size_t chunk = std::max(frame_max, frame_min_size) - frame_overhead;
    // At most one body frame is the usual case, and the division costs more than the rest.
    if (body_size <= chunk) return body_size + (body_size != 0 ? frame_overhead : 0);
    const std::size_t frames = body_size / chunk + (body_size % chunk != 0 ? 1 : 0);
    return body_size + frames * frame_overhead;
}

// Body frames of at most max_payload bytes each from `p` on; returns the end.
[[gnu::always_inline]] inline std::uint8_t* put_body_frames(std::uint8_t* p, std::uint16_t channel, bytes_view body,
                                                            std::size_t max_payload) noexcept {
    for (std::size_t off = 0; off < body.size(); off += max_payload) {
        const std::size_t n = std::min(max_payload, body.size() - off);
        write_frame_header(p, frame_type::body, channel, static_cast<std::uint32_t>(n));
        wire_writer(p + frame_header_size).raw(body.data() + off, n);
        p += frame_header_size + n;
        *p++ = frame_end;
    }
    return p;
}

// The bytes a basic.publish message can take at most: every property at its largest (the
// headers table and the body as they are). 0 when an argument cannot be encoded at all.
[[gnu::always_inline]] inline std::size_t publish_bound(const basic_publish& m, const basic_properties& props,
                                                        std::size_t body_size, std::uint32_t frame_max) noexcept {
    const std::size_t exchange = m.exchange.size();
    const std::size_t routing_key = m.routing_key.size();
    const std::size_t table = props.headers ? props.headers->raw.size() : 0;
    if ((exchange | routing_key) > 255 || table > std::numeric_limits<std::uint32_t>::max()) [[unlikely]]
        return 0;
    // ids (4), reserved-1 (2), the two shortstr lengths (2), the mandatory/immediate octet (1).
    return 2 * frame_overhead + 9 + exchange + routing_key + fixed_part + max_untabled_properties_size + 4 + table +
           body_frames_size(body_size, frame_max);
}

// basic.publish, the message a client sends on every call, in one pass at `p`, which has
// room for publish_bound(...) bytes: the properties are checked, written and flagged in a
// single walk over the fourteen, and the frame sizes and the flags are stored once known.
// The fixed parts go eight octets at a time. Returns the end of what was written, or null
// with `ec` set (and nothing to undo: the caller's buffer only has bytes past its contents).
[[gnu::always_inline]] inline std::uint8_t* put_publish(std::uint8_t* p, std::uint16_t channel, const basic_publish& m,
                                                        const basic_properties& props, bytes_view body,
                                                        std::uint32_t frame_max, error_code& ec) noexcept {
    using boost::endian::store_big_u16;
    using boost::endian::store_big_u32;
    using boost::endian::store_big_u64;
    const std::size_t exchange = m.exchange.size();
    const std::size_t max_payload = std::max(frame_max, frame_min_size) - frame_overhead;
    // At most 519 octets, which fits any frame_max.
    const std::size_t method_payload = 9 + exchange + m.routing_key.size();
    const std::size_t n = body.size();
    const std::uint64_t ch = std::uint64_t{channel} << 40;
    // Method frame header (type 1, channel, size) and the class id's high octet; then the class
    // id's low octet, the method id, reserved-1, the exchange's length and two octets that the
    // exchange or the routing key overwrite (the payload is at least nine octets).
    store_big_u64(p, (std::uint64_t{1} << 56) | ch | (std::uint64_t{method_payload} << 8));
    store_big_u64(p + 8, (std::uint64_t{basic_publish::class_index & 0xFF} << 56) |
                             (std::uint64_t{basic_publish::method_index} << 40) | (std::uint64_t{m.reserved_1} << 24) |
                             (std::uint64_t{exchange} << 16));
    wire_writer w(p + 14);
    w.raw(m.exchange.data(), exchange);
    w.shortstr(m.routing_key);
    p = w.position();
    store_big_u16(p, static_cast<std::uint16_t>(((m.mandatory ? 1u : 0u) | (m.immediate ? 2u : 0u)) << 8 | frame_end));
    // Header frame: type 2, channel, size (stored below), class id (2), weight (2), body size
    // (8), flags (2, stored below), properties.
    std::uint8_t* const header = p + 2;
    store_big_u32(header + 7, std::uint32_t{basic_publish::class_index} << 16);
    store_big_u64(header + 11, n);
    checked_property_writer pw(header + frame_header_size + fixed_part);
    if (!for_each_property(props, pw)) [[unlikely]] {
        ec = reply_code::syntax_error;
        return nullptr;
    }
    p = pw.position();
    const std::size_t header_payload = static_cast<std::size_t>(p - header) - frame_header_size;
    // The peer would answer an oversized header frame with 501; fail here instead.
    if (header_payload > max_payload) [[unlikely]] {
        ec = reply_code::frame_error;
        return nullptr;
    }
    store_big_u64(header, (std::uint64_t{2} << 56) | ch | (std::uint64_t{header_payload} << 8));
    store_big_u16(header + frame_header_size + fixed_part - 2, pw.flags());
    if (n - 1 < max_payload) [[likely]] {
        // One body frame: the header's frame end and the body frame's header in one store.
        store_big_u64(p, (std::uint64_t{frame_end} << 56) | (std::uint64_t{3} << 48) | (ch >> 8) | n);
        wire_writer(p + 8).raw(body.data(), n);
        p[8 + n] = frame_end;
        return p + 1 + frame_overhead + n;
    }
    *p = frame_end;
    return put_body_frames(p + 1, channel, body, max_payload);
}

}  // namespace amqp::detail
