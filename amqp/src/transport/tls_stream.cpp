// TLS over TCP: resolve and connect as TCP does, then name the peer (SNI, and the name its
// certificate must carry) and shake hands; a failed verification says why.
#include "tls_stream.hpp"
#include "network_stream.hpp"
#include "tls_context.hpp"
#include "tls_verify.hpp"

#include <amqp/client_error.hpp>

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

class tls_stream final : public transport::stream {
public:
    tls_stream(asio::any_io_executor ex, connection_options o, std::unique_ptr<asio::ssl::context> ctx)
        : opts_(std::move(o)), ctx_(std::move(ctx)), resolver_(ex), tls_(ex, *ctx_) {}

    void async_connect(transport::connect_handler h) override {
        auto ex = asio::get_associated_executor(h, tls_.get_executor());
        async_resolve_connect(resolver_, tls_.next_layer(), opts_,
                              asio::bind_executor(ex, [this, h = std::move(h)](error_code ec, std::string why) mutable {
                                  if (ec) {
                                      std::move(h)(ec, std::move(why));
                                      return;
                                  }
                                  handshake(std::move(h));
                              }));
    }
    void async_read_some(asio::mutable_buffer b, transport::io_handler h) override {
        tls_.async_read_some(b, std::move(h));
    }
    void async_write_some(asio::const_buffer b, transport::io_handler h) override {
        tls_.async_write_some(b, std::move(h));
    }
    void close() noexcept override {
        error_code ignored;
        resolver_.cancel();
        tls_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
        tls_.next_layer().close(ignored);
    }
    bool is_tls() const noexcept override { return true; }

private:
    void handshake(transport::connect_handler h) {
        const std::string name = tls_peer_name(opts_);
        // SNI carries host names only (RFC 6066), never IP literals.
        if (!is_ip_literal(name)) SSL_set_tlsext_host_name(tls_.native_handle(), name.c_str());
        if (opts_.tls.verify_peer && !require_peer_name(tls_.native_handle(), name)) {
            std::move(h)(client_error::tls_error, "cannot verify the broker as '" + name + "'");
            return;
        }
        auto ex = asio::get_associated_executor(h, tls_.get_executor());
        tls_.async_handshake(asio::ssl::stream_base::client,
                             asio::bind_executor(ex, [this, h = std::move(h)](error_code ec) mutable {
                                 if (!ec) {
                                     std::move(h)(error_code{}, std::string{});
                                     return;
                                 }
                                 std::string text =
                                     "TLS handshake with " + endpoint_text(opts_) + " failed: " + ec.message();
                                 if (const auto why = verify_failure_text(tls_.native_handle(), tls_peer_name(opts_),
                                                                          tls_trusted_cas(opts_));
                                     !why.empty())
                                     text += ": " + why;
                                 std::move(h)(client_error::tls_error, std::move(text));
                             }));
    }

    connection_options opts_;
    std::unique_ptr<asio::ssl::context> ctx_;
    tcp::resolver resolver_;
    asio::ssl::stream<tcp::socket> tls_;
};

}  // namespace

std::unique_ptr<transport::stream> make_tls_stream(asio::any_io_executor ex, const connection_options& o,
                                                   error_code& ec, std::string& why) {
    auto ctx = make_tls_context(o, ec, why);
    if (!ctx) return nullptr;
    return std::make_unique<tls_stream>(std::move(ex), o, std::move(ctx));
}

}  // namespace amqp::detail
