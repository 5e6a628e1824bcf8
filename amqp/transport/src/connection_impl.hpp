// Private: the Asio side of a connection, an executor of the protocol machine. One run loop on
// the strand (pump) does only what the machine asks: write its output, read into it, wake it at
// its next deadline, close the stream; and it hands the machine's events to the channels' and
// the user's handlers (connection_events.cpp).
//
// Threading: the machine, the stream, the timer, the channel tables and every handler belong to
// the strand. Commands from other threads are carried there (dispatch: inline when already on
// the strand, posted otherwise); what the public API reads synchronously from any thread is a
// published snapshot (atomics, and `snapshot_mu_` for the close reason and server properties).
#pragma once

#include "handler_registry.hpp"
#include "publish_confirms.hpp"

#include <amqp/codec/trace.hpp>
#include <amqp/connection.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/transport/stream.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace amqp::detail {

namespace asio = boost::asio;

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

/// A pending synchronous request: called once, on the strand, with the reply or an error.
using reply_op = asio::any_completion_handler<void(error_code, const method*)>;
using void_handler = asio::any_completion_handler<void(error_code)>;

/// Per-channel state of the transport.
class channel_impl {
public:
    channel_impl(std::weak_ptr<connection_impl> c, std::uint16_t channel_id) : conn(std::move(c)), id(channel_id) {}

    std::weak_ptr<connection_impl> conn;  // weak: a channel handle must not keep the socket alive
    const std::uint16_t id;
    std::atomic<bool> open{false};  // snapshot for channel::is_open()

    // Strand only.
    std::deque<reply_op> ops;  // in the order the machine will answer them
    return_handler on_return;
    std::function<void(std::string_view)> on_cancelled;
    close_handler on_close;
    std::map<std::string, delivery_handler, std::less<>> consumers;
    publish_confirms confirms;  // async_publish calls waiting for the broker's answer

    /// Snapshot for channel::last_close_reason() (any thread).
    close_reason last_reason() const {
        std::lock_guard lk(reason_mu_);
        return last_reason_;
    }
    void set_last_reason(close_reason r) {
        std::lock_guard lk(reason_mu_);
        last_reason_ = std::move(r);
    }

private:
    mutable std::mutex reason_mu_;
    close_reason last_reason_;
};

class owned_message;

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    /// `stream`: what to run over; null: TCP or TLS as `opts` says, made when opening.
    connection_impl(asio::any_io_executor ex, connection_options opts, std::unique_ptr<transport::stream> stream);
    ~connection_impl();

    asio::any_io_executor get_executor() const noexcept { return ex_; }
    const connection_options& options() const noexcept { return opts_; }

    // ---- commands (any thread) -------------------------------------------------------------
    void start_open(void_handler h);
    void start_open_channel(asio::any_completion_handler<void(error_code, channel)> h);
    // `deadline`: when the stream is closed at the latest, close-ok or not.
    void start_close(void_handler h, std::optional<asio::steady_timer::time_point> deadline = std::nullopt);
    /// Per-operation cancellation of async_open: give up the attempt unless already open.
    void cancel_open();
    /// The owning `connection` is going away: close the stream without a handshake.
    void shutdown();
    /// Join the execution context's registry (once, right after construction: needs
    /// weak_from_this), so that the context's shutdown reaches drop_handlers().
    void attach();
    /// The execution context is shutting down (no thread runs it): destroy every stored handler
    /// without calling it, which breaks the cycle of a handler that owns its connection.
    void drop_handlers();

    /// Queue a synchronous method on a channel; `op` gets the reply or the error, on the strand.
    void send_sync(const std::shared_ptr<channel_impl>& ch, const method& m, reply_op op);
    /// Queue a method that has no reply. Off the strand only the errors known at once are
    /// returned (not_open, encoding); the machine's own come too late to report.
    error_code send_async(const std::shared_ptr<channel_impl>& ch, const method& m);
    error_code publish(const std::shared_ptr<channel_impl>& ch, const basic_publish& m, const basic_properties& props,
                       bytes_view body);
    /// async_publish: queue the copied message; `h` completes when the frames are queued, or on
    /// a confirm-mode channel with the broker's answer (publish_confirms). Any thread.
    void publish(const std::shared_ptr<channel_impl>& ch, std::shared_ptr<const owned_message> msg, void_handler h);

    /// Run `f` on the strand: inline if already there, else handed over in order with the other
    /// threads' commands (one post wakes the strand for all those queued meanwhile).
    template <class F>
    void on_strand(F&& f) {
        if (strand_.running_in_this_thread()) {
            f();
            return;
        }
        bool wake = false;
        {
            std::lock_guard lk(handoff_mu_);
            handoff_.emplace_back(asio::any_completion_handler<void()>(std::forward<F>(f)));
            wake = !std::exchange(handoff_posted_, true);
        }
        // The posted drain keeps this alive until the queued commands (which capture `this`) ran.
        if (wake) asio::post(strand_, [self = shared_from_this()] { self->run_handoff(); });
    }

    /// Complete a user's handler on its associated executor (default: the connection's).
    template <class Handler, class... Args>
    void complete(Handler&& h, Args&&... args) {
        complete_on(ex_, std::forward<Handler>(h), std::forward<Args>(args)...);
    }

    // ---- snapshot (any thread) ---------------------------------------------------------------
    bool is_open() const noexcept { return status_ == status::open; }
    bool is_blocked() const noexcept { return blocked_; }
    std::uint32_t frame_max() const noexcept { return frame_max_; }
    std::uint16_t heartbeat() const noexcept { return heartbeat_; }
    std::uint16_t channel_max() const noexcept { return channel_max_; }
    close_reason last_reason() const;
    field_table server_properties() const;

    // Strand only: the connection's long-lived handlers.
    close_handler on_close_;
    blocked_handler on_blocked_;

private:
    /// The user-visible life of the connection (the machine has the protocol's own states).
    enum class status : std::uint8_t { idle, opening, open, closed };
    /// The stream's life: never started, connecting, carrying bytes, closed.
    enum class link : std::uint8_t { idle, connecting, up, down };

    // The run loop (strand).
    void run_handoff();
    void do_open();
    void on_connected(error_code ec, std::string why);
    void pump();
    void start_read();
    void on_read(error_code ec, std::size_t n);
    void start_write();
    void on_written(error_code ec, std::size_t n);
    void write_rest();
    void finish_write();
    void arm_timer();
    static protocol::time_point now() { return protocol::clock::now(); }
    void on_timer();
    void close_by(protocol::time_point t);
    void fail_locally(error_code ec, std::string text);
    void close_link();

    // Events (strand; connection_events.cpp).
    void handle(protocol::event& ev);
    void on_opened();
    void on_reply(protocol::event& ev);
    void on_confirm(const protocol::event& ev);
    void on_returned(const protocol::event& ev);
    void on_channel_closed(const protocol::event& ev);
    void on_closed(const protocol::event& ev);
    std::shared_ptr<channel_impl> find_channel(std::uint16_t id) const;

    asio::any_io_executor ex_;
    asio::strand<asio::any_io_executor> strand_;
    std::shared_ptr<live_connections> registry_;  // the context's, set by attach()
    const connection_options opts_;
    trace::format_options trace_opts_;  ///< AMQP_TRACE=time: this connection's id and the time

    // Snapshot, written on the strand, read anywhere.
    std::atomic<status> status_{status::idle};
    std::atomic<bool> blocked_{false};
    std::atomic<std::uint32_t> frame_max_{0};
    std::atomic<std::uint16_t> heartbeat_{0};
    std::atomic<std::uint16_t> channel_max_{0};
    mutable std::mutex snapshot_mu_;
    close_reason last_reason_;  // guarded by snapshot_mu_
    byte_buffer server_props_;  // guarded by snapshot_mu_

    // Commands from other threads on their way to the strand: the one lock here guards this
    // hand-over queue only, never the machine.
    std::mutex handoff_mu_;
    std::vector<asio::any_completion_handler<void()>> handoff_;
    bool handoff_posted_ = false;

    // Strand only.
    protocol::connection_machine machine_;
    std::unique_ptr<transport::stream> stream_;
    link link_ = link::idle;
    bool user_closed_ = false;  // close() or shutdown(): no on_close callbacks, ops get operation_aborted
    bool pumping_ = false;      // pump() is draining events: a handler's command must not re-enter it
    bool reading_ = false;
    bool writing_ = false;
    std::size_t written_ = 0;                   // of write_buf_
    std::optional<void_handler> open_handler_;  // optional + emplace: Boost 1.81's move-assignment recurses
    std::vector<void_handler> close_handlers_;
    // close() calls made after the connection was reported closed: they complete once the stream
    // is closed (our close-ok or close 50x may still be going out), bounded by the close deadline.
    std::vector<void_handler> stream_close_waiters_;
    std::map<std::uint16_t, std::shared_ptr<channel_impl>> channels_;
    asio::steady_timer timer_;
    std::optional<protocol::time_point> timer_at_;  // what timer_ is armed for
    std::optional<protocol::time_point> open_by_;   // connection_timeout: open by then or fail
    std::optional<protocol::time_point> close_by_;  // close-ok (or a caller's deadline) by then, or drop the stream
    byte_buffer write_buf_;
};

}  // namespace amqp::detail
