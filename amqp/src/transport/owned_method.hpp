// Private: a method (and for a publish, its properties and body) copied out of the caller's
// views, so that a command issued on any thread can be carried to the connection's strand.
// The copy is the encoded payload; the strand decodes it back into views, which is cheaper
// than deep-copying every string and table of every method type.
#pragma once

#include <amqp/error.hpp>
#include <amqp/methods.hpp>
#include <amqp/properties.hpp>
#include <amqp/types.hpp>

namespace amqp::detail {

class owned_method {
public:
    /// Encode `m`; fails as encode_method does (a shortstr over 255 bytes).
    error_code assign(const method& m);
    /// The method again, its views pointing into this object.
    method get() const;

private:
    byte_buffer payload_;
};

/// A basic.publish with its content, owned.
class owned_message {
public:
    error_code assign(const basic_publish& m, const basic_properties& props, bytes_view body);
    basic_publish method() const;
    basic_properties properties() const;
    bytes_view body() const noexcept { return {body_}; }

private:
    owned_method method_;
    byte_buffer header_;
    byte_buffer body_;
};

}  // namespace amqp::detail
