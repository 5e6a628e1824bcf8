// The byte stream a connection runs the protocol over: TCP, TLS over TCP, or an in-memory stream
// in tests. The connection only asks it to connect, to read some bytes, to write some bytes and
// to close; everything AMQP is the protocol machine's business.
#pragma once

#include <amqp/codec/error.hpp>

#include <cstddef>
#include <string>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

namespace amqp::transport {

/// Completion of a read or a write: the error, and the bytes moved (may be fewer than asked).
using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
/// Completion of connect: on failure, the error and a text for the user that says what could
/// not be reached and why (never a secret).
using connect_handler = boost::asio::any_completion_handler<void(error_code, std::string)>;

/// One full-duplex byte stream, used by one connection.
///
/// Contract: at most one connect, then at most one read and one write outstanding at a time.
/// Every asynchronous operation completes exactly once, through the handler's associated executor, never
/// inside the initiating call. After close(), outstanding operations complete with an error
/// (operation_aborted or the socket's own); later ones are not started. Not thread-safe: the
/// connection calls it from its strand only.
class stream {
public:
    virtual ~stream() = default;

    /// Reach the peer (resolve, connect, TLS handshake: whatever this stream needs).
    virtual void async_connect(connect_handler h) = 0;
    /// Read at least one byte into `b`; EOF is `boost::asio::error::eof`.
    virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
    /// Write at least one byte of `b`.
    virtual void async_write_some(boost::asio::const_buffer b, io_handler h) = 0;
    /// Write what the stream can take of `b` now, without waiting and without a completion; returns
    /// the bytes written. `would_block` (nothing could be written now) or `operation_not_supported`
    /// (this stream has no such write; the default) leave the stream as it was: the caller writes
    /// with async_write_some instead. Any other error is the stream's failure, as an
    /// async_write_some completing with it would be. Called only while no write is outstanding.
    virtual std::size_t try_write_some(boost::asio::const_buffer b, error_code& ec) {
        (void)b;
        ec = boost::asio::error::operation_not_supported;
        return 0;
    }
    /// Drop the stream at once (no TLS close_notify, no lingering). Idempotent.
    virtual void close() noexcept = 0;
    /// True for TLS: a plain stream whose peer hangs up before speaking may be at a TLS port.
    virtual bool is_tls() const noexcept = 0;
};

}  // namespace amqp::transport
