// Private: a method (and for a publish, its properties and body) copied out of the caller's
// views, so that a command issued on any thread can be carried to the connection's strand.
// Both check at once what the machine would refuse for its form (a shortstr over 255 bytes, a
// frame over frame_max), so that the caller still gets that error synchronously.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

namespace amqp::detail {

/// Any method, kept as its encoded payload and decoded back once (views into the payload).
/// Not movable once assigned: the views point into this object.
class owned_method {
public:
    owned_method() = default;
    owned_method(const owned_method&) = delete;
    owned_method& operator=(const owned_method&) = delete;

    /// Copy `m`; fails as encode_method does, or as decode_method would on our own encoding
    /// (a table nested deeper than the decoder's limit).
    error_code assign(const method& m);
    const method& get() const noexcept { return method_; }

private:
    byte_buffer payload_;
    method method_;
};

/// A basic.publish with its content: every string, the headers table and the body copied into
/// one buffer, the views re-pointed (no encoding round trip: a headers table our decoder would
/// refuse still goes out as the caller gave it). Not movable once assigned.
class owned_message {
public:
    owned_message() = default;
    owned_message(const owned_message&) = delete;
    owned_message& operator=(const owned_message&) = delete;

    /// Errors: 502 SYNTAX_ERROR for a shortstr over 255 bytes, 501 FRAME_ERROR for a method or
    /// header frame over `frame_max` (the negotiated one; 0: not known yet).
    error_code assign(const basic_publish& m, const basic_properties& props, bytes_view body, std::uint32_t frame_max);
    const basic_publish& method() const noexcept { return method_; }
    const basic_properties& properties() const noexcept { return props_; }
    bytes_view body() const noexcept { return body_; }

private:
    byte_buffer data_;
    basic_publish method_;
    basic_properties props_;
    bytes_view body_;
};

}  // namespace amqp::detail
