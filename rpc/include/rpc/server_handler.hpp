// The handlers a service runs: a plain function from request to reply, or an asynchronous one
// that answers later through a reply_sender (from any thread), so that a handler can wait for I/O,
// a timer or another service without holding a thread. server_awaitable.hpp turns a coroutine
// (asio::awaitable<reply>(request)) into the asynchronous kind.
#pragma once

#include <rpc/server_queue.hpp>
#include <rpc/server_request.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>

#include <boost/asio/any_io_executor.hpp>

namespace rpc {

/// Computes a reply from a request, on the thread the server gives it (the connection's, or a
/// worker's: server_options::workers). May throw: the exception becomes an error reply
/// (error_reply: its message, without source locations).
using request_handler = std::function<reply(const request&)>;

/// A synchronous handler that takes its request (`reply(rpc::request&& req)`): it may move the
/// request's buffers into its reply, e.g. `return rpc::reply{std::move(req.body)};` (an echo then
/// copies no body). Otherwise as request_handler. rpc_server takes a callable of this kind where it
/// takes a request_handler, when the callable accepts a `request&&` and not a `const request&`
/// (one taking `const request&` or `request` by value stays a request_handler).
using owning_request_handler = std::function<reply(request&&)>;

namespace detail {
struct reply_state;
/// A callable rpc_server stores as an owning_request_handler.
template <class H>
concept takes_request_rvalue = std::is_invocable_r_v<reply, H&, request&&> && !std::is_invocable_v<H&, const request&>;
struct owning_handler_tag {};
}  // namespace detail

/// How an asynchronous handler answers its request: call it once with the reply (or fail() with
/// an exception, answered as error_reply). Copyable and callable from any thread; the first call
/// answers, later ones do nothing. If every copy is destroyed unanswered, the request is answered
/// with an error reply ("the service ended without replying") and acked, never left in flight.
class reply_sender {
public:
    explicit reply_sender(std::shared_ptr<detail::reply_state> state) noexcept : state_(std::move(state)) {}
    /// Publish `r` as the reply, then ack the request. Returns false if already answered.
    bool operator()(reply r) const;
    /// Answer with error_reply(e).
    bool fail(std::exception_ptr e) const;

private:
    std::shared_ptr<detail::reply_state> state_;
};

/// An asynchronous handler: starts work for the request and returns; the work answers through the
/// reply_sender. Invoked on service_options::executor (the server's executor when unset). If it
/// throws before handing the sender on, the exception is the reply.
using async_request_handler = std::function<void(request, reply_sender)>;

/// How a service consumes its queue.
struct service_options {
    /// basic.qos prefetch_count on the service's channel: unacked requests at once.
    std::uint16_t prefetch = 1;
    /// How the service's queue is declared (server_queue.hpp). A broker refusing the declaration
    /// fails the start (or the reconnection) with its reason and, when a setting fixes it, the fix.
    rpc::queue_type queue_type = rpc::queue_type::transient;
    /// Synchronous handlers with server_options::workers > 0: a request for which this returns true
    /// runs on the connection's thread instead of a worker (see server_options::runs_inline).
    std::function<bool(std::string_view body)> runs_inline;
    /// For a synchronous handler that reads only the request's body (the Fibonacci service's): the
    /// request it gets carries body, correlation_id, reply_to and redelivered; every other field is
    /// empty: no headers table is decoded and no other property copied for it. The server itself
    /// still reads what it needs (the deadline header, reply_to) from the delivery. Ignored for
    /// asynchronous handlers, which always get every field.
    bool body_only = false;
    /// Where an asynchronous handler is invoked (its work may go anywhere). Unset: the server's
    /// executor. Ignored for synchronous handlers.
    boost::asio::any_io_executor executor;
};

}  // namespace rpc
