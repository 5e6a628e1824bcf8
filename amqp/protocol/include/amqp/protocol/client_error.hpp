// Errors the client itself reports (as opposed to reply codes a broker sends), and the details
// that travel with an error: the broker's close reason, or what our decoder found.
// Threading: the category is a constant usable from any thread; the rest are plain values.
#pragma once

#include <amqp/codec/error.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

#include <boost/system/system_error.hpp>

namespace amqp {

/// Client-side failures. Category name "amqp.client".
enum class client_error : int {
    connection_lost = 1,       ///< the socket closed or failed outside a close handshake
    connect_timeout,           ///< TCP/TLS connect + AMQP handshake did not finish in time
    missed_heartbeats,         ///< nothing received for 2 x the negotiated heartbeat
    protocol_version_mismatch, ///< the broker answered with another protocol header
    authentication_failed,     ///< 403 ACCESS_REFUSED during the handshake, or socket closed after start-ok
    no_supported_mechanism,    ///< the broker offers none of our SASL mechanisms
    connection_closed,         ///< the broker closed the connection (reply code in the details)
    channel_closed,            ///< the broker closed the channel (reply code in the details)
    not_open,                  ///< an operation on a connection/channel that is not open
    message_too_large,         ///< a body larger than the configured max message size
    // 11 and 12 were tls_error and invalid_uri, now the transport's (amqp::transport_error).
    operation_aborted = 13,    ///< cancelled by the user or by close()
    /// user name, password (or connection name) make connection.start-ok larger than the 4096-byte
    /// frame a broker accepts before tuning: refused locally, before connecting
    credentials_too_long,
    /// publisher confirms: the broker answered basic.nack, it could not take the message
    publish_nacked,
    /// publisher confirms: a mandatory message no queue took (basic.return came before its ack)
    publish_returned,
    /// publisher confirms: the channel or connection closed before the broker answered; the
    /// message may or may not have reached its queues
    publish_unconfirmed,
};

/// The "amqp.client" category.
const boost::system::error_category& client_category() noexcept;

inline error_code make_error_code(client_error e) noexcept {
    return {static_cast<int>(e), client_category()};
}

/// Why a connection or channel closed: what the broker said (connection.close/channel.close),
/// or, for faults we detected, the reply code we sent and our diagnostics.
struct close_reason {
    error_code code;                 ///< client_error or reply_code
    std::uint16_t reply_code = 0;    ///< from the close method, 0 when none was exchanged
    std::string reply_text;          ///< from the close method, or our description
    std::uint16_t class_id = 0;      ///< method that caused it, when the broker names one
    std::uint16_t method_id = 0;
    /// True when the broker sent the close (connection.close/channel.close); false for faults we
    /// detected or local failures (lost socket, timeouts).
    bool from_broker = false;
    /// One line for humans, e.g. "channel closed by broker: 404 NOT_FOUND - no queue 'x' in
    /// vhost '/' (queue.declare)". Never contains credentials; the broker's text is escaped and
    /// capped as amqp::printable() does.
    std::string to_string() const;
};

/// Thrown by the synchronous wrappers: an error code plus the full human text.
class error : public boost::system::system_error {
public:
    error(error_code ec, const std::string& what) : boost::system::system_error(ec, what), what_(what) {}
    /// The human text only: system_error's own what() appends the code's message and its
    /// source location, which would repeat what the text already says.
    const char* what() const noexcept override { return what_.c_str(); }

private:
    std::string what_;
};

}  // namespace amqp

template <>
struct boost::system::is_error_code_enum<amqp::client_error> : std::true_type {};
