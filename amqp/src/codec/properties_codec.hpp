// Internal: content-header payload encoding straight from a basic_properties, for the message
// encoder (building a content_header just to encode it copied ~300 bytes per message).
#pragma once

#include <amqp/properties.hpp>

#include <cstddef>
#include <cstdint>

namespace amqp::detail {

/// Payload size of a content header carrying `p`; 0 when a property cannot be encoded
/// (a shortstr over 255 bytes, a table over 2^32-1): a valid payload is never below 14.
std::size_t header_payload_size_checked(const basic_properties& p) noexcept;

/// Write the payload (class, weight, body size, flags, properties); `p` passed the check above.
void write_header_payload(std::uint8_t* out, std::uint16_t class_index, std::uint16_t weight,
                          std::uint64_t body_size, const basic_properties& p) noexcept;

}  // namespace amqp::detail
