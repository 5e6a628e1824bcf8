// Private: TLS over TCP for amqps://.
#pragma once

#include "network_stream.hpp"

#include <amqp/connection_options.hpp>
#include <amqp/transport/stream.hpp>

#include <memory>
#include <string>

namespace amqp::detail {

/// A TLS stream for `o` (its context built from o.tls); null with tls_error in `ec` and the
/// reason in `why` when a CA file, certificate or key cannot be loaded.
std::unique_ptr<transport::stream> make_tls_stream(const connection_strand& strand, const connection_options& o,
                                                   error_code& ec, std::string& why);

}  // namespace amqp::detail
