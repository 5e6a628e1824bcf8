// The RPC client: one connection and one reply consumer shared by any number of concurrent
// requests from any threads. Each request is published to the server's queue with a unique
// correlation_id and reply_to, and completes with the reply that carries that id, a server's
// error reply, a timeout, a 312 NO_ROUTE return, its caller's cancellation, or the loss of the
// connection: exactly one of them. Any body goes out and comes back as it is; services put their
// own encoding on top (the Fibonacci service: fibonacci_client.hpp).
#pragma once

#include <rpc/broker_nodes.hpp>
#include <rpc/client_reply.hpp>
#include <rpc/error.hpp>

#include <amqp/connection_options.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <type_traits>

namespace rpc {

/// How a client reaches its server and receives replies.
struct client_options {
    /// Requests go to the default exchange with this routing key: the server's queue.
    std::string queue = "rpc_queue";
    /// false: an exclusive, server-named reply queue (as the tutorial). true: RabbitMQ's direct
    /// reply-to pseudo-queue amq.rabbitmq.reply-to (no queue is created).
    bool direct_reply_to = false;
    /// Timeout of a request that gives none.
    std::chrono::milliseconds default_timeout{30000};
    /// After the loss of the connection or of the reply consumer (broker restart, network, the
    /// reply queue deleted, the channel closed by the broker), the next request starts one
    /// reconnection attempt in the background (new connection, channel, reply queue and
    /// consumer) without blocking its caller; it and the requests made meanwhile wait for it,
    /// each bounded by its own timeout, and are published once it succeeds, or fail with
    /// connection_lost ("reconnecting failed: ...") when it fails. After a failed attempt the
    /// next one waits reconnect_min, doubling after each further failure up to reconnect_max
    /// (a request made meanwhile is held until then), so that callers retrying in a loop do not
    /// hammer a broker that is down. Requests pending at the loss fail at once with
    /// connection_lost either way.
    bool reconnect = false;
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
    /// Publish requests persistent (delivery_mode 2): a durable request queue (a server's
    /// queue_type classic or quorum) then keeps them over a broker restart. Costs a disk write per
    /// request on the broker; useless with a transient queue.
    bool persistent = false;
    /// Publisher confirms: the reply channel is put in confirm mode and a request counts as sent
    /// only when the broker confirmed it. A nack: an idempotent call (request_message::idempotent)
    /// is sent again, another fails with errc::not_confirmed ("the request may not have reached
    /// the queue (...); not re-sent: the call is not idempotent"); so does a non-idempotent call
    /// unconfirmed when the connection is lost. Costs a round trip per request (pipelined).
    /// Independently of it, with `reconnect`, idempotent calls pending at a lost connection are
    /// sent again after reconnecting (to the next node), with their correlation id.
    bool confirm_requests = false;
};

namespace detail {
class client_impl;
using start_handler = boost::asio::any_completion_handler<void(error_code)>;
using request_handler = boost::asio::any_completion_handler<void(error_code, reply_message)>;
void launch_start(const std::shared_ptr<client_impl>& impl, start_handler h);
// `direct`: the io_context the handler's associated executor is, when completing it on a thread
// that runs that io_context may be a plain call (what dispatch would do, without its type-erased
// executor, work counting and wrappers); null otherwise.
void launch_request(const std::shared_ptr<client_impl>& impl, request_message req, diagnostics* diag,
                    request_handler h, void* direct = nullptr);
const boost::asio::any_io_executor& client_executor(const client_impl& impl) noexcept;
// The io_context behind `ex` when it is one of io_context's own executors that run a handler inline
// when dispatched from one of its threads (not blocking.never); else null.
void* direct_context(const boost::asio::any_io_executor& ex) noexcept;
void launch_close(const std::shared_ptr<client_impl>& impl,
                  std::optional<std::chrono::steady_clock::time_point> deadline, start_handler h);

// Initiations hold the client's shared state, never the handle's `this`: an operation made with
// a lazy token (asio::deferred, use_awaitable) may be launched later, from anywhere.
struct start_initiation {
    std::shared_ptr<client_impl> impl;
    template <class Handler>
    void operator()(Handler&& h) const {
        launch_start(impl, std::forward<Handler>(h));
    }
};
struct request_initiation {
    std::shared_ptr<client_impl> impl;
    template <class Handler>
    void operator()(Handler&& h, request_message req, diagnostics* diag) const {
        void* direct = nullptr;
        const auto& fallback = client_executor(*impl);
        if constexpr (std::is_same_v<boost::asio::associated_executor_t<std::decay_t<Handler>, boost::asio::any_io_executor>,
                                     boost::asio::any_io_executor>)
            direct = direct_context(boost::asio::get_associated_executor(h, fallback));
        launch_request(impl, std::move(req), diag, std::forward<Handler>(h), direct);
    }
};
struct close_initiation {
    std::shared_ptr<client_impl> impl;
    template <class Handler>
    void operator()(Handler&& h, std::optional<std::chrono::steady_clock::time_point> deadline) const {
        launch_close(impl, deadline, std::forward<Handler>(h));
    }
};
}  // namespace detail

/// A request/reply client for any service. Thread-safe: call from any thread.
///
/// Threading: the client and its connection run on one strand of `ex`, which the caller keeps
/// running (an io_context on any number of threads, a thread pool). There is no lock and no
/// thread of the client's own. A completion handler runs on its associated executor, by
/// default `get_executor()`; it is never invoked from inside the initiating function (a request
/// that fails at once, e.g. not_started or message_too_large, completes later through the
/// executor). The blocking members (start, request, close) wait for their async twins and throw
/// call_error(errc::would_deadlock) when called on a thread that runs `ex` (the thread they
/// would wait for); use the async forms there.
///
/// Cancellation: every async_ operation reads its handler's cancellation slot. A request not yet
/// published (held: blocked connection, reconnection) accepts terminal, partial and total
/// cancellation; a request on the wire accepts terminal and partial only (it cannot be taken
/// back: the server may still run it; its reply is then dropped and counted as late). A
/// cancelled request leaves the table at once and completes with asio::error::operation_aborted.
/// async_start and async_close are not cancellable (they are bounded by the connection's own
/// timeouts and close deadline).
///
/// Limits and flow control:
/// - A request body above the connection's max_message_size fails at once (message_too_large);
///   one above the broker's max_message_size makes the broker close the channel (406
///   PRECONDITION_FAILED, "message size N is larger than configured max size M"): every pending
///   request fails at once with that text (connection_lost); with `reconnect` the next request
///   sets up a new channel.
/// - A reply whose declared body size exceeds max_message_size is refused before any byte of it
///   is stored (the client turns on connection_options::deliver_oversized): its request alone
///   fails at once with message_too_large naming the size and the limit; the consumer goes on.
/// - While the broker blocks the connection (connection.blocked, a resource alarm), new
///   requests are held by the client, not written: they are published when the broker
///   unblocks, or end by their own timeout with a text that says the connection was blocked
///   and why ("low on memory"). The first request after the alarm may still go out: the broker
///   announces the block when it next reads a publish.
/// - The broker cancelling the reply consumer (basic.cancel, e.g. the reply queue deleted)
///   fails every pending request at once (connection_lost): their replies could never arrive.
class rpc_client {
public:
    using executor_type = boost::asio::any_io_executor;

    rpc_client(executor_type ex, amqp::connection_options conn, client_options opts = {});
    /// A client of a cluster: start() tries the nodes in order (see broker_nodes) until one is
    /// set up, and fails only when every node failed (start_failure() then names each node and
    /// why). With `reconnect`, a lost connection reconnects to the next node; a failed attempt
    /// moves on to the next node after the backoff, held requests waiting, until each node
    /// failed once in a row. Error texts name the node ("host:port"). Throws
    /// std::invalid_argument when `nodes` holds none.
    rpc_client(executor_type ex, broker_nodes nodes, client_options opts = {});
    /// Fails pending requests and drops the connection without the close handshake (call close()
    /// or async_close() first for a clean close). Completions still run on the executor.
    ~rpc_client();
    rpc_client(const rpc_client&) = delete;
    rpc_client& operator=(const rpc_client&) = delete;

    /// The executor given at construction: the default executor of completion handlers.
    executor_type get_executor() const noexcept;

    /// Connect, open a channel, set up the reply queue and its consumer. Completion signature
    /// void(error_code): amqp's codes (client_error, reply_code) on failure, with the reason in
    /// start_failure(); errc::connection_lost when the connection failed during the set-up.
    template <class Token>
    auto async_start(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(detail::start_initiation{impl_}, token);
    }
    /// Blocking start. Throws call_error with the reason.
    void start();
    /// Why the last start failed (empty after a success).
    std::string start_failure() const;

    /// Send `req` and complete with the reply (body, content_type, headers). Completion signature
    /// void(error_code, reply_message). Errors (errc unless said): remote_error (the server's
    /// error reply), timeout, no_route, connection_lost, message_too_large, bad_reply, not_started,
    /// asio::error::operation_aborted (cancelled); the text in `diag.message`. `diag.correlation_id`
    /// is set in the initiating function for eager tokens, when the operation starts for lazy ones.
    /// `diag` must outlive the operation.
    template <class Token>
    auto async_request(request_message req, diagnostics& diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, reply_message)>(detail::request_initiation{impl_},
                                                                                   token, std::move(req), &diag);
    }
    /// The same, for callers who need only the error code.
    template <class Token>
    auto async_request(request_message req, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, reply_message)>(
            detail::request_initiation{impl_}, token, std::move(req), static_cast<diagnostics*>(nullptr));
    }
    /// Blocking request; throws call_error with the reason.
    reply_message request(request_message req);

    /// Fail every pending request (connection_lost, "RPC client closed"), cancel the client's
    /// timers, then close the connection with the close handshake (bounded by the connection's
    /// close timeout). Idempotent. Completion signature void(error_code); never fails.
    template <class Token>
    auto async_close(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            detail::close_initiation{impl_}, token, std::optional<std::chrono::steady_clock::time_point>{});
    }
    /// As async_close, but done by `deadline`: a broker that does not answer the close handshake
    /// by then (blocked by a resource alarm, frozen) gets its socket closed without it.
    template <class Token>
    auto async_close(std::chrono::steady_clock::time_point deadline, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            detail::close_initiation{impl_}, token, std::optional<std::chrono::steady_clock::time_point>{deadline});
    }
    /// Blocking forms of async_close.
    void close();
    void close(std::chrono::steady_clock::time_point deadline);

    /// The queue replies come to (the server-named queue, or amq.rabbitmq.reply-to).
    std::string reply_queue() const;
    /// Requests waiting for a reply right now.
    std::size_t pending_calls() const;
    client_stats stats() const;
    /// True after start() until close() or the loss of the connection.
    bool is_running() const;
    /// True while the broker blocks the connection (connection.blocked, a resource alarm such as
    /// memory): new requests wait in the client until it unblocks or their timeout.
    bool is_blocked() const;
    /// Requests held by the client right now (blocked connection, or waiting for a reconnect).
    std::size_t held_requests() const;
    /// The default timeout (client_options::default_timeout).
    std::chrono::milliseconds default_timeout() const;

private:
    std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace rpc
