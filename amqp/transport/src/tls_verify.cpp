#include "tls_verify.hpp"

#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

namespace amqp::detail {

bool require_peer_name(SSL* ssl, const std::string& name) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    boost::system::error_code ec;
    boost::asio::ip::make_address(name, ec);
    if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) == 1;
}

std::string verify_failure_text(const SSL* ssl, const std::string& name, const std::string& trusted) {
    const long result = SSL_get_verify_result(ssl);
    if (result == X509_V_OK) return {};
    std::string text = X509_verify_cert_error_string(result);
    switch (result) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            text += ": the broker's certificate does not name '" + name +
                    "'; connect by a name the certificate has, or set server_name_indication";
            break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            text += ": the broker's certificate is not signed by a CA in " + trusted +
                    "; set cacertfile to the CA that signed it";
            break;
        default:
            break;
    }
    return text;
}

}  // namespace amqp::detail
