// Private: the streams a connection uses outside tests, TCP and TLS over TCP.
#pragma once

#include <amqp/connection_options.hpp>
#include <amqp/transport/stream.hpp>

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

namespace amqp::detail {

/// "host:port", as error texts name the broker.
std::string endpoint_text(const connection_options& o);

/// Resolve `o.host`, connect `socket` to the first address that answers, turn Nagle off.
/// `h` gets the error and a text naming what failed.
void async_resolve_connect(boost::asio::ip::tcp::resolver& resolver, boost::asio::ip::tcp::socket& socket,
                           const connection_options& o, transport::connect_handler h);

/// The connection's strand: the executor a stream is made on and completes its operations on.
using connection_strand = boost::asio::strand<boost::asio::any_io_executor>;

/// What TCP and TLS share: reads and writes go to `Socket`, close() drops the TCP socket under it
/// (and a resolve still running).
///
/// Reads and writes are the hot path (one of each per request and reply): the socket runs on the
/// strand's inner executor and each operation's completion is bound to the strand by its concrete
/// type. Handing Asio the type-erased handler instead makes it track work through two type-erased
/// executors per operation (the strand held in an `any_io_executor` is copied to the heap each
/// time): about 2,000 instructions and a malloc per read or write, measured with callgrind.
template <class Socket>
class socket_stream : public transport::stream {
public:
    void async_read_some(boost::asio::mutable_buffer b, transport::io_handler h) override {
        socket_.async_read_some(b, boost::asio::bind_executor(strand_, forward{std::move(h)}));
    }
    void async_write_some(boost::asio::const_buffer b, transport::io_handler h) override {
        socket_.async_write_some(b, boost::asio::bind_executor(strand_, forward{std::move(h)}));
    }
    void close() noexcept override {
        error_code ignored;
        resolver_.cancel();
        socket_.lowest_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket_.lowest_layer().close(ignored);
    }

protected:
    template <class... Args>
    socket_stream(const connection_strand& strand, connection_options o, Args&&... args)
        : opts_(std::move(o)),
          strand_(strand),
          resolver_(strand.get_inner_executor()),
          socket_(strand.get_inner_executor(), std::forward<Args>(args)...) {}

    connection_options opts_;
    connection_strand strand_;
    boost::asio::ip::tcp::resolver resolver_;
    Socket socket_;

private:
    // The completion without the caller's executor: Asio delivers it through the strand it is
    // bound to, and it calls the caller's handler in place.
    struct forward {
        transport::io_handler h;
        void operator()(error_code ec, std::size_t n) { std::move(h)(ec, n); }
    };
};

/// The stream `o` asks for: TLS when o.use_tls, else TCP. On failure (the TLS context cannot be
/// set up: CA file, certificate, key) returns null with tls_error in `ec` and the reason in `why`.
std::unique_ptr<transport::stream> make_network_stream(const connection_strand& strand, const connection_options& o,
                                                       error_code& ec, std::string& why);

}  // namespace amqp::detail
