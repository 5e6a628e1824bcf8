// Errors of the AMQP layer: the spec's reply codes as a Boost.System error category,
// plus a diagnostics object that names what was wrong and where.
// Threading: the category is a constant usable from any thread; diagnostics is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/system/error_code.hpp>

namespace amqp {

/// Error codes of the whole library are Boost.System's, so that Asio's completion tokens
/// (use_future, use_awaitable) turn them into exceptions and the codec needs no conversion.
using error_code = boost::system::error_code;

/// The reply codes of AMQP 0-9-1 (spec section 1.4.2 "Constants"), usable as error codes.
/// `reply_success` (200) is never an error; it is listed so close frames can be decoded.
enum class reply_code : std::uint16_t {
    reply_success = 200,
    content_too_large = 311,
    no_route = 312,
    no_consumers = 313,
    connection_forced = 320,
    invalid_path = 402,
    access_refused = 403,
    not_found = 404,
    resource_locked = 405,
    precondition_failed = 406,
    frame_error = 501,
    syntax_error = 502,
    command_invalid = 503,
    channel_error = 504,
    unexpected_frame = 505,
    resource_error = 506,
    not_allowed = 530,
    not_implemented = 540,
    internal_error = 541,
};

/// The category whose values are AMQP reply codes. Its name is "amqp".
const boost::system::error_category& reply_category() noexcept;

/// Lets `amqp::error_code ec = reply_code::frame_error;` work.
inline error_code make_error_code(reply_code c) noexcept {
    return {static_cast<int>(c), reply_category()};
}

/// The spec's name of a reply code ("FRAME_ERROR"), or "UNKNOWN" for a code the spec does not list.
const char* reply_code_name(std::uint16_t code) noexcept;

/// True for the codes the spec calls "hard errors" (they close the connection, not just a channel).
bool is_connection_error(std::uint16_t code) noexcept;

/// What went wrong, in words, and where: the byte offset from the start of the input given to the
/// decoder (the frame, or the payload for the payload-level decoders) and the field being read.
/// Filled by every decoder on error; never contains credentials.
struct diagnostics {
    std::string message;      ///< e.g. "shortstr length 200 runs past the end of the payload"
    std::size_t offset = 0;   ///< byte offset into the decoder's input where the fault was found
    std::string field;        ///< e.g. "basic.deliver.exchange" (empty when not inside a field)

    void clear() {
        message.clear();
        offset = 0;
        field.clear();
    }
    /// "message (field X at offset N)" for logs and exceptions.
    std::string to_string() const;
};

}  // namespace amqp

template <>
struct boost::system::is_error_code_enum<amqp::reply_code> : std::true_type {};
