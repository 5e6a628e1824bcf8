// Whole frames out: a method frame, or a content-bearing method with its header and body split
// into body frames by frame_max, appended to one contiguous buffer so a message goes out in a
// single write and is never interleaved with another message's frames.
//
// Errors: returned as error_code (reply codes, as the peer would answer them); the appending
// functions may also throw std::bad_alloc, and then leave `out` as it was.
// Threading: pure functions over the caller's buffers; they may run concurrently on distinct buffers.
#pragma once

#include <amqp/codec/detail/publish_codec.hpp>
#include <amqp/codec/error.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace amqp {

/// Bytes `append_method_frame` adds when it succeeds.
std::size_t method_frame_size(const method& m) noexcept;

/// Append one method frame (header, payload, 0xCE) for `channel` to `out`. A shortstr over 255
/// octets or a table over 2^32 - 1 → 502 SYNTAX_ERROR; `out` is then left as it was.
error_code append_method_frame(byte_buffer& out, std::uint16_t channel, const method& m);

/// Bytes `append_message` adds.
std::size_t message_size(const method& m, const basic_properties& props, std::size_t body_size,
                         std::uint32_t frame_max) noexcept;

/// Append the method frame, the content header frame (class 60, weight 0, body_size =
/// body.size()) and body frames of at most frame_max - 8 payload bytes each (none for an empty
/// body). `m` must be a content-bearing method (basic.publish, basic.return, basic.deliver,
/// basic.get-ok), else 503 COMMAND_INVALID. A shortstr (method argument or property) over 255
/// octets or a headers table over 2^32 - 1 → 502 SYNTAX_ERROR; a method or header payload over
/// frame_max - 8 → 501 FRAME_ERROR. On any error `out` is left as it was. `out` grows once:
/// for basic.publish by an upper bound (the message, plus room for every property at its
/// longest, about 2.6 KB) before shrinking to what was written, so a reused buffer keeps that
/// headroom and allocates nothing in steady state.
error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m, const basic_properties& props,
                          bytes_view body, std::uint32_t frame_max);

/// What `encode_publish` needs in its output buffer: an upper bound of the bytes it writes,
/// with every property at its largest (2570 octets) besides the headers table and the body as
/// they are. 0 when an argument cannot be encoded (a shortstr over 255 bytes, a table over 2^32-1).
inline std::size_t publish_size_bound(const basic_publish& m, const basic_properties& props, std::size_t body_size,
                                      std::uint32_t frame_max) noexcept {
    return detail::publish_bound(m, props, body_size, frame_max);
}

/// Result of `encode_publish`: the bytes written, or an error.
struct encode_result {
    error_code ec;
    std::size_t size = 0;
};

/// The frames `append_message` appends for basic.publish, written at the front of `out`, a
/// caller's buffer of at least `publish_size_bound(...)` bytes (else no_buffer_space), in one
/// pass over the properties. Same checks and errors as `append_message`; on an error what is
/// in `out` is unspecified. No allocation.
// Inline, as decode_delivery is: it runs once per message (docs/codec-benchmarks.md).
[[gnu::always_inline]] inline encode_result encode_publish(std::span<std::uint8_t> out, std::uint16_t channel,
                                                           const basic_publish& m, const basic_properties& props,
                                                           bytes_view body, std::uint32_t frame_max) noexcept {
    encode_result r;
    const std::size_t bound = detail::publish_bound(m, props, body.size(), frame_max);
    if (bound == 0) [[unlikely]] {
        r.ec = reply_code::syntax_error;
        return r;
    }
    if (out.size() < bound) [[unlikely]] {
        r.ec = make_error_code(boost::system::errc::no_buffer_space);
        return r;
    }
    const std::uint8_t* const end = detail::put_publish(out.data(), channel, m, props, body, frame_max, r.ec);
    if (end != nullptr) [[likely]]
        r.size = static_cast<std::size_t>(end - out.data());
    return r;
}

}  // namespace amqp
