// The pure parts of the client and of the programs: correlation ids, timeout texts, the service
// handler, and command-line parsing.
#include <programs/cli.hpp>
#include <rpc/correlation_id.hpp>
#include <rpc/error.hpp>
#include <fibonacci/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>

#include <gtest/gtest.h>

#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cctype>
#include <set>
#include <thread>
#include <vector>

namespace {

TEST(CorrelationIds, AreUniqueAcrossThreadsAndUuidShaped) {
    rpc::correlation_id_generator gen;
    constexpr int threads = 4, per_thread = 5000;
    std::vector<std::vector<std::string>> ids(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) ids[t].push_back(gen.next());
        });
    for (auto& w : workers) w.join();
    std::set<std::string> all, prefixes;
    for (const auto& v : ids)
        for (const auto& id : v) {
            all.insert(id);
            prefixes.insert(id.substr(0, 8));
            ASSERT_EQ(id.size(), 36u);
            ASSERT_EQ(id[8], '-');
            ASSERT_EQ(id[23], '-');
        }
    EXPECT_EQ(all.size(), std::size_t{threads * per_thread});
    // The first 8 characters (what rpc_async_client prints) differ between calls.
    EXPECT_GT(prefixes.size(), std::size_t{threads * per_thread * 99 / 100});
}

TEST(CorrelationIds, TwoGeneratorsWithTheSameCounterSeedDiffer) {
    rpc::correlation_id_generator a(1, 2), b(1, 3);
    EXPECT_NE(a.next(), b.next());
}

TEST(CorrelationIds, KeyOfAcceptsOnlyThisGeneratorsIds) {
    rpc::correlation_id_generator gen(7, 0x0123456789abcdefull), other(7, 0x0123456789abcdeeull);
    const auto a = gen.next_id();
    const auto b = gen.next_id();
    EXPECT_NE(a.key, b.key);
    EXPECT_EQ(gen.key_of(a.view()), a.key);
    EXPECT_EQ(gen.key_of(b.view()), b.key);
    EXPECT_EQ(std::string(a.view().substr(19)), "0123-456789abcdef");
    // Same counter seed, other client part: the key would match, the id is not ours.
    EXPECT_EQ(other.key_of(a.view()), std::nullopt);
    std::string upper(a.view());
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ASSERT_NE(upper, a.view());  // the client part has letters
    EXPECT_EQ(gen.key_of(upper), std::nullopt);
    for (const std::size_t dash : {8, 13, 18, 23}) {
        std::string no_dash(a.view());
        no_dash[dash] = '0';
        EXPECT_EQ(gen.key_of(no_dash), std::nullopt) << "no dash at " << dash;
    }
    std::string upper_client_part(a.view());
    upper_client_part[35] = 'F';  // ...abcdef: the same value, not our spelling
    EXPECT_EQ(gen.key_of(upper_client_part), std::nullopt);
    std::string bad_digit(a.view());
    bad_digit[0] = 'g';
    EXPECT_EQ(gen.key_of(bad_digit), std::nullopt);
    EXPECT_EQ(gen.key_of(std::string(a.view()) + "0"), std::nullopt);
    EXPECT_EQ(gen.key_of(a.view().substr(1)), std::nullopt);
    EXPECT_EQ(gen.key_of(""), std::nullopt);
    EXPECT_EQ(gen.key_of("not-an-id"), std::nullopt);
}

TEST(Timeouts, MessageNamesTheSeconds) {
    EXPECT_EQ(rpc::timeout_message(std::chrono::seconds(5)), "RPC call timed out after 5 seconds");
    EXPECT_EQ(rpc::timeout_message(std::chrono::milliseconds(250)), "RPC call timed out after 0.25 seconds");
    EXPECT_EQ(rpc::timeout_message(std::chrono::milliseconds(1500)), "RPC call timed out after 1.5 seconds");
}

TEST(ErrorCategory, HasNamesAndMessages) {
    rpc::error_code ec = rpc::errc::no_route;
    EXPECT_STREQ(ec.category().name(), "rpc");
    EXPECT_NE(ec.message().find("NO_ROUTE"), std::string::npos);
    EXPECT_EQ(rpc::call_error(rpc::errc::timeout, "x").reason(), "x");
    EXPECT_NE(rpc::error_code(rpc::errc::message_too_large).message().find("max_message_size"), std::string::npos);
}

// No broker: the checks a request meets before it could reach the connection.
TEST(ClientRequests, FailAtOnceBeforeStartOrAboveTheSizeLimit) {
    rpc::cli::io_thread io;
    amqp::connection_options conn;
    conn.max_message_size = 10;
    rpc::rpc_client client(io.executor(), conn);
    rpc::request_message big;
    big.body = std::string(11, 'x');
    try {
        client.request(big);
        ADD_FAILURE() << "an 11-byte request passed a 10-byte limit";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::error_code(rpc::errc::message_too_large));
        EXPECT_NE(e.reason().find("request body of 11 bytes is too large: max_message_size is 10"), std::string::npos)
            << e.reason();
    }
    rpc::request_message small;
    small.body = "1";
    try {
        client.request(small);
        ADD_FAILURE() << "a request succeeded before start()";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::error_code(rpc::errc::not_started)) << e.reason();
    }
    EXPECT_EQ(client.stats().calls, 0u);
    EXPECT_EQ(client.pending_calls(), 0u);
}

// No handler runs inside the initiating function: a request that fails at once (not started,
// too large) completes later, through the handler's executor.
TEST(ClientRequests, ImmediateFailuresCompleteThroughTheExecutorNotInline) {
    boost::asio::io_context io;  // not running while the requests are made
    amqp::connection_options conn;
    conn.max_message_size = 10;
    rpc::rpc_client client(io.get_executor(), conn);
    std::vector<rpc::error_code> done;
    rpc::request_message small, big;
    small.body = "1";
    big.body = std::string(11, 'x');
    client.async_request(small, [&](rpc::error_code ec, rpc::reply_message) { done.push_back(ec); });
    client.async_request(big, [&](rpc::error_code ec, rpc::reply_message) { done.push_back(ec); });
    EXPECT_TRUE(done.empty()) << "a handler ran inside its initiating function";
    io.run();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], rpc::error_code(rpc::errc::not_started));
    EXPECT_EQ(done[1], rpc::error_code(rpc::errc::message_too_large));
}

// A deferred operation holds the client's state, not the handle: launched after the handle is
// gone, it completes (the client was closed) instead of touching a destroyed object.
TEST(ClientRequests, ADeferredRequestOutlivesItsHandle) {
    boost::asio::io_context io;
    auto client = std::make_unique<rpc::rpc_client>(io.get_executor(), amqp::connection_options{});
    rpc::request_message req;
    req.body = "1";
    auto op = client->async_request(req, boost::asio::deferred);
    client.reset();
    rpc::error_code result;
    bool ran = false;
    std::move(op)([&](rpc::error_code ec, rpc::reply_message) {
        result = ec;
        ran = true;
    });
    io.run();
    EXPECT_TRUE(ran);
    EXPECT_TRUE(result == rpc::errc::connection_lost || result == rpc::errc::not_started) << result.message();
}

// The blocking forms refuse a thread that runs the client's executor: they would wait for it.
TEST(ClientRequests, BlockingCallsOnTheExecutorsThreadThrowInsteadOfHanging) {
    boost::asio::io_context io;
    rpc::rpc_client client(io.get_executor(), amqp::connection_options{});
    int refused = 0;
    boost::asio::post(io, [&] {
        for (auto f : {+[](rpc::rpc_client& c) { c.start(); }, +[](rpc::rpc_client& c) { c.close(); },
                       +[](rpc::rpc_client& c) { c.request({}); }}) {
            try {
                f(client);
            } catch (const rpc::call_error& e) {
                refused += e.code() == rpc::errc::would_deadlock;
            }
        }
    });
    io.run();
    EXPECT_EQ(refused, 3);
}

TEST(ErrorCategory, DescribeDropsBoostsDecoration) {
    const boost::system::system_error e(rpc::errc::timeout, "RPC call timed out after 2 seconds");
    EXPECT_NE(std::string(e.what()), "RPC call timed out after 2 seconds");
    EXPECT_EQ(rpc::describe(e), "RPC call timed out after 2 seconds");
    const boost::system::system_error bare(rpc::errc::bad_reply);
    EXPECT_EQ(rpc::describe(bare), bare.what());
}

rpc::request with_body(std::string body) {
    rpc::request r;
    r.body = std::move(body);
    return r;
}

TEST(FibonacciHandler, AnswersAndRefuses) {
    std::vector<std::uint64_t> seen;
    std::vector<std::string> refused;
    rpc::fibonacci_service_options opts;
    opts.on_request = [&](std::uint64_t n) { seen.push_back(n); };
    opts.on_bad_request = [&](std::string_view why) { refused.emplace_back(why); };
    auto handler = rpc::make_fibonacci_handler(opts);
    EXPECT_EQ(handler(with_body("30")).body, "832040");
    const auto bad = handler(with_body("x"));
    EXPECT_EQ(bad.content_type, "application/json");
    EXPECT_EQ(rpc::decode_reply(bad.body).error, "invalid request: expected a non-negative integer, got 'x'");
    EXPECT_EQ(seen, std::vector<std::uint64_t>{30});
    EXPECT_EQ(refused.size(), 1u);

    opts.format = rpc::reply_format::json;
    opts.naive = true;
    auto naive = rpc::make_fibonacci_handler(opts);
    EXPECT_EQ(naive(with_body("20")).body, R"({"response": 6765, "error": null})");
    EXPECT_EQ(rpc::decode_reply(naive(with_body("46")).body).error, "n must be <= 45, got 46 (naive algorithm)");
}

TEST(FibonacciHandler, RunsSmallNInlineAndHandsLargeNToAWorker) {
    rpc::fibonacci_service_options opts;
    const auto fast = rpc::fibonacci_runs_inline(opts);
    EXPECT_TRUE(fast("0"));
    EXPECT_TRUE(fast(std::to_string(rpc::inline_max_n)));
    EXPECT_FALSE(fast(std::to_string(rpc::inline_max_n + 1)));
    EXPECT_FALSE(fast("100000"));
    // Refused at once with an error reply: nothing to compute.
    EXPECT_TRUE(fast("x"));
    EXPECT_TRUE(fast("100001"));

    opts.naive = true;
    const auto naive = rpc::fibonacci_runs_inline(opts);
    EXPECT_TRUE(naive(std::to_string(rpc::inline_max_naive_n)));
    EXPECT_FALSE(naive(std::to_string(rpc::inline_max_naive_n + 1)));
    EXPECT_FALSE(naive("45"));
    EXPECT_TRUE(naive("46"));  // above the naive limit: an error reply
}

std::vector<const char*> argv_of(std::initializer_list<const char*> a) { return {a}; }

TEST(CommandLine, SplitsOptionsFlagsAndPositionals) {
    auto v = argv_of({"prog", "--url", "amqp://h/", "--naive", "--prefetch=3", "7", "--", "--x"});
    const rpc::cli::option_group options{{{"url", true}, {"naive", false}, {"prefetch", true}}, ""};
    const auto a = rpc::cli::parse_arguments(static_cast<int>(v.size()), v.data(), {options});
    EXPECT_EQ(a.value("url"), "amqp://h/");
    EXPECT_EQ(a.value("prefetch"), "3");
    EXPECT_TRUE(a.flag("naive"));
    EXPECT_EQ(a.positionals, (std::vector<std::string>{"7", "--x"}));
    EXPECT_FALSE(a.help);
}

TEST(CommandLine, RejectsWhatDoesNotFit) {
    using rpc::cli::usage_error;
    const rpc::cli::option_group options{{{"url", true}, {"naive", false}}, ""};
    for (auto v : {argv_of({"p", "--bogus"}), argv_of({"p", "--url"}), argv_of({"p", "--naive=1"}), argv_of({"p", "-x"})})
        EXPECT_THROW(rpc::cli::parse_arguments(static_cast<int>(v.size()), v.data(), {options}), usage_error);
    EXPECT_THROW(rpc::cli::parse_count("abc", 0, 10, "N"), usage_error);
    EXPECT_THROW(rpc::cli::parse_count("11", 0, 10, "N"), usage_error);
    EXPECT_THROW(rpc::cli::parse_count("-1", 0, 10, "N"), usage_error);
    EXPECT_THROW(rpc::cli::parse_count("99999999999999999999999", 0, UINT64_MAX, "N"), usage_error);
    EXPECT_EQ(rpc::cli::parse_count("10", 0, 10, "N"), 10u);
    EXPECT_EQ(rpc::cli::parse_seconds("30", "T"), std::chrono::seconds(30));
    EXPECT_EQ(rpc::cli::parse_seconds("0.5", "T"), std::chrono::milliseconds(500));
    for (const char* bad : {"0", "-1", "1.", ".5", "1.2345", "abc", "86401", ""})
        EXPECT_THROW(rpc::cli::parse_seconds(bad, "T"), usage_error) << bad;
}

// Which handler executors the client may complete with a plain call (rpc::detail::direct_context):
// only io_context's own executors that run a dispatched handler inline.
TEST(ClientCompletion, OnlyAnIoContextsInlineExecutorsAreCalledDirectly) {
    namespace asio = boost::asio;
    asio::io_context io;
    EXPECT_EQ(rpc::detail::direct_context(io.get_executor()), &io);
    EXPECT_EQ(rpc::detail::direct_context(asio::prefer(io.get_executor(), asio::execution::outstanding_work.tracked)),
              &io);
    EXPECT_EQ(rpc::detail::direct_context(asio::require(io.get_executor(), asio::execution::blocking.never)), nullptr);
    EXPECT_EQ(rpc::detail::direct_context(asio::make_strand(io.get_executor())), nullptr);
    asio::thread_pool pool(1);
    EXPECT_EQ(rpc::detail::direct_context(pool.get_executor()), nullptr);
}

}  // namespace
