// What a service handler is given and what it gives back: one request with its body and every
// property the broker delivered, and one reply (any body, content type and headers, or an error).
#pragma once

#include <amqp/codec/types.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace rpc {

/// One request as a handler sees it: owned copies of the delivered message's body and properties.
/// A synchronous handler gets it by const reference, valid until it returns (copy what you keep);
/// an asynchronous one owns it. A property the client did not send is empty (strings) or nullopt.
struct request {
    std::string body;
    std::string content_type;
    std::string content_encoding;
    /// The request's headers table, decoded (empty when the client sent none).
    amqp::field_table headers;
    std::string correlation_id;
    /// Where the reply goes (the server publishes it; a handler needs it only to log or route).
    std::string reply_to;
    std::string message_id;
    std::string type;
    std::string app_id;
    std::string user_id;
    /// Per-message TTL the client set, in milliseconds as text (AMQP's expiration property).
    std::string expiration;
    std::optional<std::uint64_t> timestamp;  ///< seconds since the epoch, as the client set it
    std::optional<std::uint8_t> priority;
    std::optional<std::uint8_t> delivery_mode;
    /// The broker delivered it before (to this server or another, which died or released it
    /// unacked): a handler with side effects may have run for it already.
    bool redelivered = false;
    std::string exchange;     ///< the exchange it was published to ("" for the default exchange)
    std::string routing_key;  ///< the routing key it was published with (the queue's name, usually)
};

/// A reply ready to publish: its body, content type and headers go to the caller as they are, with
/// the request's correlation_id. Build an error reply with reply::error.
struct reply {
    reply() = default;
    /// reply{body}, reply{body, content_type}, reply{body, content_type, headers}.
    reply(std::string body_, std::string content_type_ = {}, amqp::field_table headers_ = {})
        : body(std::move(body_)), content_type(std::move(content_type_)), headers(std::move(headers_)) {}

    std::string body;
    /// Sent as the content_type property when not empty (application/json for JSON bodies): the
    /// same type as request::content_type and the client's request_message / reply_message.
    std::string content_type;
    amqp::field_table headers;                ///< sent as the reply's headers table when not empty

    /// The error reply every client of this library reads as an error (errc::remote_error with
    /// `reason` in the diagnostics): {"response": null, "error": "<reason>"} with content_type
    /// application/json, the format of the tutorial's error-handling section.
    static reply error(std::string_view reason);
};

/// content_type of JSON replies.
inline constexpr std::string_view json_content_type = "application/json";

/// The same as reply::error(reason).
reply make_error_reply(std::string_view reason);

/// The text an exception from a handler is answered with: its what() without what compilers and
/// libraries append for their own debugging (Boost's " [category:value at file:line:col in
/// function ...]" source locations), so no internal path reaches a client. A non-standard
/// exception gives a fixed text.
std::string error_text(std::exception_ptr e);
/// The error reply for a handler's exception: reply::error(error_text(e)).
reply error_reply(std::exception_ptr e);

}  // namespace rpc
