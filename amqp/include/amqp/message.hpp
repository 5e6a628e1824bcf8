// Whole frames out: a method frame, or a content-bearing method with its header and body split
// into body frames by frame_max, appended to one contiguous buffer so a message goes out in a
// single write and is never interleaved with another message's frames.
#pragma once

#include <amqp/error.hpp>
#include <amqp/methods.hpp>
#include <amqp/properties.hpp>
#include <amqp/types.hpp>

#include <cstdint>

namespace amqp {

/// Bytes `append_method_frame` adds.
std::size_t method_frame_size(const method& m) noexcept;

/// Append one method frame (header, payload, 0xCE) for `channel` to `out`.
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
/// longest, about 2.9 KB) before shrinking to what was written, so a reused buffer keeps that
/// headroom and allocates nothing in steady state.
error_code append_message(byte_buffer& out, std::uint16_t channel, const method& m,
                               const basic_properties& props, bytes_view body,
                               std::uint32_t frame_max);

}  // namespace amqp
