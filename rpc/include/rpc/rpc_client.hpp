// The RPC client: one connection and one reply consumer shared by any number of concurrent calls
// from any threads. Each request is published to the server's queue with a unique correlation_id
// and reply_to, and completes with the reply that carries that id, a timeout, a 312 NO_ROUTE
// return, or the loss of the connection: exactly one of them. request()/async_request() carry
// any body and hand back the reply's body as it came; call(n)/async_call(n) are the Fibonacci
// service on top of them (request "n", reply decoded: a number, an error reply, or malformed).
#pragma once

#include <rpc/error.hpp>
#include <rpc/fibonacci.hpp>
#include <rpc/reply_format.hpp>

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
    /// After the loss of the connection or of the reply consumer (broker restart, network, the
    /// reply queue deleted, the channel closed by the broker), the next call of any kind starts
    /// one reconnection attempt in the background (new connection, channel, reply queue and
    /// consumer) without blocking its caller; it and the calls made meanwhile wait for it, each
    /// bounded by its own timeout, and are published once it succeeds, or fail with
    /// connection_lost ("reconnecting failed: ...") when it fails. After a failed attempt the
    /// next one waits reconnect_min, doubling after each further failure up to reconnect_max
    /// (a call made meanwhile is held until then), so that callers retrying in a loop do not
    /// hammer a broker that is down. Calls pending at the loss fail at once with
    /// connection_lost either way.
    bool reconnect = false;
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
};

/// One request of the generic API: any body, sent as is.
struct request_message {
    std::string body;
    std::string content_type;  ///< sent as the content_type property when not empty
    /// 0: client_options::default_timeout.
    std::chrono::milliseconds timeout{0};
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
    std::uint64_t reconnect_attempts = 0;  ///< reconnection attempts, failed ones included
};

/// An RPC client: any request/reply service (request/async_request), and the Fibonacci service
/// (call/async_call). Thread-safe: call from any thread.
///
/// The connection runs on `ex`, which the caller keeps running (e.g. an io_context on its own
/// thread). Synchronous members (start, request, call, close) block and must not be called from
/// a thread running `ex`. Completion handlers run on their associated executor (inline on the
/// connection's strand for plain callbacks, which must not block).
///
/// Limits and flow control:
/// - A request body above the connection's max_message_size fails at once (message_too_large);
///   one above the broker's max_message_size makes the broker close the channel (406
///   PRECONDITION_FAILED, "message size N is larger than configured max size M"): every pending
///   call fails at once with that text (connection_lost); with `reconnect` the next call sets up
///   a new channel.
/// - A reply whose declared body size exceeds max_message_size is refused before any byte of it
///   is stored (the client turns on connection_options::deliver_oversized): its call alone fails
///   at once with message_too_large naming the size and the limit; the consumer goes on.
/// - While the broker blocks the connection (connection.blocked, a resource alarm), new
///   requests are held by the client, not written: they are published when the broker
///   unblocks, or end by their own timeout with a text that says the connection was blocked
///   and why ("low on memory"). The first request after the alarm may still go out: the broker
///   announces the block when it next reads a publish.
/// - The broker cancelling the reply consumer (basic.cancel, e.g. the reply queue deleted)
///   fails every pending call at once (connection_lost): their replies could never arrive.
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

    /// Send `req` and complete with the reply's body and content_type, whatever they hold (no
    /// decoding: a server's error reply is a reply too). Completion signature
    /// void(error_code, reply). Errors: timeout, no_route, connection_lost, message_too_large,
    /// not_started; the text in `diag.message`. `diag` must outlive the call.
    template <class Token>
    auto async_request(request_message req, diagnostics& diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, reply)>(
            [this](auto handler, request_message r, diagnostics* d) {
                start_request(std::move(r), d, std::move(handler));
            },
            token, std::move(req), &diag);
    }
    template <class Token>
    auto async_request(request_message req, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, reply)>(
            [this](auto handler, request_message r) { start_request(std::move(r), nullptr, std::move(handler)); },
            token, std::move(req));
    }
    /// Blocking request; throws call_error with the reason.
    reply request(request_message req);

    /// Blocking call; throws call_error whose reason() is e.g. "RPC call timed out after 5 seconds".
    big_int call(std::uint64_t n, std::chrono::milliseconds timeout);
    big_int call(std::uint64_t n);

    /// Fail every pending call (connection_lost, "RPC client closed"), then close the connection
    /// with the close handshake. Idempotent.
    void close();
    /// As close(), but returns by `deadline`: a broker that does not answer the close handshake
    /// by then (blocked by a resource alarm, frozen) gets its socket closed without it. A deadline
    /// already past closes the socket at once after queueing connection.close.
    void close(std::chrono::steady_clock::time_point deadline);

    /// The queue replies come to (the server-named queue, or amq.rabbitmq.reply-to).
    std::string reply_queue() const;
    /// Calls waiting for a reply right now.
    std::size_t pending_calls() const;
    client_stats stats() const;
    /// True after start() until close() or the loss of the connection.
    bool is_running() const;
    /// True while the broker blocks the connection (connection.blocked, a resource alarm such as
    /// memory): new requests wait in the client until it unblocks or their timeout.
    bool is_blocked() const;
    /// Requests held by the client right now (blocked connection, or waiting for a reconnect).
    std::size_t held_requests() const;

private:
    void start_request(request_message req, diagnostics* diag,
                       boost::asio::any_completion_handler<void(error_code, reply)> handler);
    void start_async(boost::asio::any_completion_handler<void(error_code)> handler);
    void start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag,
                    boost::asio::any_completion_handler<void(error_code, big_int)> handler);

    std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace rpc
