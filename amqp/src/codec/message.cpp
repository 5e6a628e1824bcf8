// Whole frames: a method frame, or method + content header + body frames in one buffer.
#include "wire_writer.hpp"

#include <amqp/frame.hpp>
#include <amqp/message.hpp>

#include <algorithm>
#include <cstring>

namespace amqp {
namespace {

std::size_t body_frames_size(std::size_t body_size, std::uint32_t frame_max) noexcept {
    const std::size_t chunk = std::max(frame_max, frame_min_size) - frame_overhead;
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

error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m,
                               const basic_properties& props, bytes_view body,
                               std::uint32_t frame_max) {
    if (!method_has_content(m)) return reply_code::command_invalid;
    frame_max = std::max(frame_max, frame_min_size);
    const std::size_t max_payload = frame_max - frame_overhead;

    content_header h;
    h.class_index = 60;
    h.body_size = body.size();
    h.properties = props;
    const std::size_t method_payload = method_payload_size(m);
    const std::size_t header_payload = content_header_payload_size(h);
    // The peer would answer an oversized method or header frame with 501; fail here instead.
    if (method_payload > max_payload || header_payload > max_payload) return reply_code::frame_error;

    const std::size_t old = out.size();
    out.resize(old + 2 * frame_overhead + method_payload + header_payload +
               body_frames_size(body.size(), frame_max));
    std::uint8_t* p = out.data() + old;
    error_code ec = put_frame(p, frame_type::method, channel, method_payload,
                                   [&](std::uint8_t* at) { return encode_method(m, at); });
    if (!ec)
        ec = put_frame(p, frame_type::header, channel, header_payload,
                       [&](std::uint8_t* at) { return encode_content_header(h, at); });
    if (ec) {
        out.resize(old);
        return ec;
    }
    for (std::size_t off = 0; off < body.size(); off += max_payload) {
        const std::size_t n = std::min(max_payload, body.size() - off);
        put_frame(p, frame_type::body, channel, n, [&](std::uint8_t* at) {
            std::memcpy(at, body.data() + off, n);
            return error_code{};
        });
    }
    return {};
}

}  // namespace amqp
