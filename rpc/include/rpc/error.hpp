// Errors of the RPC layer, as a Boost.System category ("rpc"), and the text that travels with
// them (the server's reason, the broker's close reason, the timeout's length).
#pragma once

#include <amqp/codec/error.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include <boost/system/system_error.hpp>

namespace rpc {

using error_code = amqp::error_code;

/// How an RPC call can fail. Category name "rpc".
enum class errc : int {
    timeout = 1,      ///< no reply within the call's timeout
    no_route,         ///< the broker returned the request (312 NO_ROUTE): no queue is bound to it
    remote_error,     ///< the server answered with an error reply ({"response": null, "error": ...})
    connection_lost,  ///< the connection or channel closed while the call was pending
    bad_reply,        ///< a reply that is neither a number nor the JSON reply format
    not_started,      ///< the client has not been started, or was closed
    message_too_large,  ///< a request or reply above the connection's max_message_size
    would_deadlock,     ///< a blocking call made on a thread that runs the client's executor
    not_confirmed,      ///< the broker did not confirm the request (nack, or the connection lost first) and
                        ///< the call is not idempotent: the request may or may not be queued; not re-sent
};

/// The "rpc" category.
const boost::system::error_category& rpc_category() noexcept;

inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), rpc_category()}; }

/// What a caller may want to know about one call beyond its result: the correlation id it was
/// sent with (set when the request is published), and on failure the full human-readable reason,
/// e.g. "RPC call timed out after 5 seconds" or the server's "n must be <= 100000, got 100001".
struct diagnostics {
    std::string correlation_id;
    std::string message;
};

/// Thrown by the synchronous calls: the error code plus the full reason as what().
class call_error : public boost::system::system_error {
public:
    call_error(error_code ec, const std::string& reason) : boost::system::system_error(ec, reason), reason_(reason) {}
    /// The reason alone (what() may append the category message).
    const std::string& reason() const noexcept { return reason_; }

private:
    std::string reason_;
};

/// A system_error's text without the decoration Boost.System appends to what()
/// (": <message> [category:value at file:line]"): the sentence a person should read.
std::string describe(const boost::system::system_error& e);

/// A peer's text (a server's error, a broker's reply text) made fit to be the whole reason of an
/// error: amqp::printable's escaping and length cap, without its quotes ("n must be <= 45").
std::string printable_reason(std::string_view peer_text);

/// Seconds as a person writes them: "30", "0.25".
std::string format_seconds(std::chrono::milliseconds t);
/// "RPC call timed out after 5 seconds" (fractions shown when the timeout has them: "0.25").
std::string timeout_message(std::chrono::milliseconds timeout);

}  // namespace rpc

template <>
struct boost::system::is_error_code_enum<rpc::errc> : std::true_type {};
