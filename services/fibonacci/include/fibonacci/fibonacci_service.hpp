// The tutorial's service as an rpc_server handler: body "n" → fib(n), with the request limits and
// the reply format a server was configured with.
#pragma once

#include <fibonacci/fibonacci.hpp>
#include <fibonacci/reply_format.hpp>
#include <rpc/rpc_server.hpp>

#include <cstdint>
#include <functional>
#include <string_view>

namespace rpc {

/// How the Fibonacci handler computes and answers.
struct fibonacci_service_options {
    std::uint64_t max_n = default_max_n;
    bool naive = false;  ///< the tutorial's exponential recursion (n <= max_naive_n)
    reply_format format = reply_format::plain;
    /// Called with n before computing (the server prints " [.] fib(n)").
    std::function<void(std::uint64_t n)> on_request;
    /// Called with the reason when a request is refused (bad body, n too large).
    std::function<void(std::string_view reason)> on_bad_request;
};

/// A handler for rpc_server: parse_request, then fib(n) as a value reply, or an error reply.
request_handler make_fibonacci_handler(fibonacci_service_options opts);

/// The largest n fibonacci_runs_inline keeps on the connection's thread: fib(n) by fast doubling
/// and its decimal reply take a few tens of microseconds up to here (fib(10000): about 100).
constexpr std::uint64_t inline_max_n = 5000;
/// The same with fibonacci_service_options::naive (exponential: fib(20) about 10 microseconds,
/// fib(25) 15 times as long).
constexpr std::uint64_t inline_max_naive_n = 20;

/// For server_options::runs_inline, with the options of the server's make_fibonacci_handler: true
/// for a request cheap to answer (n up to inline_max_n, or inline_max_naive_n with naive; a
/// request refused by parse_request), false for one to hand to a worker.
std::function<bool(std::string_view body)> fibonacci_runs_inline(const fibonacci_service_options& opts);

}  // namespace rpc
