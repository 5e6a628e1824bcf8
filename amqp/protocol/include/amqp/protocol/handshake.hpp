// The pure pieces of the opening handshake: what we tell the broker about ourselves, how we
// authenticate, and how connection.tune's limits are negotiated.
// Errors: check_start_ok_size returns an error_code; the others cannot fail (they may throw
// std::bad_alloc where they allocate). Threading: pure functions, callable from any thread.
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/codec/types.hpp>
#include <amqp/protocol/options.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace amqp::protocol {

/// The values we answer connection.tune with (and then live by).
struct tune_values {
    std::uint16_t channel_max = 0;
    std::uint32_t frame_max = 0;
    std::uint16_t heartbeat = 0;
};

/// The spec's rule for one limit, as RabbitMQ's clients apply it: when either side says 0
/// ("no limit" / "no preference") the other side's value wins, else the smaller one.
std::uint32_t negotiate_value(std::uint32_t ours, std::uint32_t theirs) noexcept;

/// Negotiate all three. frame_max is never below 4096 and, when both sides say "no limit",
/// is capped at 131072 so a peer cannot make us buffer unbounded frames; channel_max "no
/// limit" becomes 65535, the most a 16-bit channel id can name.
tune_values negotiate_tune(const connection_tune& broker, const protocol_options& ours) noexcept;

/// client-properties for connection.start-ok: product, version, platform, information,
/// connection_name (when set) and the capabilities RabbitMQ looks for.
field_table client_properties(const protocol_options& opts);

/// True when the space-separated `mechanisms` list contains `mechanism`.
bool offers_mechanism(std::string_view mechanisms, std::string_view mechanism) noexcept;

/// connection.start-ok for `opts`, its client-properties and SASL response given as
/// `properties` (encoded client_properties) and `response` (sasl_response): views into both,
/// which must outlive the method.
connection_start_ok start_ok_for(const protocol_options& opts, const byte_buffer& properties,
                                 const std::string& response);

/// Whether connection.start-ok for `opts` fits the one frame a broker accepts before tuning
/// (frame_min_size, 4096 bytes): a longer user name, password or connection name would be refused
/// by the broker with a bare socket close that reads as "wrong password". Returns
/// client_error::credentials_too_long with the sizes (never the secrets) in `*why`, else {}.
error_code check_start_ok_size(const protocol_options& opts, std::string* why = nullptr);

/// The SASL response for our mechanism: "\0user\0password" for PLAIN, empty for EXTERNAL
/// (the broker takes the identity from the TLS client certificate). Secret: never log it.
std::string sasl_response(const protocol_options& opts);

}  // namespace amqp::protocol
