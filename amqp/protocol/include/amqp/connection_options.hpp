// How to reach a broker and what to negotiate, and the AMQP URI that says it in one string
// (https://www.rabbitmq.com/docs/uri-spec, https://www.rabbitmq.com/docs/uri-query-parameters).
#pragma once

#include <amqp/codec/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace amqp {

/// TLS settings for amqps://. Peer verification is on by default.
struct tls_options {
    bool verify_peer = true;
    std::string ca_file;    ///< PEM CA bundle; empty: the system's default paths
    std::string cert_file;  ///< client certificate (PEM), for mutual TLS / SASL EXTERNAL
    std::string key_file;   ///< client private key (PEM)
    std::string server_name;  ///< SNI and name to verify; empty: the host
};

/// Everything a connection needs. Defaults follow RabbitMQ's URI spec: guest/guest on
/// localhost:5672, vhost "/".
struct connection_options {
    std::string host = "localhost";
    std::uint16_t port = 5672;
    bool use_tls = false;
    tls_options tls;
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

    /// TCP connect + TLS + AMQP handshake must finish within this time.
    std::chrono::milliseconds connection_timeout{30000};
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
    /// Print every frame sent and received to stderr (also enabled by AMQP_TRACE=1).
    bool trace = false;

    /// "amqp://user@host:port/vhost" with the password masked, for logs.
    std::string to_display_string() const;
};

/// Parse an AMQP URI: `amqp[s]://[user[:password]@]host[:port][/vhost][?query]`, with
/// percent-decoding, an empty path meaning vhost "/" and "/%2f" meaning "/". Query keys:
/// heartbeat, frame_max, channel_max, connection_timeout (ms), auth_mechanism, cacertfile,
/// certfile, keyfile, verify (verify_peer|verify_none), server_name_indication.
/// On failure returns client_error::invalid_uri and puts the reason in `*why` (never the password).
error_code parse_uri(std::string_view uri, connection_options& out, std::string* why = nullptr);

}  // namespace amqp
