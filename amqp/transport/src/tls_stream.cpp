// TLS over TCP: resolve and connect as TCP does, then name the peer (SNI, and the name its
// certificate must carry) and shake hands; a failed verification says why.
#include "tls_stream.hpp"
#include "network_stream.hpp"
#include "tls_context.hpp"
#include "tls_verify.hpp"

#include <amqp/transport/error.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/stream.hpp>

namespace amqp::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// The context outlives the stream that refers to it: a base, constructed first.
struct tls_context_holder {
    std::unique_ptr<asio::ssl::context> ctx;
};

class tls_stream final : private tls_context_holder, public socket_stream<asio::ssl::stream<tcp::socket>> {
public:
    tls_stream(const connection_strand& strand, connection_options o, std::unique_ptr<asio::ssl::context> c)
        : tls_context_holder{std::move(c)}, socket_stream(strand, std::move(o), *ctx) {}

    void async_connect(transport::connect_handler h) override {
        auto ex = asio::get_associated_executor(h, socket_.get_executor());
        async_resolve_connect(resolver_, socket_.next_layer(), opts_,
                              asio::bind_executor(ex, [this, h = std::move(h)](error_code ec, std::string why) mutable {
                                  if (ec) {
                                      std::move(h)(ec, std::move(why));
                                      return;
                                  }
                                  handshake(std::move(h));
                              }));
    }
    bool is_tls() const noexcept override { return true; }

private:
    void handshake(transport::connect_handler h) {
        const std::string name = tls_peer_name(opts_);
        // SNI carries host names only (RFC 6066), never IP literals.
        if (!is_ip_literal(name)) SSL_set_tlsext_host_name(socket_.native_handle(), name.c_str());
        if (opts_.tls.verify_peer && !require_peer_name(socket_.native_handle(), name)) {
            std::move(h)(transport_error::tls_error, "cannot verify the broker as '" + name + "'");
            return;
        }
        auto ex = asio::get_associated_executor(h, socket_.get_executor());
        socket_.async_handshake(asio::ssl::stream_base::client,
                                asio::bind_executor(ex, [this, h = std::move(h)](error_code ec) mutable {
                                    if (!ec) {
                                        std::move(h)(error_code{}, std::string{});
                                        return;
                                    }
                                    std::string text =
                                        "TLS handshake with " + endpoint_text(opts_) + " failed: " + ec.message();
                                    if (const auto why = verify_failure_text(socket_.native_handle(),
                                                                             tls_peer_name(opts_), tls_trusted_cas(opts_));
                                        !why.empty())
                                        text += ": " + why;
                                    std::move(h)(transport_error::tls_error, std::move(text));
                                }));
    }
};

}  // namespace

std::unique_ptr<transport::stream> make_tls_stream(const connection_strand& strand, const connection_options& o,
                                                   error_code& ec, std::string& why) {
    auto ctx = make_tls_context(o, ec, why);
    if (!ctx) return nullptr;
    return std::make_unique<tls_stream>(strand, o, std::move(ctx));
}

}  // namespace amqp::detail
