// A whole delivered message in one pass: the basic.deliver method frame, its content header
// frame and its body frame, as RabbitMQ sends them for every message a consumer receives.
// The frame-by-frame path (decode_frame, decode_method, decode_content_header) decodes any
// input and names every fault; this one decodes the common shape only, and faster: one
// output struct instead of a method variant, three frames checked together.
//
// Errors: none reported; decode_delivery answers "decoded" or "not decoded here" (then the
// frame-by-frame path says what is wrong). Nothing here throws or allocates.
// Threading: decode_delivery is pure; a delivery_view is a value with one owner at a time.
#pragma once

#include <amqp/codec/detail/property_list.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>

namespace amqp {

namespace detail {
struct delivery_access;
}

/// A delivered message, as views into the decoded input: valid as long as those bytes are (for the
/// connection machine's events, until its next `feed`/`next_event`). Only `decode_delivery` writes
/// it, which lets it clear just the properties the previous message had rather than all fourteen;
/// reuse one view for a stream of messages.
class delivery_view {
public:
    std::uint16_t channel() const noexcept { return channel_; }
    const basic_deliver& deliver() const noexcept { return deliver_; }
    const basic_properties& properties() const noexcept { return properties_; }
    bytes_view body() const noexcept { return body_; }

private:
    friend struct detail::delivery_access;

    std::uint16_t channel_ = 0;
    /// Flag bits (as in the content header) of every property that may be engaged in
    /// `properties_`: a superset of the engaged ones, even after a decode that failed.
    std::uint16_t maybe_present_ = 0;
    basic_deliver deliver_;
    basic_properties properties_;
    bytes_view body_;
};

/// Decode, from the front of `in`, a basic.deliver method frame, its content header frame and
/// its body frame (none for an empty body), all three on one channel other than 0. Returns the
/// bytes they take, or 0 when it did not decode them: 0 is not a verdict on the bytes, which
/// may be malformed, incomplete, another method, or a body split over several frames. Decode
/// them frame by frame then, which says which.
///
/// What it accepts, the frame-by-frame path accepts with the same values, and every check of
/// that path and of the connection's content assembly is made: frame types, sizes against
/// `frame_max` (raised to 4096 when below), frame-end octets, argument and property lengths,
/// no trailing bytes, a headers table that validates, class 60 and weight 0 in the header, and
/// a body frame as long as the header's body size. Never reads outside `in`; no allocation.
/// On 0, `out` holds unspecified values.
inline std::size_t decode_delivery(bytes_view in, std::uint32_t frame_max, delivery_view& out) noexcept;

// How decode_delivery works: one pass over the three frames. Every frame's end octet is
// checked before its payload is read, so each payload is followed by one readable byte: a
// length octet read at the payload's end is in bounds (and fails the length check), which
// saves a separate "is a byte left" test per string.
namespace detail {

/// The view's writer: decode_delivery's parts are free functions.
struct delivery_access {
    static std::uint16_t& maybe_present(delivery_view& v) noexcept { return v.maybe_present_; }
    static basic_properties& properties(delivery_view& v) noexcept { return v.properties_; }
    static basic_deliver& deliver(delivery_view& v) noexcept { return v.deliver_; }
    static void finish(delivery_view& v, std::uint16_t channel, bytes_view body) noexcept {
        v.channel_ = channel;
        v.body_ = body;
    }
};

/// Whether `raw` is a valid field table (out of line: only a headers property needs it).
bool table_validates(bytes_view raw) noexcept;
/// decode_delivery for a message with a headers table (out of line, rarely taken).
std::size_t decode_delivery_with_tables(bytes_view in, std::uint32_t frame_max, delivery_view& out) noexcept;

/// The headers property's flag bit.
inline constexpr std::uint16_t headers_bit = 1u << 13;

// The payload end (the frame-end octet's position) of the frame at `p`, which has at least 8
// bytes before `e`, if it is whole and well-formed and its type and channel octets, read as a
// little-endian word, are `type_channel`; else nullptr. `size` gets the payload size.
[[gnu::always_inline]] inline const std::uint8_t* whole_frame_at(const std::uint8_t* p, const std::uint8_t* e,
                                                                 std::uint32_t type_channel, std::uint32_t max_payload,
                                                                 std::uint32_t& size) noexcept {
    if ((boost::endian::load_little_u32(p) & 0xFFFFFFu) != type_channel) return nullptr;
    size = boost::endian::load_big_u32(p + 3);
    // size + 8 <= e - p, written so that nothing can wrap.
    if (size > max_payload || size >= static_cast<std::size_t>(e - p) - frame_header_size) return nullptr;
    const std::uint8_t* end = p + frame_header_size + size;
    return *end == frame_end ? end : nullptr;
}
[[gnu::always_inline]] inline const std::uint8_t* whole_frame(const std::uint8_t* p, const std::uint8_t* e,
                                                              std::uint32_t type_channel, std::uint32_t max_payload,
                                                              std::uint32_t& size) noexcept {
    if (e - p < static_cast<std::ptrdiff_t>(frame_overhead)) return nullptr;
    return whole_frame_at(p, e, type_channel, max_payload, size);
}

// Reads the present properties from [q, end), where *end is readable (the frame-end octet),
// and engages them; absent ones are left alone (the caller disengaged the stale ones). With
// `tables`, the headers table too; without, the caller has checked that it is absent.
template <bool tables>
class delivery_property_reader {
public:
    delivery_property_reader(const std::uint8_t* q, const std::uint8_t* end, std::uint16_t flags) noexcept
        : q_(q), end_(end), flags_(flags) {}

    [[gnu::always_inline]] bool shortstr(int bit, const char*, std::optional<std::string_view>& p) noexcept {
        if (!present(bit)) [[likely]]
            return true;
        const std::size_t n = *q_;
        if (n >= left()) return false;
        std::construct_at(&p, std::string_view(reinterpret_cast<const char*>(q_ + 1), n));
        q_ += 1 + n;
        return true;
    }
    [[gnu::always_inline]] bool u8(int bit, const char*, std::optional<std::uint8_t>& p) noexcept {
        if (!present(bit)) [[likely]]
            return true;
        if (q_ == end_) return false;
        std::construct_at(&p, *q_++);
        return true;
    }
    [[gnu::always_inline]] bool u64(int bit, const char*, std::optional<std::uint64_t>& p) noexcept {
        if (!present(bit)) [[likely]]
            return true;
        if (left() < 8) return false;
        std::construct_at(&p, boost::endian::load_big_u64(q_));
        q_ += 8;
        return true;
    }
    [[gnu::always_inline]] bool table(int bit, const char*, std::optional<table_view>& p) noexcept {
        if constexpr (tables) {
            if (!present(bit)) [[likely]]
                return true;
            if (left() < 4) return false;
            const std::uint32_t n = boost::endian::load_big_u32(q_);
            if (n > left() - 4) return false;
            const bytes_view raw(q_ + 4, n);
            if (!table_validates(raw)) return false;
            std::construct_at(&p, table_view{raw});
            q_ += 4 + std::size_t{n};
        }
        return true;
    }
    bool at_end() const noexcept { return q_ == end_; }

private:
    // A message usually carries few properties: the bits are tested in three groups, 15..11,
    // 10..9 (correlation-id and reply-to, what RPC carries) and 8..2, and a group with none
    // set costs one test (docs/codec-benchmarks.md, delivery.hpp).
    [[gnu::always_inline]] bool present(int bit) const noexcept {
        if (bit >= 11 ? none_high_ : bit <= 8 ? none_low_ : false) return false;
        return (flags_ >> bit) & 1u;
    }
    [[gnu::always_inline]] std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - q_); }

    const std::uint8_t* q_;
    const std::uint8_t* end_;
    std::uint16_t flags_;
    bool none_high_ = (flags_ & 0xF800u) == 0;
    bool none_low_ = (flags_ & 0x01FCu) == 0;
};

// Disengages the properties whose bits are set in `mask`.
class delivery_property_clearer {
public:
    explicit delivery_property_clearer(std::uint16_t mask) noexcept : mask_(mask) {}
    template <class T>
    bool shortstr(int bit, const char*, std::optional<T>& p) const noexcept {
        return clear(bit, p);
    }
    template <class T>
    bool u8(int bit, const char*, std::optional<T>& p) const noexcept {
        return clear(bit, p);
    }
    template <class T>
    bool u64(int bit, const char*, std::optional<T>& p) const noexcept {
        return clear(bit, p);
    }
    template <class T>
    bool table(int bit, const char*, std::optional<T>& p) const noexcept {
        return clear(bit, p);
    }

private:
    template <class T>
    bool clear(int bit, std::optional<T>& p) const noexcept {
        if ((mask_ >> bit) & 1u) std::construct_at(&p);  // trivially destructible: a plain store
        return true;
    }
    std::uint16_t mask_;
};

static_assert(std::is_trivially_destructible_v<basic_properties>);

// Makes the engaged properties exactly those of `flags`, once read. The properties the last
// message had and this one lacks are disengaged first (usually none: a stream of replies or
// requests carries the same properties each time), so that only the present ones cost.
template <bool tables>
[[gnu::always_inline]] inline bool read_delivery_properties(const std::uint8_t* q, const std::uint8_t* end,
                                                            std::uint16_t flags, delivery_view& out) noexcept {
    basic_properties& props = delivery_access::properties(out);
    std::uint16_t& maybe = delivery_access::maybe_present(out);
    if (const std::uint16_t stale = maybe & ~flags; stale != 0) [[unlikely]] {
        const delivery_property_clearer clear(stale);
        for_each_property(props, clear);
    }
    maybe = flags;  // a superset of the engaged ones from here on, even if reading fails
    delivery_property_reader<tables> r(q, end, flags);
    return for_each_property(props, r) && r.at_end();
}

// With `tables`, any properties; without, a message with a headers table goes to the
// general form (a tail call: docs/codec-benchmarks.md, delivery.hpp).
template <bool tables>
[[gnu::always_inline]] inline std::size_t decode_delivery_as(bytes_view in, std::uint32_t frame_max,
                                                             delivery_view& out) noexcept {
    const std::uint32_t max_payload = std::max(frame_max, frame_min_size) - static_cast<std::uint32_t>(frame_overhead);
    const std::uint8_t* const start = in.data();
    const std::uint8_t* const e = start + in.size();
    if (in.size() < frame_overhead) return 0;
    // The channel's two octets as they are on the wire, shifted past the type octet.
    const std::uint32_t on_channel = std::uint32_t{boost::endian::load_little_u16(start + 1)} << 8;
    if (on_channel == 0) return 0;  // content belongs on a channel (the connection answers 503)

    // basic.deliver: ids, consumer-tag, delivery-tag, redelivered, exchange, routing-key.
    std::uint32_t size = 0;
    const std::uint8_t* const m_end = whole_frame_at(start, e, 1u | on_channel, max_payload, size);
    if (m_end == nullptr) return 0;
    const std::uint8_t* q = start + frame_header_size;
    // 4 ids, 1 + 0 consumer-tag, 8 delivery-tag, 1 bits, 1 + 0 exchange, 1 + 0 routing-key.
    constexpr std::uint32_t min_payload = 16;
    if (size < min_payload || boost::endian::load_big_u32(q) !=
                                  (std::uint32_t{basic_deliver::class_index} << 16 | basic_deliver::method_index))
        return 0;
    basic_deliver& d = delivery_access::deliver(out);
    // The consumer tag leaves room for the fixed fields and the other two length octets.
    std::size_t n = q[4];
    if (n > size - min_payload) return 0;
    d.consumer_tag = std::string_view(reinterpret_cast<const char*>(q + 5), n);
    q += 5 + n;
    d.delivery_tag = boost::endian::load_big_u64(q);
    d.redelivered = (q[8] & 1u) != 0;
    q += 9;
    // The exchange leaves room for the routing key's length octet...
    n = *q;
    if (n >= static_cast<std::size_t>(m_end - q) - 1) return 0;
    d.exchange = std::string_view(reinterpret_cast<const char*>(q + 1), n);
    q += 1 + n;
    // ...and the routing key ends the payload exactly.
    n = *q;
    if (n + 1 != static_cast<std::size_t>(m_end - q)) return 0;
    d.routing_key = std::string_view(reinterpret_cast<const char*>(q + 1), n);

    // Content header: class 60, weight 0, body size, flags, properties.
    const std::uint8_t* const h = m_end + 1;
    const std::uint8_t* const h_end = whole_frame(h, e, 2u | on_channel, max_payload, size);
    if (h_end == nullptr) return 0;
    q = h + frame_header_size;
    if (size < fixed_part || boost::endian::load_big_u32(q) != std::uint32_t{basic_deliver::class_index} << 16)
        return 0;
    const std::uint64_t body_size = boost::endian::load_big_u64(q + 4);
    const std::uint16_t flags = boost::endian::load_big_u16(q + 12);
    if ((flags & 3u) != 0) return 0;  // bit 0: a second flags word; bit 1: no such property
    if constexpr (!tables) {
        if ((flags & headers_bit) != 0) [[unlikely]]
            return decode_delivery_with_tables(in, frame_max, out);
    }
    if (!read_delivery_properties<tables>(q + fixed_part, h_end, flags, out)) return 0;

    const std::uint16_t channel = boost::endian::load_big_u16(start + 1);
    const std::uint8_t* const b = h_end + 1;
    if (body_size == 0) {
        delivery_access::finish(out, channel, {});
        return static_cast<std::size_t>(b - start);
    }
    // One body frame, exactly as long as the header says: its 7 header octets are known, and
    // are compared as one word (with the payload's first octet masked off).
    if (e - b < static_cast<std::ptrdiff_t>(frame_overhead) || body_size > max_payload ||
        body_size >= static_cast<std::uint64_t>(e - b) - frame_header_size)
        return 0;
    const std::uint32_t size_octets = boost::endian::endian_reverse(static_cast<std::uint32_t>(body_size));
    const std::uint64_t body_header = std::uint64_t{3u | on_channel} | std::uint64_t{size_octets} << 24;
    if ((boost::endian::load_little_u64(b) & 0x00FF'FFFF'FFFF'FFFFu) != body_header ||
        b[frame_header_size + body_size] != frame_end)
        return 0;
    const std::uint8_t* const b_end = b + frame_header_size + body_size;
    delivery_access::finish(out, channel, bytes_view(b + frame_header_size, static_cast<std::size_t>(body_size)));
    return static_cast<std::size_t>(b_end + 1 - start);
}

}  // namespace detail

// Inline, as decode_frame is: it runs once per message (docs/codec-benchmarks.md).
inline std::size_t decode_delivery(bytes_view in, std::uint32_t frame_max, delivery_view& out) noexcept {
    return detail::decode_delivery_as<false>(in, frame_max, out);
}

}  // namespace amqp
