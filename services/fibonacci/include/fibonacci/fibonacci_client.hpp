// The Fibonacci service's client: call(n) asks the server for fib(n) over a generic rpc_client
// (request body "n", reply decoded: the number as decimal text or the tutorial's JSON reply).
#pragma once

#include <fibonacci/fibonacci.hpp>
#include <rpc/rpc_client.hpp>

#include <chrono>
#include <cstdint>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/compose.hpp>

namespace rpc {

namespace detail {
/// The request for fib(n).
request_message fibonacci_request(std::uint64_t n, std::chrono::milliseconds timeout);
/// fib(n) from a reply; a reply that is not a number becomes bad_reply (or remote_error for a
/// JSON error the generic client did not recognise, e.g. without a content type), with its text
/// in `diag`.
big_int fibonacci_value(error_code& ec, const reply_message& r, diagnostics* diag);

// One call: the request, then the decoding. Cancellation passes through to the request.
struct fibonacci_call_op {
    rpc_client* client;
    request_message request;
    diagnostics* diag;

    template <class Self>
    void operator()(Self& self) {
        self.reset_cancellation_state(boost::asio::enable_total_cancellation());
        if (diag) return client->async_request(std::move(request), *diag, std::move(self));
        client->async_request(std::move(request), std::move(self));
    }
    template <class Self>
    void operator()(Self& self, error_code ec, reply_message r) {
        big_int value = ec ? big_int(0) : fibonacci_value(ec, r, diag);
        self.complete(ec, std::move(value));
    }
};
}  // namespace detail

/// fib(n) from the tutorial's server, through `client` (which must outlive this object and its
/// operations). Same threading, cancellation and errors as rpc_client::async_request, plus
/// bad_reply for a reply that is neither a number nor the JSON reply format.
class fibonacci_client {
public:
    explicit fibonacci_client(rpc_client& client) noexcept : client_(&client) {}

    rpc_client& client() const noexcept { return *client_; }

    /// Ask for fib(n). Completion signature void(error_code, big_int). The text of an error in
    /// `diag.message`, the correlation id in `diag.correlation_id`; `diag` must outlive the call.
    template <class Token>
    auto async_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics& diag, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, big_int)>(
            detail::fibonacci_call_op{client_, detail::fibonacci_request(n, timeout), &diag}, token,
            client_->get_executor());
    }
    /// The same, for callers who need only the error code.
    template <class Token>
    auto async_call(std::uint64_t n, std::chrono::milliseconds timeout, Token&& token) {
        return boost::asio::async_compose<Token, void(error_code, big_int)>(
            detail::fibonacci_call_op{client_, detail::fibonacci_request(n, timeout), nullptr}, token,
            client_->get_executor());
    }

    /// Blocking call; throws call_error whose reason() is e.g. "RPC call timed out after 5 seconds".
    big_int call(std::uint64_t n, std::chrono::milliseconds timeout);
    /// With the client's default timeout.
    big_int call(std::uint64_t n);

private:
    rpc_client* client_;
};

}  // namespace rpc
