// Private: the OpenSSL context for amqps://, built from tls_options.
#pragma once

#include <amqp/connection_options.hpp>

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace amqp::detail {

/// The name the broker's certificate must have (and SNI carries, for a host name).
std::string tls_peer_name(const connection_options& o);

/// Where trusted CAs come from, for error texts: "CA file x.pem" or "the system's CA paths".
std::string tls_trusted_cas(const connection_options& o);

/// A TLS 1.2+ client context: peer verification as o.tls says, the client certificate and key
/// when given. On failure: null, tls_error in `ec` and "cannot load <what>: <why>" in `why`.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const connection_options& o, error_code& ec,
                                                            std::string& why);

}  // namespace amqp::detail
