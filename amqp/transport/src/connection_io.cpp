// The connection's writes (strand only): what the machine has to say goes out on the stream, in
// place when the stream can take it at once, else asynchronously; a write error ends the connection.
#include "connection_impl.hpp"

#include <algorithm>

namespace amqp::detail {

void connection_impl::start_write() {
    machine_.take_output(write_buf_);
    writing_ = true;
    // Written in place when the stream can, the output needs no completion and no trip through
    // the event loop (an epoll round per RPC on a plain socket). would_block and
    // operation_not_supported write nothing: the rest goes asynchronously, as all of it would.
    error_code ec;
    written_ = stream_->try_write_some(asio::buffer(write_buf_), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::operation_not_supported) {
        // The failure takes the path an asynchronous write's does, from the strand: the machine
        // must not see it inside the pump that started the write.
        asio::post(strand_, [self = shared_from_this(), ec] { self->on_written(ec, 0); });
    } else if (written_ < write_buf_.size()) {
        write_rest();
    } else {
        finish_write();  // pump(), our caller, goes on from here
    }
}

void connection_impl::write_rest() {
    stream_->async_write_some(asio::buffer(write_buf_.data() + written_, write_buf_.size() - written_),
                              asio::bind_executor(strand_, [self = shared_from_this()](error_code e, std::size_t m) {
                                  self->on_written(e, m);
                              }));
}

void connection_impl::on_written(error_code ec, std::size_t n) {
    if (link_ != link::up) {
        writing_ = false;
        return;
    }
    if (ec) {
        writing_ = false;
        machine_.on_transport_closed(ec, now());
        pump();
        return;
    }
    written_ += n;
    if (written_ < write_buf_.size()) {
        write_rest();
        return;
    }
    finish_write();
    pump();
}

void connection_impl::finish_write() {
    writing_ = false;
    // One huge message must not pin its buffer for the connection's lifetime, but a buffer the
    // writes still fill is kept: freed and grown again per write, its pages were faulted in
    // afresh each time (most of our client's CPU at 1 MiB bodies, inflight 8).
    if (write_buf_.capacity() > std::max(std::size_t{4} << 20, 4 * write_buf_.size())) byte_buffer().swap(write_buf_);
}

}  // namespace amqp::detail
