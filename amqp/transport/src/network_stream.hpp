// Private: the streams a connection uses outside tests, TCP and TLS over TCP.
#pragma once

#include <amqp/connection_options.hpp>
#include <amqp/transport/stream.hpp>

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace amqp::detail {

/// "host:port", as error texts name the broker.
std::string endpoint_text(const connection_options& o);

/// Resolve `o.host`, connect `socket` to the first address that answers, turn Nagle off.
/// `h` gets the error and a text naming what failed.
void async_resolve_connect(boost::asio::ip::tcp::resolver& resolver, boost::asio::ip::tcp::socket& socket,
                           const connection_options& o, transport::connect_handler h);

/// What TCP and TLS share: reads and writes go to `Socket`, close() drops the TCP socket under it
/// (and a resolve still running).
template <class Socket>
class socket_stream : public transport::stream {
public:
    void async_read_some(boost::asio::mutable_buffer b, transport::io_handler h) override {
        socket_.async_read_some(b, std::move(h));
    }
    void async_write_some(boost::asio::const_buffer b, transport::io_handler h) override {
        socket_.async_write_some(b, std::move(h));
    }
    void close() noexcept override {
        error_code ignored;
        resolver_.cancel();
        socket_.lowest_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.lowest_layer().close(ignored);
    }

protected:
    template <class... Args>
    socket_stream(boost::asio::any_io_executor ex, connection_options o, Args&&... args)
        : opts_(std::move(o)), resolver_(ex), socket_(ex, std::forward<Args>(args)...) {}

    connection_options opts_;
    boost::asio::ip::tcp::resolver resolver_;
    Socket socket_;
};

/// The stream `o` asks for: TLS when o.use_tls, else TCP. On failure (the TLS context cannot be
/// set up: CA file, certificate, key) returns null with tls_error in `ec` and the reason in `why`.
std::unique_ptr<transport::stream> make_network_stream(boost::asio::any_io_executor ex, const connection_options& o,
                                                       error_code& ec, std::string& why);

}  // namespace amqp::detail
