// A plain TCP stream, and the resolve + connect step that the TLS stream shares.
#include "network_stream.hpp"
#include "tls_stream.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>

namespace amqp::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string endpoint_text(const connection_options& o) { return o.host + ":" + std::to_string(o.port); }

void async_resolve_connect(tcp::resolver& resolver, tcp::socket& socket, const connection_options& o,
                           transport::connect_handler h) {
    // The handler's executor (the connection's strand) runs both steps.
    auto ex = asio::get_associated_executor(h, socket.get_executor());
    resolver.async_resolve(
        o.host, std::to_string(o.port),
        asio::bind_executor(ex, [&socket, o, h = std::move(h)](error_code ec, tcp::resolver::results_type r) mutable {
            if (ec) {
                std::move(h)(ec, "cannot resolve " + o.host);
                return;
            }
            auto ex2 = asio::get_associated_executor(h, socket.get_executor());
            asio::async_connect(socket, r,
                                asio::bind_executor(ex2, [&socket, o, h = std::move(h)](error_code e,
                                                                                     const tcp::endpoint&) mutable {
                                    if (e) {
                                        std::move(h)(e, "cannot connect to " + endpoint_text(o));
                                        return;
                                    }
                                    error_code ignored;
                                    // Small frames (acks, RPC requests) must not wait for Nagle's algorithm.
                                    socket.set_option(tcp::no_delay(true), ignored);
                                    std::move(h)(error_code{}, std::string{});
                                }));
        }));
}

namespace {

class tcp_stream final : public socket_stream<tcp::socket> {
public:
    tcp_stream(const connection_strand& strand, connection_options o) : socket_stream(strand, std::move(o)) {}

    void async_connect(transport::connect_handler h) override {
        async_resolve_connect(resolver_, socket_, opts_, std::move(h));
    }
    // A plain socket takes a small write at once when its send buffer has room (nearly always):
    // written in place, it needs no completion and no wake-up of the event loop. The socket is
    // made non-blocking so a full buffer answers would_block rather than waiting.
    std::size_t try_write_some(asio::const_buffer b, error_code& ec) override {
        if (!socket_.non_blocking()) {
            socket_.non_blocking(true, ec);
            if (ec) {
                ec = asio::error::operation_not_supported;
                return 0;
            }
        }
        return socket_.write_some(b, ec);
    }
    bool is_tls() const noexcept override { return false; }
};

}  // namespace

std::unique_ptr<transport::stream> make_network_stream(const connection_strand& strand, const connection_options& o,
                                                       error_code& ec, std::string& why) {
    if (o.use_tls) return make_tls_stream(strand, o, ec, why);
    return std::make_unique<tcp_stream>(strand, o);
}

}  // namespace amqp::detail
