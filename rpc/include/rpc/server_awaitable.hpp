// A coroutine as a service handler: asio::awaitable<reply>(request), run on an executor you give,
// so that the handler may co_await other services (an rpc_client call), timers or I/O.
#pragma once

#include <rpc/server_handler.hpp>

#include <exception>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

namespace rpc {

/// An async_request_handler that co_spawns `handler(request)` on `ex` for each request and replies
/// with what it co_returns; an exception it throws becomes error_reply(exception). `handler` is
/// copied into every request's coroutine frame state once (keep it cheap to copy).
///
/// Example: server.add_service("sum", rpc::awaitable_service(ex, [&](rpc::request r) ->
///     boost::asio::awaitable<rpc::reply> { co_return rpc::reply{...}; }));
template <class Executor, class Handler>
async_request_handler awaitable_service(Executor ex, Handler handler) {
    return [ex, handler = std::move(handler)](request req, reply_sender send) {
        boost::asio::co_spawn(ex, handler(std::move(req)), [send](std::exception_ptr e, reply r) {
            if (e)
                send.fail(e);
            else
                send(std::move(r));
        });
    };
}

}  // namespace rpc
