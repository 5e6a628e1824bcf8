// The RPC client: one connection and one reply consumer shared by any number of concurrent calls
// from any threads. Each call publishes fib(n)'s request to the server's queue with a unique
// correlation_id and reply_to, and completes with the reply that carries that id, a timeout, a
// 312 NO_ROUTE return, an error reply, or the loss of the connection: exactly one of them.
#pragma once

#include <rpc/error.hpp>
#include <rpc/fibonacci.hpp>

#include <amqp/connection_options.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

namespace rpc {

namespace detail {
class client_impl;
}

/// How a client reaches its server and receives replies.
struct client_options {
    /// Requests go to the default exchange with this routing key: the server's queue.
    std::string queue = "rpc_queue";
    /// false: an exclusive, server-named reply queue (as the tutorial). true: RabbitMQ's direct
    /// reply-to pseudo-queue amq.rabbitmq.reply-to (no queue is created).
    bool direct_reply_to = false;
    /// Timeout of call(n) when none is given.
    std::chrono::milliseconds default_timeout{30000};
    /// After the loss of the connection (broker restart, network), the next blocking call()
    /// first reconnects (new connection, channel and reply queue; one attempt, which throws
    /// call_error if it fails). Calls pending at the loss fail at once with connection_lost
    /// either way; async_call does not reconnect (it must not block the caller's executor).
    bool reconnect = false;
};

/// Counters of what the client saw; replies that match no pending call are dropped, never handed
/// to another caller.
struct client_stats {
    std::uint64_t calls = 0;               ///< calls published
    std::uint64_t replies = 0;             ///< replies matched to a pending call
    std::uint64_t timeouts = 0;            ///< calls that timed out
    std::uint64_t returned = 0;            ///< requests the broker returned (NO_ROUTE)
    std::uint64_t late_replies = 0;        ///< replies to calls that had already timed out
    std::uint64_t unknown_replies = 0;     ///< replies with a correlation id we are not waiting for
    std::uint64_t replies_without_id = 0;  ///< replies with no correlation id at all
    std::uint64_t reconnects = 0;          ///< reconnections after a lost connection (options.reconnect)
};

/// An RPC client for the Fibonacci service. Thread-safe: call/async_call from any thread.
///
/// The connection runs on `ex`, which the caller keeps running (e.g. an io_context on its own
/// thread). Synchronous members (start, call, close) block and must not be called from a thread
/// running `ex`. Completion handlers run on their associated executor (inline on the connection's
/// strand for plain callbacks, which must not block).
class rpc_client {
public:
    rpc_client(boost::asio::any_io_executor ex, amqp::connection_options conn, client_options opts = {});
    /// Fails pending calls and closes the connection without waiting (call close() first for a
    /// clean close).
    ~rpc_client();
    rpc_client(const rpc_client&) = delete;
    rpc_client& operator=(const rpc_client&) = delete;

    /// Connect, open a channel, set up the reply queue and its consumer. Throws call_error
    /// (amqp's error code and the broker's reason) on failure.
    void start();
    /// The same without blocking, for callers on the executor (e.g. coroutines). Completion
    /// signature void(error_code): amqp's codes (client_error, reply_code) on failure.
    template <class Token>
    auto async_start(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_async(std::move(handler)); }, token);
    }

    /// Ask for fib(n). Completion signature void(error_code, big_int). Errors are errc values
    /// (timeout, no_route, remote_error, connection_lost, bad_reply, not_started); the text is in
    /// `diag.message`, the correlation id in `diag.correlation_id` (set when the request is
    /// published: at once for callbacks and use_future, when awaited for lazy tokens). `diag`
    /// must outlive the call.
    template <class Token>
    auto async_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics& diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, big_int)>(
            [this](auto handler, std::uint64_t n, std::chrono::milliseconds t, diagnostics* d) {
                start_call(n, t, d, std::move(handler));
            },
            token, n, timeout, &diag);
    }
    /// The same, for callers who need only the error code.
    template <class Token>
    auto async_call(std::uint64_t n, std::chrono::milliseconds timeout, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, big_int)>(
            [this](auto handler, std::uint64_t n, std::chrono::milliseconds t) {
                start_call(n, t, nullptr, std::move(handler));
            },
            token, n, timeout);
    }

    /// Blocking call; throws call_error whose reason() is e.g. "RPC call timed out after 5 seconds".
    big_int call(std::uint64_t n, std::chrono::milliseconds timeout);
    big_int call(std::uint64_t n);

    /// Fail every pending call (connection_lost, "RPC client closed"), then close the connection
    /// with the close handshake. Idempotent.
    void close();

    /// The queue replies come to (the server-named queue, or amq.rabbitmq.reply-to).
    std::string reply_queue() const;
    /// Calls waiting for a reply right now.
    std::size_t pending_calls() const;
    client_stats stats() const;
    /// True after start() until close() or the loss of the connection.
    bool is_running() const;
    /// True while the broker blocks the connection (connection.blocked, a resource alarm such as
    /// memory): calls are still published but the broker reads nothing, so they end by timeout.
    bool is_blocked() const;

private:
    void start_async(boost::asio::any_completion_handler<void(error_code)> handler);
    void start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag,
                    boost::asio::any_completion_handler<void(error_code, big_int)> handler);

    std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace rpc
