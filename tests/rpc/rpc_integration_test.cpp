// RpcClient and RpcServer against a real RabbitMQ: every behaviour of issue 5's rpc/ section.
#include <test_support/rpc_fixture.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <thread>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcIntegration : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_F(RpcIntegration, ClientGetsExactValuesFromServer) {
    const auto q = unique_queue("exact");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(0, 30s), 0);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(30, 30s), 832040);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(1000, 30s), rpc::fibonacci(1000));
    EXPECT_EQ(rpc::fibonacci_client(*client).call(100000, 60s).str().size(), 20899u);
    EXPECT_EQ(client->stats().replies, 4u);
    EXPECT_EQ(client->pending_calls(), 0u);
    client->close();
}

TEST_F(RpcIntegration, JsonRepliesAreDecoded) {
    const auto q = unique_queue("json");
    rpc::fibonacci_service_options fib;
    fib.format = rpc::reply_format::json;
    fib_server server(io.executor(), q, fib);
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(1000, 30s), rpc::fibonacci(1000));
}

TEST_F(RpcIntegration, DirectReplyToWorks) {
    const auto q = unique_queue("direct");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q, /*direct_reply_to=*/true);
    EXPECT_EQ(client->reply_queue(), "amq.rabbitmq.reply-to");
    EXPECT_EQ(rpc::fibonacci_client(*client).call(25, 30s), 75025);
}

TEST_F(RpcIntegration, ErrorReplyCarriesTheServersReason) {
    const auto q = unique_queue("error");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    try {
        rpc::fibonacci_client(*client).call(100001, 30s);
        FAIL() << "expected an error reply";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error);
        EXPECT_EQ(e.reason(), "n must be <= 100000, got 100001");
    }
    // The server is still fine afterwards.
    EXPECT_EQ(rpc::fibonacci_client(*client).call(10, 30s), 55);
}

TEST_F(RpcIntegration, TimeoutRemovesThePendingCallAndTheBrokerDropsTheRequest) {
    const auto q = unique_queue("timeout");
    raw_peer peer(io.executor());
    peer.declare(q);  // a queue nobody consumes
    auto client = make_client(io.executor(), q);
    try {
        rpc::fibonacci_client(*client).call(10, 300ms);
        FAIL() << "expected a timeout";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::timeout);
        EXPECT_EQ(e.reason(), "RPC call timed out after 0.3 seconds");
    }
    EXPECT_EQ(client->pending_calls(), 0u);
    EXPECT_EQ(client->stats().timeouts, 1u);
    // expiration = the timeout: the broker discards the request once it is stale (bounded poll).
    std::uint32_t ready = 1;
    for (int i = 0; i < 100 && ready != 0; ++i) {
        std::this_thread::sleep_for(50ms);
        ready = peer.ready(q);
    }
    EXPECT_EQ(ready, 0u);
}

// Calls with different timeouts share the client's one timer: a short call made after a long
// one ends at its own deadline, and calls with the same timeout end in order, the long one
// still pending meanwhile.
TEST_F(RpcIntegration, EachCallEndsAtItsOwnTimeoutWhateverTheOthers) {
    const auto q = unique_queue("timeouts");
    raw_peer peer(io.executor());
    peer.declare(q);  // a queue nobody consumes
    auto client = make_client(io.executor(), q);
    rpc::diagnostics long_diag, a_diag, b_diag;
    auto long_call = rpc::fibonacci_client(*client).async_call(1, 60s, long_diag, boost::asio::use_future);
    const auto t0 = std::chrono::steady_clock::now();
    auto a = rpc::fibonacci_client(*client).async_call(2, 300ms, a_diag, boost::asio::use_future);
    auto b = rpc::fibonacci_client(*client).async_call(3, 600ms, b_diag, boost::asio::use_future);
    ASSERT_EQ(a.wait_for(20s), std::future_status::ready);
    EXPECT_THROW(a.get(), boost::system::system_error);
    EXPECT_EQ(a_diag.message, "RPC call timed out after 0.3 seconds");
    ASSERT_EQ(b.wait_for(20s), std::future_status::ready);
    const auto b_done = std::chrono::steady_clock::now() - t0;
    EXPECT_THROW(b.get(), boost::system::system_error);
    EXPECT_EQ(b_diag.message, "RPC call timed out after 0.6 seconds");
    // Not before its deadline (no upper bound: the machine may be slow).
    EXPECT_GE(b_done, 600ms);
    EXPECT_EQ(long_call.wait_for(0s), std::future_status::timeout);
    EXPECT_EQ(client->pending_calls(), 1u);
    EXPECT_EQ(client->stats().timeouts, 2u);
    client->close();
    ASSERT_EQ(long_call.wait_for(20s), std::future_status::ready);
    EXPECT_THROW(long_call.get(), boost::system::system_error);
    EXPECT_EQ(long_diag.message, "RPC client closed");
}

TEST_F(RpcIntegration, RequestCarriesReplyToCorrelationIdAndExpiration) {
    const auto q = unique_queue("props");
    hand_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    rpc::diagnostics diag;
    auto result = rpc::fibonacci_client(*client).async_call(7, 5s, diag, boost::asio::use_future);
    auto req = server.requests.pop();
    ASSERT_TRUE(req);
    EXPECT_EQ(req->body, "7");
    EXPECT_EQ(req->reply_to, client->reply_queue());
    EXPECT_EQ(req->correlation_id, diag.correlation_id);
    EXPECT_EQ(req->expiration, "5000");
    // Answer by hand, as a foreign server would.
    server.reply(*req, "13");
    EXPECT_EQ(result.get(), 13);
}

TEST_F(RpcIntegration, LateUnknownAndAnonymousRepliesAreDroppedAndCounted) {
    const auto q = unique_queue("late");
    hand_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);

    rpc::diagnostics first;
    auto timed_out = rpc::fibonacci_client(*client).async_call(1, 200ms, first, boost::asio::use_future);
    auto req1 = server.requests.pop();
    ASSERT_TRUE(req1);
    EXPECT_THROW(timed_out.get(), boost::system::system_error);

    rpc::diagnostics second;
    auto answered = rpc::fibonacci_client(*client).async_call(2, 30s, second, boost::asio::use_future);
    auto req2 = server.requests.pop();
    ASSERT_TRUE(req2);
    // The late reply to the first call, a stranger, and one without an id all come before the
    // real answer: none may complete the second call.
    server.peer.publish(client->reply_queue(), "999", std::nullopt, first.correlation_id);
    server.peer.publish(client->reply_queue(), "998", std::nullopt, std::string("not-ours"));
    server.peer.publish(client->reply_queue(), "997", std::nullopt, std::nullopt);
    server.peer.publish(client->reply_queue(), "1", std::nullopt, second.correlation_id);
    EXPECT_EQ(answered.get(), 1);
    const auto s = client->stats();
    EXPECT_EQ(s.late_replies, 1u);
    EXPECT_EQ(s.unknown_replies, 1u);
    EXPECT_EQ(s.replies_without_id, 1u);
    EXPECT_EQ(s.replies, 1u);
}

TEST_F(RpcIntegration, MalformedReplyIsABadReplyError) {
    const auto q = unique_queue("malformed");
    hand_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    rpc::diagnostics diag;
    auto result = rpc::fibonacci_client(*client).async_call(3, 30s, diag, boost::asio::use_future);
    auto req = server.requests.pop();
    ASSERT_TRUE(req);
    server.reply(*req, "not a number");
    EXPECT_THROW(result.get(), boost::system::system_error);
    EXPECT_NE(diag.message.find("malformed reply"), std::string::npos) << diag.message;
}

TEST_F(RpcIntegration, UnroutableRequestFailsAtOnceWithNoRoute) {
    auto client = make_client(io.executor(), unique_queue("nobody-declared-this"));
    try {
        // A long timeout: only the basic.return can end this call early.
        rpc::fibonacci_client(*client).call(5, 120s);
        FAIL() << "expected NO_ROUTE";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::no_route);
        EXPECT_NE(e.reason().find("312"), std::string::npos) << e.reason();
    }
    EXPECT_EQ(client->stats().returned, 1u);
    EXPECT_EQ(client->pending_calls(), 0u);
}

TEST_F(RpcIntegration, CompletionTokensCallbackFutureAndCoroutine) {
    const auto q = unique_queue("tokens");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);

    std::promise<rpc::big_int> by_callback;
    rpc::fibonacci_client(*client).async_call(20, 30s, [&](rpc::error_code ec, rpc::big_int v) {
        EXPECT_FALSE(ec) << ec.message();
        by_callback.set_value(std::move(v));
    });
    EXPECT_EQ(by_callback.get_future().get(), 6765);

    EXPECT_EQ(rpc::fibonacci_client(*client).async_call(21, 30s, boost::asio::use_future).get(), 10946);

    std::promise<rpc::big_int> by_coroutine;
    boost::asio::co_spawn(
        io.executor(),
        [&]() -> boost::asio::awaitable<void> {
            rpc::big_int v = co_await rpc::fibonacci_client(*client).async_call(22, 30s, boost::asio::use_awaitable);
            by_coroutine.set_value(std::move(v));
        },
        boost::asio::detached);
    EXPECT_EQ(by_coroutine.get_future().get(), 17711);
}

TEST_F(RpcIntegration, StartAndCallFromACoroutine) {
    const auto q = unique_queue("coroutine");
    fib_server server(io.executor(), q);
    for (bool direct : {false, true}) {
        rpc::client_options opts;
        opts.queue = q;
        opts.direct_reply_to = direct;
        rpc::rpc_client client(io.executor(), broker_options(), opts);
        std::promise<rpc::big_int> done;
        boost::asio::co_spawn(
            io.executor(),
            [&]() -> boost::asio::awaitable<void> {
                co_await client.async_start(boost::asio::use_awaitable);
                co_return done.set_value(co_await rpc::fibonacci_client(client).async_call(40, 30s, boost::asio::use_awaitable));
            },
            [&](std::exception_ptr e) {
                if (e) done.set_exception(e);
            });
        EXPECT_EQ(done.get_future().get(), 102334155) << "direct=" << direct;
        EXPECT_TRUE(client.is_running());
    }
    // A broker that is not there: the error code, not a hang.
    auto dead = broker_options();
    dead.port = 1;
    rpc::rpc_client client(io.executor(), dead);
    std::promise<rpc::error_code> failed;
    client.async_start([&](rpc::error_code e) { failed.set_value(e); });
    auto result = failed.get_future();
    ASSERT_EQ(result.wait_for(60s), std::future_status::ready);
    EXPECT_TRUE(result.get());
    EXPECT_FALSE(client.is_running());
}

TEST_F(RpcIntegration, TwoServersShareTheLoad) {
    const auto q = unique_queue("share");
    // A slow handler, so that requests queue up and the broker round-robins them.
    auto slow = [](const rpc::request& r) {
        std::this_thread::sleep_for(20ms);
        return rpc::make_value_reply(rpc::fibonacci(rpc::parse_request(r.body).n), rpc::reply_format::plain);
    };
    rpc::rpc_server a(io.executor(), broker_options(), fib_server::options(q, 1), slow);
    rpc::rpc_server b(io.executor(), broker_options(), fib_server::options(q, 1), slow);
    a.start();
    b.start();
    auto client = make_client(io.executor(), q);
    std::vector<std::future<rpc::big_int>> calls;
    for (int i = 0; i < 20; ++i) calls.push_back(rpc::fibonacci_client(*client).async_call(static_cast<std::uint64_t>(i), 60s, boost::asio::use_future));
    for (int i = 0; i < 20; ++i) EXPECT_EQ(calls[static_cast<std::size_t>(i)].get(), rpc::fibonacci(static_cast<std::uint64_t>(i)));
    EXPECT_GT(a.stats().requests, 0u);
    EXPECT_GT(b.stats().requests, 0u);
    EXPECT_EQ(a.stats().requests + b.stats().requests, 20u);
    a.stop();
    b.stop();
}

TEST_F(RpcIntegration, PrefetchBoundsRequestsInFlight) {
    const auto q = unique_queue("prefetch");
    std::mutex m;
    std::condition_variable cv;
    int running = 0, max_running = 0;
    bool release = false;
    auto blocking = [&](const rpc::request& r) {
        std::unique_lock lock(m);
        max_running = std::max(max_running, ++running);
        cv.notify_all();
        cv.wait_for(lock, 60s, [&] { return release; });
        --running;
        return rpc::make_value_reply(rpc::big_int(r.body), rpc::reply_format::plain);
    };
    rpc::server_options opts = fib_server::options(q, 2);
    opts.workers = 4;  // more threads than the prefetch: only the prefetch may limit
    rpc::rpc_server server(io.executor(), broker_options(), opts, blocking);
    server.start();
    auto client = make_client(io.executor(), q);
    std::vector<std::future<rpc::big_int>> calls;
    for (int i = 1; i <= 6; ++i) calls.push_back(rpc::fibonacci_client(*client).async_call(static_cast<std::uint64_t>(i), 120s, boost::asio::use_future));
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return running == 2; }));
    }
    // Give the broker every chance to (wrongly) send a third one.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(server.in_flight(), 2u);
    {
        std::lock_guard lock(m);
        EXPECT_EQ(max_running, 2);
        release = true;
        cv.notify_all();
    }
    for (int i = 1; i <= 6; ++i) EXPECT_EQ(calls[static_cast<std::size_t>(i - 1)].get(), i);
    std::lock_guard lock(m);
    EXPECT_EQ(max_running, 2);
    server.stop();
}

TEST_F(RpcIntegration, RequestWithoutReplyToIsAckedAndLogged) {
    const auto q = unique_queue("noreplyto");
    std::promise<std::string> logged;
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1),
                           rpc::make_fibonacci_handler({}));
    server.on_log([&](std::string_view text) { logged.set_value(std::string(text)); });
    server.start();
    raw_peer peer(io.executor());
    peer.publish(q, "10", std::nullopt, std::string("cid-1"));
    auto text = logged.get_future();
    ASSERT_EQ(text.wait_for(30s), std::future_status::ready);
    EXPECT_NE(text.get().find("reply_to"), std::string::npos);
    EXPECT_EQ(server.stats().no_reply_to, 1u);
    server.stop();
    // Acked, not requeued: nothing left once the server's channel is gone.
    EXPECT_EQ(peer.ready(q), 0u);
}

TEST_F(RpcIntegration, UnparsableRequestGetsAnErrorReplyAndIsAcked) {
    const auto q = unique_queue("garbage");
    fib_server server(io.executor(), q);
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    peer.publish(q, "fib please", replies, std::string("cid-2"));
    auto reply = box.pop();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->correlation_id, "cid-2");
    EXPECT_EQ(reply->content_type, "application/json");
    EXPECT_EQ(reply->body, R"({"response": null, "error": "invalid request: expected a non-negative integer, got 'fib please'"})");
    server.server.stop();
    EXPECT_EQ(peer.ready(q), 0u);
}

TEST_F(RpcIntegration, HandlerExceptionBecomesAnErrorReply) {
    const auto q = unique_queue("throws");
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1),
                           [](const rpc::request&) -> rpc::reply { throw std::runtime_error("boom"); });
    server.start();
    auto client = make_client(io.executor(), q);
    try {
        rpc::fibonacci_client(*client).call(1, 30s);
        FAIL();
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error);
        EXPECT_EQ(e.reason(), "boom");
    }
    EXPECT_EQ(server.stats().handler_failures, 1u);
    server.stop();
}

TEST_F(RpcIntegration, StopFinishesAndAcksTheRequestInFlight) {
    const auto q = unique_queue("drain");
    std::promise<void> started;
    std::promise<void> go;
    auto go_f = go.get_future().share();
    std::atomic<bool> started_once{false};
    auto handler = [&](const rpc::request&) {
        if (!started_once.exchange(true)) started.set_value();
        go_f.wait_for(60s);
        return rpc::make_value_reply(42, rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), broker_options(), fib_server::options(q, 1), handler);
    server.start();
    auto client = make_client(io.executor(), q);
    auto call = rpc::fibonacci_client(*client).async_call(1, 120s, boost::asio::use_future);
    ASSERT_EQ(started.get_future().wait_for(30s), std::future_status::ready);
    auto stopping = std::async(std::launch::async, [&] { server.stop(); });
    std::this_thread::sleep_for(100ms);  // let stop() cancel the consumer while the handler runs
    go.set_value();
    EXPECT_EQ(call.get(), 42);
    stopping.get();
    raw_peer peer(io.executor());
    EXPECT_EQ(peer.ready(q), 0u);  // acked, not redelivered
}

TEST_F(RpcIntegration, LongHandlerDoesNotStopHeartbeats) {
    const auto q = unique_queue("heartbeat");
    auto conn = broker_options();
    conn.heartbeat = 1;  // the broker drops a peer silent for ~2 heartbeats
    auto slow = [](const rpc::request&) {
        std::this_thread::sleep_for(4s);  // on a worker: the I/O thread keeps heartbeating
        return rpc::make_value_reply(7, rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), conn, fib_server::options(q, 1), slow);
    std::atomic<bool> lost{false};
    server.on_connection_lost([&](const amqp::close_reason&) { lost = true; });
    server.start();
    auto client = make_client(io.executor(), q, false, conn);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(1, 60s), 7);
    EXPECT_FALSE(lost);
    EXPECT_TRUE(client->is_running());
    server.stop();
}

TEST_F(RpcIntegration, ClientNotStartedFailsCallsAtOnce) {
    rpc::rpc_client client(io.executor(), broker_options());
    try {
        rpc::fibonacci_client(client).call(1, 1s);
        FAIL();
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::not_started);
    }
}

}  // namespace
