// An in-memory byte stream for the transport's unit tests (after Boost.MySQL's test_stream and
// Beast's test::stream): the peer's bytes are scripted, what the client writes is captured, and
// the Nth read or write can be made to fail (Beast's fail_count). The peer can also hang up
// (EOF after its last byte) or stay silent (a read waits until the stream is closed).
#pragma once

#include <amqp/transport/stream.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>

namespace amqp_test {

/// The peer's side, shared by the test and the stream the connection owns.
class test_peer : public std::enable_shared_from_this<test_peer> {
public:
    explicit test_peer(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// Bytes the client can read next.
    void send(amqp::bytes_view bytes);
    /// EOF once the bytes sent so far have been read.
    void hang_up();
    /// Called with each chunk the client writes (the scripted peer's reactions go here).
    std::function<void(test_peer&, amqp::bytes_view)> on_write;

    /// Fail the Nth read / write started (1-based; 0: never) with `ec`.
    void fail_read_at(std::size_t n, amqp::error_code ec);
    void fail_write_at(std::size_t n, amqp::error_code ec);
    /// async_connect fails with `ec` (the text says so).
    amqp::error_code connect_error;

    /// What try_write_some does: not offered (the connection writes asynchronously), writes all,
    /// writes the first half (the connection writes the rest asynchronously), or would block.
    /// Each call counts as a write, and the Nth write's fault fails it in place.
    enum class in_place { unsupported, whole, half, would_block };
    in_place in_place_writes = in_place::unsupported;

    const amqp::byte_buffer& written() const noexcept { return written_; }
    std::size_t reads() const noexcept { return reads_; }
    std::size_t writes() const noexcept { return writes_; }
    std::size_t async_writes() const noexcept { return async_writes_; }
    bool fault_hit() const noexcept { return fault_hit_; }
    bool stream_closed() const noexcept { return closed_; }
    bool stream_destroyed() const noexcept { return destroyed_; }

    /// The stream the connection will own.
    std::unique_ptr<amqp::transport::stream> make_stream();

private:
    friend class test_stream;
    void read(boost::asio::mutable_buffer b, amqp::transport::io_handler h);
    void write(boost::asio::const_buffer b, amqp::transport::io_handler h);
    std::size_t try_write(boost::asio::const_buffer b, amqp::error_code& ec);
    void capture(boost::asio::const_buffer b);
    void close();
    void serve_pending_read();
    void post(amqp::transport::io_handler h, amqp::error_code ec, std::size_t n);

    boost::asio::any_io_executor ex_;
    amqp::byte_buffer input_;
    std::size_t input_pos_ = 0;
    bool hung_up_ = false;
    amqp::byte_buffer written_;
    std::size_t reads_ = 0;
    std::size_t writes_ = 0;
    std::size_t async_writes_ = 0;
    std::size_t fail_read_at_ = 0;
    std::size_t fail_write_at_ = 0;
    amqp::error_code read_error_;
    amqp::error_code write_error_;
    bool fault_hit_ = false;
    bool closed_ = false;
    bool destroyed_ = false;
    std::optional<amqp::transport::io_handler> pending_read_;
    // Outstanding work while a read waits, as a socket's pending read is: an io_context's run()
    // returns only once every operation the connection started has completed.
    boost::asio::any_io_executor pending_work_;
    boost::asio::mutable_buffer pending_buf_;
};

}  // namespace amqp_test
