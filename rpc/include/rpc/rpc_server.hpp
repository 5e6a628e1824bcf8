// The RPC server: one connection serving one or more services, each a request queue with its
// handler. For each request it runs the handler (inline on the connection's thread, on a worker
// pool the user asks for, or asynchronously on an executor), publishes the reply to the request's
// reply_to with the same correlation_id, and only then acks the request, so that a server that
// dies mid-request leaves it to be redelivered, not lost.
//
// Threading: the server runs on the executor it is given and starts no thread of its own unless
// server_options::workers > 0 asks for a pool. Reconnection and the stop's drain are timers on the
// executor. Every member function may be called from any thread; the blocking start()/stop()
// throw (instead of deadlocking) when called on a thread running the executor.
#pragma once

#include <rpc/broker_nodes.hpp>
#include <rpc/server_handler.hpp>
#include <rpc/server_request.hpp>

#include <amqp/connection_options.hpp>
#include <amqp/protocol/client_error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

namespace rpc {

namespace detail {
class server_impl;
}

/// How a server works: its connection-wide options, and the queue, prefetch and runs_inline of the
/// service the constructor with a handler adds (add_service adds more).
struct server_options {
    /// Declared as queue_type says (by default as the tutorial does: queue_declare(queue=...) —
    /// not durable, not exclusive).
    std::string queue = "rpc_queue";
    /// How `queue` is declared: transient (the tutorial's; RabbitMQ 4.3 refuses it by default),
    /// classic (durable) or quorum (durable, replicated). See server_queue.hpp.
    rpc::queue_type queue_type = rpc::queue_type::transient;
    /// basic.qos prefetch_count: unacked requests the broker hands this server at once.
    std::uint16_t prefetch = 1;
    /// Threads running synchronous handlers (a pool the server owns; the only threads it starts).
    /// 0 (the default, the fast path): run each handler inline on the connection's I/O thread, with
    /// no hand-off to another thread and back: the fastest for handlers of a few microseconds, but
    /// a handler blocks the connection while it runs: no heartbeats are answered (the broker drops
    /// a connection silent for two heartbeat intervals), and the requests behind it wait. Use a
    /// pool for handlers that may take long (or an asynchronous handler for ones that wait).
    std::size_t workers = 0;
    /// With workers > 0: a request for which this returns true runs inline on the connection's
    /// I/O thread, as with workers = 0; the others go to the pool. For a handler whose cost shows
    /// in the request (the Fibonacci service's fibonacci_runs_inline): cheap requests skip the
    /// hand-off to a worker and back, long ones still leave the connection free to answer
    /// heartbeats. Called on the I/O thread with the request's body, before the handler; keep it
    /// cheap. If it throws, the request goes to the pool. Unset: every request goes to the pool.
    std::function<bool(std::string_view body)> runs_inline;
    /// The handler reads only request::body: the other properties are not copied for it (see
    /// service_options::body_only).
    bool body_only = false;
    /// One basic.ack with multiple=true for each run of finished requests, oldest first
    /// (inline: one per batch of deliveries read at once; pool: the requests finished by the time
    /// the I/O thread sends the ack), instead of one ack per request. A request that finishes
    /// behind an older one still running is acked on its own at once, never held: one slow
    /// request does not fill the
    /// prefetch window and stop the broker delivering the others.
    /// Either way no request is acked before its reply is published. The price: a server killed
    /// between a reply and the ack that covers it leaves those requests to be redelivered and
    /// answered twice (a client drops the second reply as unknown); batching lets up to a
    /// prefetch of them wait for their ack instead of one. false: one basic.ack per request, as
    /// the tutorial's server does.
    bool batch_acks = true;
    /// Publisher confirms on the replies: the service channels are put in confirm mode, each
    /// reply is published mandatory, and its request is acked only once the broker confirmed the
    /// reply, or returned it (its reply_to queue is gone, and so is the caller: nothing to wait
    /// for). A reply nacked by the broker gets its request nacked with requeue (answered again,
    /// here or by another server); a reply unconfirmed when the channel or connection died leaves
    /// its request to the broker, which redelivers it. So a node's death between reply and ack
    /// means a redelivery (a duplicate reply the caller drops), never a lost reply. Costs a
    /// round trip to the broker before each ack (acks still batch: batch_acks). false: the reply
    /// counts as sent once handed to the connection.
    bool confirm_replies = false;
    /// stop() waits this long for in-flight requests before closing anyway: what is unfinished
    /// then is released (the broker redelivers it to another server), and stop() returns false.
    /// A timer on the executor (cancelled when the drain ends).
    std::chrono::milliseconds drain_timeout{30000};
    /// The largest request body taken, in bytes: the server's connection uses it as its
    /// connection_options::max_message_size (replacing what the options passed to the constructor
    /// say), which also caps the replies it publishes, error replies included: keep it well above
    /// the largest reply (a reply too large is replaced by an error reply). A larger request is never read: it is
    /// rejected without requeue (a dead-letter exchange gets it), answered with an error reply and
    /// counted in server_stats::rejected. Memory held for requests is bounded by about
    /// (prefetch + 1) x max_request_size plus the connection's frame buffers (frame_max each way).
    /// The default fits a Fibonacci request (a decimal n) with room to spare.
    std::uint64_t max_request_size = 64 * 1024;
    /// Reconnect by itself when the connection or channel is lost (broker restart, network):
    /// retry after reconnect_min, doubling up to reconnect_max, each delay with up to 25 %
    /// random jitter (a timer on the executor, no thread); then redeclare the queues, set the
    /// prefetch and consume again. Requests
    /// taken before the loss are redelivered by the broker. false: report the loss through
    /// on_connection_lost and stay down.
    bool reconnect = false;
    std::chrono::milliseconds reconnect_min{500};
    std::chrono::milliseconds reconnect_max{10000};
};

/// Counters of what the server did.
struct server_stats {
    std::uint64_t requests = 0;          ///< deliveries received
    std::uint64_t replies = 0;           ///< replies published
    std::uint64_t no_reply_to = 0;       ///< requests without reply_to (acked, logged, not answered)
    std::uint64_t handler_failures = 0;  ///< handlers that threw (an error reply was sent)
    std::uint64_t publish_failures = 0;  ///< replies that could not be queued (connection gone)
    std::uint64_t reconnects = 0;        ///< successful reconnections (server_options::reconnect)
    /// Deliveries rejected without requeue, never handed to the handler: a body above
    /// max_request_size, or a content header our limits refuse (amqp::delivered_message::fault).
    std::uint64_t rejected = 0;
    std::uint64_t acks = 0;  ///< basic.ack frames sent (one may settle several requests: batch_acks)
    /// confirm_replies: replies returned by the broker (no such reply_to queue); their requests are acked.
    std::uint64_t replies_returned = 0;
    /// confirm_replies: replies nacked, or unconfirmed when the channel closed; their requests
    /// were not acked (nacked with requeue, or left to the broker's redelivery).
    std::uint64_t replies_unconfirmed = 0;
    /// Requests whose deadline (rpc/request_deadline.hpp) had passed when they were taken: acked,
    /// logged, neither handled nor answered (their caller has already timed out).
    std::uint64_t expired_dropped = 0;
    /// Requests to a direct reply-to address that twice closed the connection (541) when
    /// answered: the caller's node is gone (rpc/reply_strikes.hpp). Rejected without requeue,
    /// not answered.
    std::uint64_t unreachable_dropped = 0;
};

/// An RPC server on its own connection: add services, start, stop.
class rpc_server {
public:
    using executor_type = boost::asio::any_io_executor;

    /// A server with no service yet: add_service() before start().
    rpc_server(executor_type ex, amqp::connection_options conn, server_options opts);
    /// A server with one synchronous service: opts.queue answered by `handler`, with opts.prefetch,
    /// opts.queue_type and opts.runs_inline.
    rpc_server(executor_type ex, amqp::connection_options conn, server_options opts, request_handler handler);
    /// The same, for a cluster: start tries the nodes in order (see broker_nodes) until one is
    /// set up (last_error() then names the nodes that failed and why); with `reconnect`, a lost
    /// connection reconnects to the next node, and each failed attempt moves on to the next one
    /// after the backoff. Log lines name the node ("host:port"). Throws std::invalid_argument
    /// when `nodes` holds none.
    rpc_server(executor_type ex, broker_nodes nodes, server_options opts);
    rpc_server(executor_type ex, broker_nodes nodes, server_options opts, request_handler handler);
    /// The same two, with a handler that takes its request (owning_request_handler).
    template <class Handler>
    requires detail::takes_request_rvalue<Handler> rpc_server(executor_type ex, amqp::connection_options conn,
                                                              server_options opts, Handler handler)
        : rpc_server(std::move(ex), broker_nodes{{std::move(conn)}}, std::move(opts),
                     owning_request_handler(std::move(handler)), detail::owning_handler_tag{}) {}
    template <class Handler>
    requires detail::takes_request_rvalue<Handler> rpc_server(executor_type ex, broker_nodes nodes, server_options opts,
                                                              Handler handler)
        : rpc_server(std::move(ex), std::move(nodes), std::move(opts), owning_request_handler(std::move(handler)),
                     detail::owning_handler_tag{}) {}
    /// Closes without draining if stop() was not called.
    ~rpc_server();
    rpc_server(const rpc_server&) = delete;
    rpc_server& operator=(const rpc_server&) = delete;

    executor_type get_executor() const noexcept;

    /// Another service on the same connection: its own channel consuming `queue` (declared as
    /// `opts.queue_type` says) with `opts.prefetch`. Before start() only: throws
    /// std::logic_error after, or for a queue already served.
    void add_service(std::string queue, request_handler handler, service_options opts = {});
    void add_service(std::string queue, async_request_handler handler, service_options opts = {});
    template <class Handler>
    requires detail::takes_request_rvalue<Handler>
    void add_service(std::string queue, Handler handler, service_options opts = {}) {
        add_owning_service(std::move(queue), owning_request_handler(std::move(handler)), std::move(opts));
    }

    /// Connect, declare every service's queue, set the prefetch, start consuming; completes with
    /// an empty error_code once serving, or the failure (last_error() says why in words). The
    /// handler never runs inside async_start. Cancellation (terminal, partial, total): the
    /// connection being set up is closed and the operation completes with operation_aborted.
    /// Call once.
    template <class Token>
    auto async_start(Token&& token) {
        return boost::asio::async_initiate<Token, void(amqp::error_code)>(
            [](auto handler, std::shared_ptr<detail::server_impl> impl) {
                start_op(std::move(impl), std::move(handler));
            },
            token, impl_);
    }
    /// Blocking async_start. Throws amqp::error whose text says why (the broker's close reason when
    /// it closed the connection or channel), or std::logic_error when called on a thread running
    /// the server's executor (which must run to complete it: use async_start there).
    void start();

    /// Cancel the consumers, let in-flight requests finish (reply + ack) for at most
    /// server_options::drain_timeout or until halt(), then close the channels and the connection;
    /// completes with true if every request finished, false if the drain was cut short: the
    /// unfinished requests are then released to the broker (redelivered to other servers, never
    /// acked here) and requests queued for a worker are dropped; handlers still running go on
    /// (their replies fail: the channel is closed) and the destructor waits for workers. Cancels
    /// every timer of the server, so the executor's run() returns once nothing else is pending.
    /// A second call completes with the first one's result. Cancellation (terminal, partial,
    /// total) is halt(). The handler never runs inside async_stop.
    template <class Token>
    auto async_stop(Token&& token) {
        return boost::asio::async_initiate<Token, void(bool)>(
            [](auto handler, std::shared_ptr<detail::server_impl> impl) {
                stop_op(std::move(impl), std::move(handler));
            },
            token, impl_);
    }
    /// Blocking async_stop. Throws std::logic_error when called on a thread running the executor.
    bool stop();
    /// Cut a drain short: a stop waiting for in-flight requests stops waiting at once; a later stop
    /// does not wait. Thread-safe, does not block: for a second SIGINT/SIGTERM.
    void halt();

    /// Called once if the connection or channel closes other than by stop() (set before start()).
    /// With server_options::reconnect, not called: the loss is logged and the server reconnects.
    void on_connection_lost(std::function<void(const amqp::close_reason&)> h);
    /// Where the server's warnings go (default: stderr), e.g. a request without reply_to: one
    /// call per event, its text one line with every peer-supplied string escaped and capped
    /// (amqp::printable). Never called with one of the server's locks held, so it may call
    /// stats() or in_flight(); it may run on any of the server's threads, even after stop()
    /// returned when the drain was cut short.
    void on_log(std::function<void(std::string_view)> h);

    server_stats stats() const;
    /// Requests taken but not yet acked.
    std::size_t in_flight() const;
    /// Why the last start (or reconnection) failed, in words; empty if none did.
    std::string last_error() const;

private:
    rpc_server(executor_type ex, broker_nodes nodes, server_options opts, owning_request_handler handler,
               detail::owning_handler_tag);
    void add_owning_service(std::string queue, owning_request_handler handler, service_options opts);
    static void start_op(std::shared_ptr<detail::server_impl> impl,
                         boost::asio::any_completion_handler<void(amqp::error_code)> handler);
    static void stop_op(std::shared_ptr<detail::server_impl> impl,
                        boost::asio::any_completion_handler<void(bool)> handler);

    std::shared_ptr<detail::server_impl> impl_;
};

}  // namespace rpc
