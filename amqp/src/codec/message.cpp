// Whole frames: a method frame, or method + content header + body frames in one buffer.
#include "method_codec.hpp"
#include "properties_codec.hpp"
#include "wire_writer.hpp"

#include <amqp/frame.hpp>
#include <amqp/message.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace amqp {
namespace {

std::size_t body_frames_size(std::size_t body_size, std::uint32_t frame_max) noexcept {
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
        detail::wire_writer(p + frame_header_size).raw(body.data() + off, n);
        p += frame_header_size + n;
        *p++ = frame_end;
    }
    return p;
}

// Write one frame around a payload written by `fill` (which gets the payload's start).
template <class F>
error_code put_frame(std::uint8_t*& p, frame_type type, std::uint16_t channel, std::size_t payload,
                          F&& fill) noexcept {
    write_frame_header(p, type, channel, static_cast<std::uint32_t>(payload));
    if (auto ec = fill(p + frame_header_size)) return ec;
    p += frame_header_size + payload;
    *p++ = frame_end;
    return {};
}

}  // namespace

std::size_t method_frame_size(const method& m) noexcept { return frame_overhead + method_payload_size(m); }

error_code append_method_frame(byte_buffer& out, std::uint16_t channel, const method& m) {
    const std::size_t payload = method_payload_size(m);
    const std::size_t old = out.size();
    out.resize(old + frame_overhead + payload);
    std::uint8_t* p = out.data() + old;
    if (auto ec = put_frame(p, frame_type::method, channel, payload,
                            [&](std::uint8_t* at) { return encode_method(m, at); })) {
        out.resize(old);
        return ec;
    }
    return {};
}

std::size_t message_size(const method& m, const basic_properties& props, std::size_t body_size,
                         std::uint32_t frame_max) noexcept {
    content_header h;
    h.body_size = body_size;
    h.properties = props;
    return method_frame_size(m) + frame_overhead + content_header_payload_size(h) +
           body_frames_size(body_size, frame_max);
}

namespace {

// One message, with the method's type known: sizes and checks first, then one resize and
// straight writes (no content_header temporary, one pass per part).
template <class T>
error_code append_message_as(byte_buffer& out, std::uint16_t channel, const T& m, const basic_properties& props,
                             bytes_view body, std::uint32_t frame_max) {
    if constexpr (!T::has_content) {
        return reply_code::command_invalid;
    } else {
        frame_max = std::max(frame_max, frame_min_size);
        const std::size_t max_payload = frame_max - frame_overhead;
        if (!detail::method_encodable(m)) return reply_code::syntax_error;
        const std::size_t header_payload = detail::header_payload_size_checked(props);
        if (header_payload == 0) return reply_code::syntax_error;
        const std::size_t method_payload = detail::method_size(m);
        // The peer would answer an oversized method or header frame with 501; fail here instead.
        if (method_payload > max_payload || header_payload > max_payload) return reply_code::frame_error;

        const std::size_t old = out.size();
        out.resize(old + 2 * frame_overhead + method_payload + header_payload +
                   body_frames_size(body.size(), frame_max));
        std::uint8_t* p = out.data() + old;
        write_frame_header(p, frame_type::method, channel, static_cast<std::uint32_t>(method_payload));
        detail::write_method(m, p + frame_header_size);
        p += frame_header_size + method_payload;
        *p++ = frame_end;
        write_frame_header(p, frame_type::header, channel, static_cast<std::uint32_t>(header_payload));
        detail::write_header_payload(p + frame_header_size, T::class_index, 0, body.size(), props);
        p += frame_header_size + header_payload;
        *p++ = frame_end;
        put_body_frames(p, channel, body, max_payload);
        return {};
    }
}

// basic.publish, the message a client sends on every call, in one pass: `out` grows by an
// upper bound first (byte_buffer does not zero-fill, so that costs nothing but capacity), the
// properties are checked, written and flagged in a single walk over the fourteen, the frame
// sizes and the flags are stored once known, and `out` shrinks to what was written. The fixed
// parts go eight octets at a time.
error_code append_publish(byte_buffer& out, std::uint16_t channel, const basic_publish& m,
                          const basic_properties& props, bytes_view body, std::uint32_t frame_max) {
    using boost::endian::store_big_u16;
    using boost::endian::store_big_u32;
    using boost::endian::store_big_u64;
    const std::size_t exchange = m.exchange.size();
    const std::size_t routing_key = m.routing_key.size();
    const std::size_t table = props.headers ? props.headers->raw.size() : 0;
    if ((exchange | routing_key) > 255 || table > std::numeric_limits<std::uint32_t>::max()) [[unlikely]]
        return reply_code::syntax_error;
    const std::size_t max_payload = std::max(frame_max, frame_min_size) - frame_overhead;
    // ids (4), reserved-1 (2), the two shortstr lengths (2), the mandatory/immediate octet (1):
    // at most 519 octets, which fits any frame_max.
    const std::size_t method_payload = 9 + exchange + routing_key;
    const std::size_t n = body.size();
    const std::size_t bound = 2 * frame_overhead + method_payload + detail::fixed_part +
                              detail::max_untabled_properties_size + 4 + table + body_frames_size(n, frame_max);

    const std::size_t old = out.size();
    out.resize(old + bound);  // grows geometrically when short of capacity
    std::uint8_t* p = out.data() + old;
    const std::uint64_t ch = std::uint64_t{channel} << 40;
    // Method frame header (type 1, channel, size) and the class id's high octet; then the class
    // id's low octet, the method id, reserved-1, the exchange's length and two octets that the
    // exchange or the routing key overwrite (the payload is at least nine octets).
    store_big_u64(p, (std::uint64_t{1} << 56) | ch | (std::uint64_t{method_payload} << 8));
    store_big_u64(p + 8, (std::uint64_t{basic_publish::class_index & 0xFF} << 56) |
                             (std::uint64_t{basic_publish::method_index} << 40) |
                             (std::uint64_t{m.reserved_1} << 24) | (std::uint64_t{exchange} << 16));
    detail::wire_writer w(p + 14);
    w.raw(m.exchange.data(), exchange);
    w.shortstr(m.routing_key);
    p = w.position();
    store_big_u16(p, static_cast<std::uint16_t>(((m.mandatory ? 1u : 0u) | (m.immediate ? 2u : 0u)) << 8 | frame_end));
    // Header frame: type 2, channel, size (stored below), class id (2), weight (2), body size
    // (8), flags (2, stored below), properties.
    std::uint8_t* const header = p + 2;
    store_big_u32(header + 7, std::uint32_t{basic_publish::class_index} << 16);
    store_big_u64(header + 11, n);
    detail::checked_property_writer pw(header + frame_header_size + detail::fixed_part);
    if (!detail::for_each_property(props, pw)) [[unlikely]] {
        out.resize(old);
        return reply_code::syntax_error;
    }
    p = pw.position();
    const std::size_t header_payload = static_cast<std::size_t>(p - header) - frame_header_size;
    // The peer would answer an oversized header frame with 501; fail here instead.
    if (header_payload > max_payload) [[unlikely]] {
        out.resize(old);
        return reply_code::frame_error;
    }
    store_big_u64(header, (std::uint64_t{2} << 56) | ch | (std::uint64_t{header_payload} << 8));
    store_big_u16(header + frame_header_size + detail::fixed_part - 2, pw.flags());
    if (n - 1 < max_payload) [[likely]] {
        // One body frame: the header's frame end and the body frame's header in one store.
        store_big_u64(p, (std::uint64_t{frame_end} << 56) | (std::uint64_t{3} << 48) | (ch >> 8) | n);
        detail::wire_writer(p + 8).raw(body.data(), n);
        p[8 + n] = frame_end;
        p += 1 + frame_overhead + n;
    } else {
        *p = frame_end;
        p = put_body_frames(p + 1, channel, body, max_payload);
    }
    // Shrinks from the bound to what was written: never grows.
    const std::size_t written = static_cast<std::size_t>(p - out.data());
    if (written > out.size()) __builtin_unreachable();
    out.resize(written);
    return {};
}

}  // namespace

error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m,
                          const basic_properties& props, bytes_view body, std::uint32_t frame_max) {
    // basic.publish is what a client sends per message: an index compare instead of the
    // visit's indirect call.
    if (const auto* publish = std::get_if<basic_publish>(&m)) [[likely]]
        return append_publish(out, channel, *publish, props, body, frame_max);
    return std::visit([&](const auto& x) { return append_message_as(out, channel, x, props, body, frame_max); }, m);
}

}  // namespace amqp
