// How to reach a broker and what to negotiate, and the AMQP URI that says it in one string
// (https://www.rabbitmq.com/docs/uri-spec, https://www.rabbitmq.com/docs/uri-query-parameters).
//
// Two halves, one per layer: protocol_options is what the protocol machine negotiates (it knows
// no host, port or TLS); transport_options is how the transport reaches the broker. Users fill
// connection_options, which is both.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/protocol/options.hpp>
#include <amqp/transport/error.hpp>

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

/// How the transport reaches the broker. Defaults: localhost:5672, plain TCP.
struct transport_options {
    std::string host = "localhost";
    std::uint16_t port = 5672;
    bool use_tls = false;
    tls_options tls;
    /// TCP connect + TLS + AMQP handshake must finish within this time (the RPC client and server
    /// bound their set-up after the open by it too).
    std::chrono::milliseconds connection_timeout{30000};
    /// Print every frame sent and received to stderr (also enabled by AMQP_TRACE=1).
    bool trace = false;
};

/// Everything a connection needs: where the broker is (transport_options) and what to
/// negotiate with it (protocol_options). The members are used directly: `o.host`, `o.user`...
struct connection_options : transport_options, protocol_options {
    /// "amqp://user@host:port/vhost" with the password masked, for logs.
    std::string to_display_string() const;
};

/// Parse an AMQP URI: `amqp[s]://[user[:password]@]host[:port][/vhost][?query]`, with
/// percent-decoding, an empty path meaning vhost "/" and "/%2f" meaning "/". Query keys:
/// heartbeat, frame_max, channel_max, connection_timeout (ms), auth_mechanism, cacertfile,
/// certfile, keyfile, verify (verify_peer|verify_none), server_name_indication.
/// On failure returns transport_error::invalid_uri and puts the reason in `*why` (never the
/// password).
error_code parse_uri(std::string_view uri, connection_options& out, std::string* why = nullptr);

}  // namespace amqp
