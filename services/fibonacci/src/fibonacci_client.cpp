#include <fibonacci/fibonacci_client.hpp>

#include <fibonacci/reply_format.hpp>

namespace rpc {

namespace {
// cpp_int's string constructor reads a leading 0 as octal; replies are decimal.
big_int parse_decimal(std::string_view text) {
    bool negative = !text.empty() && text[0] == '-';
    if (negative) text.remove_prefix(1);
    while (text.size() > 1 && text[0] == '0') text.remove_prefix(1);
    big_int v(std::string(text).c_str());
    return negative ? big_int(-v) : v;
}
}  // namespace

namespace detail {

request_message fibonacci_request(std::uint64_t n, std::chrono::milliseconds timeout) {
    request_message req;
    req.body = std::to_string(n);
    req.idempotent = true;  // fib(n) has no side effect: asking twice is safe, so a lost request may be re-sent
    req.timeout = timeout;
    return req;
}

big_int fibonacci_value(error_code& ec, const reply_message& r, diagnostics* diag) {
    const decoded_reply d = decode_reply(r.body);
    switch (d.what) {
        case decoded_reply::kind::value:
            return parse_decimal(d.value);
        case decoded_reply::kind::error:
            ec = errc::remote_error;
            if (diag) diag->message = printable_reason(d.error);
            return 0;
        case decoded_reply::kind::malformed:
            ec = errc::bad_reply;
            if (diag) diag->message = "malformed reply: " + d.error;
            return 0;
    }
    return 0;
}

}  // namespace detail

big_int fibonacci_client::call(std::uint64_t n, std::chrono::milliseconds timeout) {
    const reply_message r = client_->request(detail::fibonacci_request(n, timeout));
    error_code ec;
    diagnostics diag;
    big_int value = detail::fibonacci_value(ec, r, &diag);
    if (ec) throw call_error(ec, diag.message);
    return value;
}

big_int fibonacci_client::call(std::uint64_t n) { return call(n, client_->default_timeout()); }

}  // namespace rpc
