// The async contract of rpc_client as a Boost.Asio user relies on it (issue 14), tried as that
// user would: a coroutine program on one io_context run by one thread, against the test broker.
#include <test_support/rpc_fixture.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <amqp/codec/field_table.hpp>

#include <future>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

rpc::request_message message(std::string body, std::chrono::milliseconds timeout) {
    rpc::request_message r;
    r.body = std::move(body);
    r.timeout = timeout;
    return r;
}

template <class F>
void expect_would_deadlock(F&& f, const char* what) {
    try {
        f();
        ADD_FAILURE() << what << " blocked on the executor's own thread and returned";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::error_code(rpc::errc::would_deadlock)) << what << ": " << e.reason();
    }
}

TEST(RpcClientAsync, ASingleThreadedCoroutineProgramStartsCallsCancelsAndCloses) {
    RPC_REQUIRE_BROKER();
    // The servers live on their own thread; the client program below has one thread: this one.
    rpc::cli::io_thread servers_io;
    const auto fib_queue = unique_queue("async-fib");
    const auto silent_queue = unique_queue("async-silent");
    fib_server fib(servers_io.executor(), fib_queue);
    hand_server silent_server(servers_io.executor(), silent_queue);  // takes requests, never answers

    asio::io_context io;
    rpc::client_options o;
    o.queue = fib_queue;
    rpc::rpc_client client(io.get_executor(), broker_options(), o);
    o.queue = silent_queue;
    rpc::rpc_client silent(io.get_executor(), broker_options(), o);
    static_assert(std::is_same_v<rpc::rpc_client::executor_type, asio::any_io_executor>);
    EXPECT_TRUE(client.get_executor() == asio::any_io_executor(io.get_executor()));

    bool finished = false;
    rpc::error_code pending_at_close;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await client.async_start(asio::use_awaitable);
            co_await silent.async_start(asio::use_awaitable);
            // The blocking forms refuse the thread they would wait for.
            expect_would_deadlock([&] { client.request(message("1", 5s)); }, "request()");
            expect_would_deadlock([&] { client.close(); }, "close()");
            expect_would_deadlock([&] { rpc::fibonacci_client(client).call(1); }, "fibonacci_client::call()");

            EXPECT_EQ(co_await rpc::fibonacci_client(client).async_call(10, 30s, asio::use_awaitable), 55);

            // A call racing a short timer returns at the timer; the call leaves the table.
            asio::steady_timer timer(io, 100ms);
            auto raced = co_await (silent.async_request(message("race", 1h), asio::use_awaitable) ||
                                   timer.async_wait(asio::use_awaitable));
            EXPECT_EQ(raced.index(), 1u);
            EXPECT_EQ(silent.pending_calls(), 0u);
            EXPECT_EQ(silent.stats().cancelled, 1u);

            // A cancellation slot emitted mid-call is honoured (terminal).
            asio::cancellation_signal signal;
            asio::steady_timer emit_at(io, 50ms);
            emit_at.async_wait([&](rpc::error_code) { signal.emit(asio::cancellation_type::terminal); });
            rpc::diagnostics diag;
            auto [ec, reply] = co_await silent.async_request(
                message("cancel me", 1h), diag,
                asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
            EXPECT_EQ(ec, asio::error::operation_aborted) << ec.message();
            EXPECT_EQ(diag.message, "RPC call cancelled");
            EXPECT_EQ(silent.pending_calls(), 0u);

            // "Total" cancellation is not accepted once the request is on the wire: the call runs on.
            asio::steady_timer emit_total(io, 50ms);
            emit_total.async_wait([&](rpc::error_code) { signal.emit(asio::cancellation_type::total); });
            auto [ec2, reply2] = co_await silent.async_request(
                message("not total", 300ms),
                asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
            EXPECT_EQ(ec2, rpc::error_code(rpc::errc::timeout)) << ec2.message();

            // Closing with a call pending for an hour: the call fails at once and no timer is left
            // armed, so that run() below returns now rather than in an hour.
            silent.async_request(message("pending", 1h),
                                 [&](rpc::error_code e, rpc::reply_message) { pending_at_close = e; });
            co_await silent.async_close(asio::use_awaitable);
            co_await client.async_close(asio::use_awaitable);
            finished = true;
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    EXPECT_TRUE(finished);
    EXPECT_EQ(pending_at_close, rpc::error_code(rpc::errc::connection_lost));
    EXPECT_FALSE(client.is_running());
}

TEST(RpcClientAsync, AServersErrorReplyIsARemoteErrorForAnyRequest) {
    RPC_REQUIRE_BROKER();
    rpc::cli::io_thread io;
    const auto q = unique_queue("error-replies");
    hand_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    rpc::diagnostics diag;
    auto error_call = client->async_request(message("anything", 30s), diag, asio::use_future);
    auto plain_call = client->async_request(message("other", 30s), asio::use_future);
    const auto first = server.requests.pop(30s);
    const auto second = server.requests.pop(30s);
    ASSERT_TRUE(first && second);
    auto answer = [&](const seen_message& req, std::string_view body, std::string_view content_type, bool with_header) {
        amqp::basic_properties p;
        p.correlation_id = *req.correlation_id;
        p.content_type = content_type;
        amqp::byte_buffer headers;
        if (with_header) {
            ASSERT_FALSE(amqp::encode_table(amqp::field_table{{"x-served-by", std::string("node-a")}}, headers));
            p.headers = amqp::table_view{amqp::bytes_view(headers.data(), headers.size())};
        }
        amqp::publish_options where;
        where.routing_key = *req.reply_to;
        ASSERT_FALSE(server.peer.channel().publish(where, p, amqp::as_bytes(body)));
    };
    const bool first_is_error = first->body == "anything";
    answer(first_is_error ? *first : *second, R"({"response": null, "error": "no such user: \"bob\""})",
           "application/json", false);
    answer(first_is_error ? *second : *first, "ok", "text/plain", true);
    try {
        error_call.get();
        ADD_FAILURE() << "an error reply completed as a success";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), rpc::error_code(rpc::errc::remote_error));
    }
    EXPECT_EQ(diag.message, "no such user: \\\"bob\\\"");
    const rpc::reply_message r = plain_call.get();
    EXPECT_EQ(r.body, "ok");
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(r.headers, (amqp::field_table{{"x-served-by", std::string("node-a")}}));
    client->close();
}

// A completion runs on its handler's associated executor: a plain call when that is the client's
// own io_context (on one of its threads), a dispatch to any other executor.
TEST(RpcClientAsync, EveryCompletionRunsOnItsHandlersExecutor) {
    RPC_REQUIRE_BROKER();
    rpc::cli::io_thread io, other;
    const auto q = unique_queue("completion-executors");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    auto* client_io = rpc::detail::direct_context(io.executor());
    ASSERT_NE(client_io, nullptr);
    auto* other_io = static_cast<asio::io_context*>(rpc::detail::direct_context(other.executor()));
    ASSERT_NE(other_io, nullptr);
    auto strand = asio::make_strand(io.executor());
    std::promise<bool> own, elsewhere, on_strand;
    client->async_request(message("5", 30s), [&](rpc::error_code ec, rpc::reply_message r) {
        EXPECT_FALSE(ec) << ec.message();
        EXPECT_EQ(r.body, "5");
        own.set_value(static_cast<asio::io_context*>(client_io)->get_executor().running_in_this_thread());
    });
    client->async_request(message("6", 30s), asio::bind_executor(other.executor(), [&](rpc::error_code ec,
                                                                                        rpc::reply_message) {
                              EXPECT_FALSE(ec) << ec.message();
                              elsewhere.set_value(other_io->get_executor().running_in_this_thread());
                          }));
    client->async_request(message("7", 30s), asio::bind_executor(strand, [&](rpc::error_code ec, rpc::reply_message) {
                              EXPECT_FALSE(ec) << ec.message();
                              on_strand.set_value(strand.running_in_this_thread());
                          }));
    EXPECT_TRUE(own.get_future().get());
    EXPECT_TRUE(elsewhere.get_future().get());
    EXPECT_TRUE(on_strand.get_future().get());
    client->close();
}

// A completion handler reads the client's counters as the call's own reply left them, also for a
// call it made itself from the handler before.
TEST(RpcClientAsync, ACompletionHandlerSeesItsOwnReplyCounted) {
    RPC_REQUIRE_BROKER();
    rpc::cli::io_thread io;
    const auto q = unique_queue("handler-counters");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    std::promise<std::vector<std::size_t>> seen;
    std::vector<std::size_t> counts;
    client->async_request(message("5", 30s), [&](rpc::error_code ec, rpc::reply_message) {
        EXPECT_FALSE(ec) << ec.message();
        counts = {client->stats().calls, client->stats().replies, client->pending_calls()};
        client->async_request(message("6", 30s), [&](rpc::error_code ec2, rpc::reply_message) {
            EXPECT_FALSE(ec2) << ec2.message();
            counts.insert(counts.end(), {client->stats().calls, client->stats().replies, client->pending_calls()});
            seen.set_value(counts);
        });
    });
    EXPECT_EQ(seen.get_future().get(), (std::vector<std::size_t>{1, 1, 0, 2, 2, 0}));
    client->close();
}

}  // namespace
