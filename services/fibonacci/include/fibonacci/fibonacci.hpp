// The Fibonacci service of the tutorial: exact values (arbitrary precision), and the parsing of
// a request body into n. Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/multiprecision/cpp_int.hpp>

namespace rpc {

/// Arbitrary-precision integer: Python's ints are exact, so the tutorial's clients expect every
/// digit of fib(n).
using big_int = boost::multiprecision::cpp_int;

/// The largest n the server accepts by default (fib(100000) has 20899 digits).
inline constexpr std::uint64_t default_max_n = 100000;

/// The largest n the naive recursion accepts: it makes about 2·fib(n) calls, so n = 45 is already
/// ~7·10^9 calls (many seconds). Enough to show load spreading, not enough to hang a server.
inline constexpr std::uint64_t max_naive_n = 45;

/// fib(n) by fast doubling: O(log n) multiplications of growing numbers.
big_int fibonacci(std::uint64_t n);

/// The largest n whose fib(n) fits in 64 bits (fib(93) = 12200160415121876738).
inline constexpr std::uint64_t max_u64_n = 93;
/// fib(n) in a machine word, for n <= max_u64_n (no allocation); throws std::out_of_range above.
std::uint64_t fibonacci_u64(std::uint64_t n);

/// fib(n) by the tutorial's exponential recursion (fib(n-1) + fib(n-2)), on purpose slow.
/// Throws std::out_of_range above max_naive_n (fib(45) still fits in 64 bits).
std::uint64_t fibonacci_naive(std::uint64_t n);

/// What parse_request found: n, or why the body is not an acceptable request.
struct parsed_request {
    bool ok = false;
    std::uint64_t n = 0;
    std::string error;  ///< set when !ok, e.g. "n must be <= 100000, got 100001"
};

/// Parse a request body the way the tutorial's server does with Python's int(body): surrounding
/// ASCII whitespace is ignored, an optional '+' sign, decimal digits with single '_' between
/// digits ("1_000"), leading zeros allowed. Negative numbers, anything else, and n > max_n are
/// errors. Linear in the body size, whatever its content.
parsed_request parse_request(std::string_view body, std::uint64_t max_n = default_max_n);

}  // namespace rpc
