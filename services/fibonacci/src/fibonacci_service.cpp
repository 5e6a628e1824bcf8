#include <fibonacci/fibonacci_service.hpp>

#include <algorithm>

namespace rpc {

namespace {
std::uint64_t limit_of(const fibonacci_service_options& opts) {
    return opts.naive ? std::min(opts.max_n, max_naive_n) : opts.max_n;
}
}  // namespace

request_handler make_fibonacci_handler(fibonacci_service_options opts) {
    return [opts = std::move(opts)](const request& req) -> reply {
        const parsed_request p = parse_request(req.body, limit_of(opts));
        if (!p.ok) {
            std::string reason = p.error;
            if (opts.naive && opts.max_n > max_naive_n && reason.rfind("n must be <=", 0) == 0)
                reason += " (naive algorithm)";
            if (opts.on_bad_request) opts.on_bad_request(reason);
            return make_error_reply(reason);
        }
        if (opts.on_request) opts.on_request(p.n);
        // Up to fib(93) the value fits a machine word: no big-integer arithmetic or formatting.
        if (opts.naive) return make_value_reply(fibonacci_naive(p.n), opts.format);
        if (p.n <= max_u64_n) return make_value_reply(fibonacci_u64(p.n), opts.format);
        return make_value_reply(fibonacci(p.n), opts.format);
    };
}

std::function<bool(std::string_view body)> fibonacci_runs_inline(const fibonacci_service_options& opts) {
    const std::uint64_t limit = limit_of(opts);
    const std::uint64_t cheap = opts.naive ? inline_max_naive_n : inline_max_n;
    return [limit, cheap](std::string_view body) {
        const parsed_request p = parse_request(body, limit);
        return !p.ok || p.n <= cheap;
    };
}

}  // namespace rpc
