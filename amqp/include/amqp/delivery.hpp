// A whole delivered message in one pass: the basic.deliver method frame, its content header
// frame and its body frame, as RabbitMQ sends them for every message a consumer receives.
// The frame-by-frame path (decode_frame, decode_method, decode_content_header) decodes any
// input and names every fault; this one decodes the common shape only, and faster: one
// output struct instead of a method variant, three frames checked together.
#pragma once

#include <amqp/methods.hpp>
#include <amqp/properties.hpp>
#include <amqp/types.hpp>

#include <cstddef>
#include <cstdint>

namespace amqp {

namespace detail {
struct delivery_access;
}

/// A delivered message, as views into the decoded input. Only `decode_delivery` writes it,
/// which lets it clear just the properties the previous message had rather than all fourteen.
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
std::size_t decode_delivery(bytes_view in, std::uint32_t frame_max, delivery_view& out) noexcept;

}  // namespace amqp
