#include <fibonacci/fibonacci.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>

namespace {

TEST(Fibonacci, MatchesSimpleLoopUpTo100) {
    rpc::big_int a = 0, b = 1;
    for (std::uint64_t n = 0; n <= 100; ++n) {
        EXPECT_EQ(rpc::fibonacci(n), a) << "n=" << n;
        rpc::big_int next = a + b;
        a = b;
        b = next;
    }
}

TEST(Fibonacci, KnownValueOf1000) {
    EXPECT_EQ(rpc::fibonacci(1000).str(),
              "4346655768693745643568852767504062580256466051737178040248172908953655541794905189040387984007925516"
              "9295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166"
              "849228875");
}

TEST(Fibonacci, DigitCountOf100000) { EXPECT_EQ(rpc::fibonacci(100000).str().size(), 20899u); }

TEST(Fibonacci, DoublingIdentityHoldsAtLargeN) {
    // F(n+1)² - F(n)F(n+2) = (-1)^n (Cassini), checked at an odd and an even n.
    for (std::uint64_t n : {4999u, 5000u}) {
        const rpc::big_int f0 = rpc::fibonacci(n), f1 = rpc::fibonacci(n + 1), f2 = rpc::fibonacci(n + 2);
        EXPECT_EQ(f1 * f1 - f0 * f2, n % 2 ? -1 : 1) << "n=" << n;
    }
}

TEST(Fibonacci, NaiveMatchesFastAndIsBounded) {
    for (std::uint64_t n = 0; n <= 25; ++n) EXPECT_EQ(rpc::big_int(rpc::fibonacci_naive(n)), rpc::fibonacci(n));
    EXPECT_THROW(rpc::fibonacci_naive(rpc::max_naive_n + 1), std::out_of_range);
}

TEST(Fibonacci, MachineWordMatchesExactUpToItsLimit) {
    for (std::uint64_t n = 0; n <= rpc::max_u64_n; ++n)
        EXPECT_EQ(rpc::big_int(rpc::fibonacci_u64(n)), rpc::fibonacci(n)) << "n=" << n;
    EXPECT_EQ(rpc::fibonacci_u64(rpc::max_u64_n), 12200160415121876738u);
    // fib(94) no longer fits: refused, never wrapped around.
    EXPECT_GT(rpc::fibonacci(rpc::max_u64_n + 1), rpc::big_int(std::numeric_limits<std::uint64_t>::max()));
    EXPECT_THROW(rpc::fibonacci_u64(rpc::max_u64_n + 1), std::out_of_range);
}

rpc::parsed_request parse(std::string_view s, std::uint64_t max_n = rpc::default_max_n) {
    return rpc::parse_request(s, max_n);
}

TEST(ParseRequest, AcceptsWhatPythonIntAccepts) {
    struct {
        std::string_view body;
        std::uint64_t n;
    } cases[] = {{"30", 30},   {" 30\n", 30}, {"\t+7 ", 7},  {"007", 7},     {"1_000", 1000},
                 {"0", 0},     {"-0", 0},     {"00000", 0},  {"100000", 100000}, {"\r\n\v\f5", 5}};
    for (const auto& c : cases) {
        const auto r = parse(c.body);
        EXPECT_TRUE(r.ok) << "'" << c.body << "': " << r.error;
        EXPECT_EQ(r.n, c.n) << "'" << c.body << "'";
    }
}

TEST(ParseRequest, RejectsWithReasons) {
    EXPECT_EQ(parse("").error, "empty request: expected a non-negative integer");
    EXPECT_EQ(parse(" \n ").error, "empty request: expected a non-negative integer");
    EXPECT_EQ(parse("abc").error, "invalid request: expected a non-negative integer, got 'abc'");
    EXPECT_EQ(parse("-5").error, "invalid request: n must be non-negative, got -5");
    EXPECT_EQ(parse("100001").error, "n must be <= 100000, got 100001");
    EXPECT_EQ(parse("11", 10).error, "n must be <= 10, got 11");
    for (std::string_view bad : {"+", "-", "1 2", "1.5", "1e3", "0x10", "_1", "1_", "1__0", "++1", "12a", "٣"}) {
        const auto r = parse(bad);
        EXPECT_FALSE(r.ok) << "'" << bad << "'";
        EXPECT_NE(r.error.find("invalid request"), std::string::npos) << r.error;
    }
}

TEST(ParseRequest, QuotesUntrustedTextSafely) {
    const auto r = parse(std::string("a\x01'\xff") + std::string(100, 'z'));
    EXPECT_EQ(r.error, "invalid request: expected a non-negative integer, got 'a\\x01\\'\\xff" + std::string(36, 'z') + "'...");
}

TEST(ParseRequest, HugeNumbersAreTooLargeNotOverflowed) {
    EXPECT_EQ(parse("18446744073709551616").error, "n must be <= 100000, got 18446744073709551616");  // 2^64
    EXPECT_EQ(parse("18446744073709551615", UINT64_MAX).n, UINT64_MAX);
    EXPECT_EQ(parse("00000000000000000000000000000000000000000042").n, 42u);
    EXPECT_EQ(parse(std::string(5000, '9')).error, "n must be <= 100000, got a 5000-digit number");
    EXPECT_EQ(parse("-" + std::string(5000, '9')).error, "invalid request: n must be non-negative, got a negative 5000-digit number");
}

TEST(ParseRequest, ErrorsShowTheSignificantDigitsWithoutSeparators) {
    EXPECT_EQ(parse(" 000_100_001 ").error, "n must be <= 100000, got 100001");
    EXPECT_EQ(parse("-0_05").error, "invalid request: n must be non-negative, got -5");
    EXPECT_EQ(parse("0" + std::string(30, '9')).error, "n must be <= 100000, got " + std::string(30, '9'));
    EXPECT_EQ(parse(std::string(31, '9')).error, "n must be <= 100000, got a 31-digit number");
}

TEST(ParseRequest, TenMegabyteBodiesAreRejectedInOnePass) {
    const std::string digits(10 * 1024 * 1024, '7');
    EXPECT_FALSE(parse(digits).ok);
    std::string spaces(10 * 1024 * 1024, ' ');
    EXPECT_FALSE(parse(spaces).ok);
    spaces[spaces.size() / 2] = '5';
    EXPECT_EQ(parse(spaces).n, 5u);
}

}  // namespace
