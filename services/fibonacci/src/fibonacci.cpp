#include <fibonacci/fibonacci.hpp>

#include <array>
#include <limits>
#include <stdexcept>

namespace rpc {

big_int fibonacci(std::uint64_t n) {
    // Fast doubling from the top bit down: with a = F(k), b = F(k+1),
    // F(2k) = a(2b - a) and F(2k+1) = a² + b².
    big_int a = 0;
    big_int b = 1;
    int top = 63;
    while (top >= 0 && ((n >> top) & 1u) == 0) --top;
    for (int bit = top; bit >= 0; --bit) {
        big_int c = a * (2 * b - a);
        big_int d = a * a + b * b;
        if ((n >> bit) & 1u) {
            a = d;
            b = c + d;
        } else {
            a = std::move(c);
            b = std::move(d);
        }
    }
    return a;
}

std::uint64_t fibonacci_u64(std::uint64_t n) {
    if (n > max_u64_n)
        throw std::out_of_range("n must be <= " + std::to_string(max_u64_n) + " for a 64-bit result, got " +
                                std::to_string(n));
    // Computed by the compiler: a lookup per request.
    static constexpr auto table = [] {
        std::array<std::uint64_t, max_u64_n + 1> t{};
        t[1] = 1;
        for (std::size_t i = 2; i < t.size(); ++i) t[i] = t[i - 1] + t[i - 2];
        return t;
    }();
    return table[n];
}

namespace {
std::uint64_t naive(std::uint64_t n) { return n < 2 ? n : naive(n - 1) + naive(n - 2); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A short, printable rendering of untrusted text for error messages.
std::string quote(std::string_view s) {
    constexpr std::size_t shown = 40;
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < shown; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    out += s.size() > shown ? "'..." : "'";
    return out;
}

parsed_request fail(std::string why) { return {false, 0, std::move(why)}; }
}  // namespace

std::uint64_t fibonacci_naive(std::uint64_t n) {
    if (n > max_naive_n)
        throw std::out_of_range("n must be <= " + std::to_string(max_naive_n) +
                                " for the naive algorithm, got " + std::to_string(n));
    return naive(n);
}

parsed_request parse_request(std::string_view body, std::uint64_t max_n) {
    std::size_t begin = 0;
    std::size_t end = body.size();
    while (begin < end && is_space(body[begin])) ++begin;
    while (end > begin && is_space(body[end - 1])) --end;
    const std::string_view text = body.substr(begin, end - begin);
    if (text.empty()) return fail("empty request: expected a non-negative integer");

    const auto invalid = [&] { return fail("invalid request: expected a non-negative integer, got " + quote(text)); };
    std::size_t i = 0;
    bool negative = false;
    if (text[0] == '+' || text[0] == '-') {
        negative = text[0] == '-';
        i = 1;
    }
    if (i == text.size() || !is_digit(text[i])) return invalid();

    // One pass: validate (digits, single '_' between digits) and accumulate while the value fits.
    // Nothing is built for a valid request: the error texts below read the digits again.
    std::uint64_t value = 0;
    std::size_t significant = 0;  // digits after leading zeros
    std::size_t first = 0;        // where the first significant digit is
    bool overflow = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '_') {
            if (i + 1 == text.size() || !is_digit(text[i + 1])) return invalid();
            continue;
        }
        if (!is_digit(c)) return invalid();
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (significant == 0 && d == 0) continue;
        if (significant++ == 0) first = i;
        if (!overflow) {
            if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
                overflow = true;
            else
                value = value * 10 + d;
        }
    }
    const bool too_large = overflow || value > max_n;
    if ((!negative || significant == 0) && !too_large) return {true, value, {}};
    constexpr std::size_t max_shown = 30;
    // The significant digits, kept only while short.
    const auto number = [&]() -> std::string {
        if (significant == 0) return "0";
        if (significant > max_shown) return "a " + std::to_string(significant) + "-digit number";
        std::string digits;
        for (std::size_t j = first; j < text.size(); ++j)
            if (text[j] != '_') digits += text[j];
        return digits;
    }();
    if (negative && significant != 0)
        return fail("invalid request: n must be non-negative, got " + (significant <= max_shown ? "-" + number : "a negative " + number.substr(2)));
    return fail("n must be <= " + std::to_string(max_n) + ", got " + number);
}

}  // namespace rpc
