// Whole frames: a method frame, or method + content header + body frames in one buffer.
#include "method_codec.hpp"
#include "properties_codec.hpp"
#include "wire_writer.hpp"

#include <amqp/frame.hpp>
#include <amqp/message.hpp>

#include <algorithm>
#include <cstring>

namespace amqp {
namespace {

std::size_t body_frames_size(std::size_t body_size, std::uint32_t frame_max) noexcept {
    const std::size_t chunk = std::max(frame_max, frame_min_size) - frame_overhead;
    // At most one body frame is the usual case, and the division costs more than the rest.
    if (body_size <= chunk) return body_size + (body_size != 0 ? frame_overhead : 0);
    const std::size_t frames = body_size / chunk + (body_size % chunk != 0 ? 1 : 0);
    return body_size + frames * frame_overhead;
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
        for (std::size_t off = 0; off < body.size(); off += max_payload) {
            const std::size_t n = std::min(max_payload, body.size() - off);
            write_frame_header(p, frame_type::body, channel, static_cast<std::uint32_t>(n));
            detail::wire_writer(p + frame_header_size).raw(body.data() + off, n);
            p += frame_header_size + n;
            *p++ = frame_end;
        }
        return {};
    }
}

}  // namespace

error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m,
                          const basic_properties& props, bytes_view body, std::uint32_t frame_max) {
    // basic.publish is what a client sends per message: an index compare instead of the
    // visit's indirect call.
    if (const auto* publish = std::get_if<basic_publish>(&m)) [[likely]]
        return append_message_as(out, channel, *publish, props, body, frame_max);
    return std::visit([&](const auto& x) { return append_message_as(out, channel, x, props, body, frame_max); }, m);
}

}  // namespace amqp
