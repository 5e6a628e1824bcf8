// What the protocol machine negotiates and enforces, apart from how the broker is reached
// (host, port and TLS are the transport's: amqp/connection_options.hpp).
#pragma once

#include <cstdint>
#include <string>

namespace amqp {

/// What the protocol machine negotiates and enforces: credentials, vhost, limits, preferences.
/// Defaults follow RabbitMQ's URI spec: guest/guest, vhost "/".
struct protocol_options {
    std::string user = "guest";
    std::string password = "guest";  ///< never logged, never in error texts
    std::string vhost = "/";
    /// "PLAIN" (default) or "EXTERNAL" (TLS client certificate).
    std::string auth_mechanism = "PLAIN";

    /// Client preferences for connection.tune-ok; the smaller non-zero value of ours and the
    /// broker's wins (0 means "no limit" for channel_max/frame_max and "no preference" for
    /// heartbeat: by RabbitMQ's rule heartbeats are off only when both sides say 0).
    std::uint16_t heartbeat = 60;          ///< seconds
    std::uint32_t frame_max = 131072;      ///< bytes; never negotiated below 4096
    std::uint16_t channel_max = 2047;

    /// Bodies declared larger than this are refused before any allocation.
    std::uint64_t max_message_size = 128ull * 1024 * 1024;
    /// What happens to a message refused by max_message_size. false: its channel is closed
    /// (311 CONTENT_TOO_LARGE). true: a delivery or return is still handed to its handler, with
    /// an empty body and delivered_message::body_refused set (body frames skipped unread), so
    /// the consumer can settle and answer it and the channel stays open. basic.get-ok content
    /// closes the channel either way.
    bool deliver_oversized = false;

    /// client-properties "connection_name", shown in RabbitMQ's management UI.
    std::string connection_name;
};

}  // namespace amqp
