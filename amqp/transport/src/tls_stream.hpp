// Private: TLS over TCP for amqps://.
#pragma once

#include <amqp/connection_options.hpp>
#include <amqp/transport/stream.hpp>

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

namespace amqp::detail {

/// A TLS stream for `o` (its context built from o.tls); null with tls_error in `ec` and the
/// reason in `why` when a CA file, certificate or key cannot be loaded.
std::unique_ptr<transport::stream> make_tls_stream(boost::asio::any_io_executor ex, const connection_options& o,
                                                   error_code& ec, std::string& why);

}  // namespace amqp::detail
