// Errors of the transport layer: reaching the broker over TLS, and reading its address from an
// AMQP URI. (The protocol machine's own errors are amqp::client_error.)
#pragma once

#include <amqp/codec/error.hpp>

#include <type_traits>

#include <boost/system/error_category.hpp>

namespace amqp {

/// Transport failures. Category name "amqp.transport"; the error text of the operation says
/// what exactly failed (which file, which name, what OpenSSL reported).
enum class transport_error : int {
    tls_error = 1,  ///< the TLS context (CA file, certificate, key), handshake or peer verification failed
    invalid_uri,    ///< the AMQP URI does not parse
};

/// The "amqp.transport" category.
const boost::system::error_category& transport_category() noexcept;

inline error_code make_error_code(transport_error e) noexcept { return {static_cast<int>(e), transport_category()}; }

}  // namespace amqp

template <>
struct boost::system::is_error_code_enum<amqp::transport_error> : std::true_type {};
