// Private: the Asio side of a connection. It runs the protocol state machine over a TCP or TLS
// stream; the machine decides, this moves bytes, arms timers and calls handlers.
//
// Threading: `mu_` guards the machine and everything shared with the public API's callers
// (any thread); the socket, the timers and the consumer tables belong to the strand. Handlers are
// never called with `mu_` held, so they may call back into the API.
#pragma once

#include <amqp/connection.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/codec/trace.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace amqp::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// Complete a user's handler: run on `ex`, then on the handler's associated executor (Asio's
/// rules), never inside the initiating call. (Not asio::append: in Boost 1.81 it re-wraps an
/// lvalue any_completion_handler in itself until the stack overflows.)
template <class Handler, class... Args>
void complete_on(const asio::any_io_executor& ex, Handler&& h, Args&&... args) {
    asio::post(ex, [h = std::forward<Handler>(h), t = std::make_tuple(std::forward<Args>(args)...)]() mutable {
        auto hex = asio::get_associated_executor(h);
        asio::dispatch(hex, [h = std::move(h), t = std::move(t)]() mutable { std::apply(std::move(h), std::move(t)); });
    });
}

/// A pending synchronous request: called once with the reply (on success) or an error.
using reply_op = asio::any_completion_handler<void(error_code, const method*)>;

/// Per-channel state of the transport: handlers, consumers and the requests awaiting replies.
class channel_impl {
public:
    channel_impl(std::weak_ptr<connection_impl> c, std::uint16_t channel_id) : conn(std::move(c)), id(channel_id) {}

    std::weak_ptr<connection_impl> conn;  // weak: a channel handle must not keep the socket alive
    const std::uint16_t id;
    std::atomic<bool> open{false};

    // Guarded by the connection's mutex.
    std::deque<reply_op> ops;  // in the order the machine will answer them
    return_handler on_return;
    std::function<void(std::string_view)> on_cancelled;
    close_handler on_close;
    close_reason last_reason;

    // Strand only.
    std::map<std::string, delivery_handler, std::less<>> consumers;
};

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    connection_impl(asio::any_io_executor ex, connection_options opts);
    ~connection_impl();

    asio::any_io_executor get_executor() const noexcept { return ex_; }
    const connection_options& options() const noexcept { return opts_; }

    void start_open(asio::any_completion_handler<void(error_code)> h);
    void start_open_channel(asio::any_completion_handler<void(error_code, channel)> h);
    // `deadline`: when the socket is closed at the latest, close-ok or not.
    void start_close(asio::any_completion_handler<void(error_code)> h,
                     std::optional<asio::steady_timer::time_point> deadline = std::nullopt);
    /// Per-operation cancellation of async_open: give up the attempt unless already open.
    void cancel_open();
    /// The owning `connection` is going away: close the socket without a handshake.
    void shutdown();

    /// Queue a synchronous method on a channel; `op` gets the reply or the error.
    void send_sync(channel_impl& ch, const method& m, reply_op op);
    error_code send_async(channel_impl& ch, const method& m);
    error_code publish(channel_impl& ch, const basic_publish& m, const basic_properties& props, bytes_view body);

    /// Run `f` with the mutex held (for handler setters and reads of guarded state).
    template <class F>
    decltype(auto) locked(F&& f) {
        std::lock_guard lk(mu_);
        return f();
    }

    /// Complete a user's handler on its associated executor (default: the connection's).
    template <class Handler, class... Args>
    void complete(Handler&& h, Args&&... args) {
        complete_on(ex_, std::forward<Handler>(h), std::forward<Args>(args)...);
    }

    std::atomic<bool> open_{false};
    std::atomic<bool> blocked_{false};
    std::atomic<std::uint32_t> frame_max_{0};
    std::atomic<std::uint16_t> heartbeat_{0};
    std::atomic<std::uint16_t> channel_max_{0};

    // Guarded by mu_.
    close_handler on_close_;
    blocked_handler on_blocked_;
    close_reason last_reason_;
    protocol::connection_machine machine_;

private:
    // Strand-side steps of the open.
    void do_open();
    void on_resolved(error_code ec, tcp::resolver::results_type results);
    void on_connected(error_code ec);
    void on_tls_handshake(error_code ec);
    void begin_amqp();
    void read_more();
    void on_read(error_code ec, std::size_t n);
    void do_write();
    void on_written(error_code ec);
    void arm_heartbeat();
    void arm_close_timer();
    void bring_close_deadline_forward(std::optional<asio::steady_timer::time_point> deadline);
    void process_events();
    void close_socket();
    void fail_locally(close_reason r);  // strand
    std::optional<asio::any_completion_handler<void(error_code)>> take_open_handler();  // mu_ held

    // Call with mu_ held: make sure the pending output gets written.
    void request_write_locked();

    template <class Buffers, class Handler>
    void stream_read(const Buffers& b, Handler&& h);
    template <class Buffers, class Handler>
    void stream_write(const Buffers& b, Handler&& h);

    asio::any_io_executor ex_;
    asio::strand<asio::any_io_executor> strand_;
    connection_options opts_;
    trace::format_options trace_opts_;  ///< AMQP_TRACE=time: this connection's id and the time

    std::mutex mu_;
    // Guarded by mu_.
    // optional + emplace: Boost 1.81's any_completion_handler move-assignment recurses forever.
    std::optional<asio::any_completion_handler<void(error_code)>> open_handler_;
    std::vector<asio::any_completion_handler<void(error_code)>> close_handlers_;
    std::map<std::uint16_t, std::shared_ptr<channel_impl>> channels_;
    bool started_ = false;
    bool user_closed_ = false;  // close() or shutdown(): no on_close callbacks, ops get operation_aborted
    bool socket_ready_ = false; // the AMQP exchange has begun and the socket is still open
    bool writing_ = false;
    bool ever_opened_ = false;
    bool closed_seen_ = false;  // the machine's closed event has been handled

    // Strand only.
    tcp::resolver resolver_;
    tcp::socket tcp_;
    std::unique_ptr<asio::ssl::context> ssl_ctx_;
    std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
    asio::steady_timer open_timer_;
    asio::steady_timer heartbeat_timer_;
    asio::steady_timer close_timer_;
    std::vector<std::uint8_t> read_buf_;
    byte_buffer write_buf_;
    bool socket_closed_ = false;
    // close() calls made after the machine had already reported the connection closed (a fault,
    // or the broker's close): they complete once the socket is closed, bounded by the close timer.
    std::vector<asio::any_completion_handler<void(error_code)>> socket_close_waiters_;
    bool close_timer_armed_ = false;
    // The earliest deadline a close() caller gave (strand): the close timer fires by then.
    std::optional<asio::steady_timer::time_point> close_deadline_;
    bool reading_ = false;
};

}  // namespace amqp::detail
