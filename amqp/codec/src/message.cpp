// Whole frames: a method frame, or method + content header + body frames in one buffer.
#include "method_codec.hpp"
#include "properties_codec.hpp"

#include <amqp/codec/detail/wire_writer.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace amqp {
namespace {

// Write one frame around a payload written by `fill` (which gets the payload's start).
template <class F>
error_code put_frame(std::uint8_t*& p, frame_type type, std::uint16_t channel, std::size_t payload, F&& fill) noexcept {
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
           detail::body_frames_size(body_size, frame_max);
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
                   detail::body_frames_size(body.size(), frame_max));
        std::uint8_t* p = out.data() + old;
        write_frame_header(p, frame_type::method, channel, static_cast<std::uint32_t>(method_payload));
        detail::write_method(m, p + frame_header_size);
        p += frame_header_size + method_payload;
        *p++ = frame_end;
        write_frame_header(p, frame_type::header, channel, static_cast<std::uint32_t>(header_payload));
        detail::write_header_payload(p + frame_header_size, T::class_index, 0, body.size(), props);
        p += frame_header_size + header_payload;
        *p++ = frame_end;
        detail::put_body_frames(p, channel, body, max_payload);
        return {};
    }
}

// append_message for basic.publish: `out` grows by the bound first (byte_buffer does not
// zero-fill, so that costs nothing but capacity), then shrinks to what was written.
error_code append_publish(byte_buffer& out, std::uint16_t channel, const basic_publish& m,
                          const basic_properties& props, bytes_view body, std::uint32_t frame_max) {
    const std::size_t bound = detail::publish_bound(m, props, body.size(), frame_max);
    if (bound == 0) [[unlikely]]
        return reply_code::syntax_error;
    const std::size_t old = out.size();
    out.resize(old + bound);  // grows geometrically when short of capacity
    error_code ec;
    const std::uint8_t* const end = detail::put_publish(out.data() + old, channel, m, props, body, frame_max, ec);
    if (end == nullptr) [[unlikely]] {
        out.resize(old);
        return ec;
    }
    // Shrinks from the bound to what was written: never grows.
    const std::size_t written = static_cast<std::size_t>(end - out.data());
    if (written > out.size()) __builtin_unreachable();
    out.resize(written);
    return {};
}

}  // namespace

error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m, const basic_properties& props,
                          bytes_view body, std::uint32_t frame_max) {
    // basic.publish is what a client sends per message: an index compare instead of the
    // visit's indirect call.
    if (const auto* publish = std::get_if<basic_publish>(&m)) [[likely]]
        return append_publish(out, channel, *publish, props, body, frame_max);
    return std::visit([&](const auto& x) { return append_message_as(out, channel, x, props, body, frame_max); }, m);
}

}  // namespace amqp
