#include "tls_context.hpp"

#include <amqp/transport/error.hpp>

namespace amqp::detail {

namespace asio = boost::asio;

std::string tls_peer_name(const connection_options& o) {
    return o.tls.server_name.empty() ? o.host : o.tls.server_name;
}

std::string tls_trusted_cas(const connection_options& o) {
    return o.tls.ca_file.empty() ? "the system's CA paths" : "CA file " + o.tls.ca_file;
}

std::unique_ptr<asio::ssl::context> make_tls_context(const connection_options& o, error_code& ec, std::string& why) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1,
                     ec);
    std::string what;
    if (o.tls.verify_peer) {
        ctx->set_verify_mode(asio::ssl::verify_peer, ec);
        what = tls_trusted_cas(o);
        if (o.tls.ca_file.empty()) {
            ctx->set_default_verify_paths(ec);
        } else {
            ctx->load_verify_file(o.tls.ca_file, ec);
        }
    } else {
        ctx->set_verify_mode(asio::ssl::verify_none, ec);
    }
    if (!ec && !o.tls.cert_file.empty()) {
        what = "certificate " + o.tls.cert_file;
        ctx->use_certificate_chain_file(o.tls.cert_file, ec);
        if (!ec) {
            const auto& key = o.tls.key_file.empty() ? o.tls.cert_file : o.tls.key_file;
            what = "private key " + key;
            ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
        }
    }
    if (ec) {
        why = "cannot load " + what + ": " + ec.message();
        ec = transport_error::tls_error;
        return nullptr;
    }
    return ctx;
}

}  // namespace amqp::detail
