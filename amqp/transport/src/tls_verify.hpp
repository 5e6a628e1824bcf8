// Peer verification for amqps:// and the words for its failures: "certificate verify failed"
// alone does not say whether the broker's certificate has the wrong name or an unknown issuer.
#pragma once

#include <string>

#include <openssl/ssl.h>

namespace amqp::detail {

/// Make OpenSSL itself check that the peer's certificate names `name` (a host name, or an IP
/// literal against its IP SANs), so a mismatch is kept as the verify result
/// (X509_V_ERR_HOSTNAME_MISMATCH / X509_V_ERR_IP_ADDRESS_MISMATCH) and can be reported.
/// Returns false if OpenSSL refused the name.
bool require_peer_name(SSL* ssl, const std::string& name);

/// Why verification failed, from OpenSSL's verify result, with what to do about it; empty when
/// the handshake failed for another reason. `name`: the name checked; `trusted`: where the CAs
/// came from ("CA file ca.pem", "the system's CA paths").
std::string verify_failure_text(const SSL* ssl, const std::string& name, const std::string& trusted);

}  // namespace amqp::detail
