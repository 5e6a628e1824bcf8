// The generic service API against a real RabbitMQ (issue 17): what a handler sees and answers,
// errors, several services on one connection, asynchronous and coroutine handlers (one calling
// another service), and the asynchronous life cycle on a single thread (issue 14).
#include <test_support/server_test_support.hpp>

#include <rpc/server_awaitable.hpp>

#include <amqp/codec/field_table.hpp>

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

class RpcServerServices : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

/// A reply as seen by a raw consumer, headers included.
struct full_reply {
    std::string body;
    std::optional<std::string> content_type, correlation_id;
    amqp::field_table headers;
};

/// Consume `queue` (no_ack) and hand over the first message.
std::future<full_reply> first_reply(raw_peer& peer, const std::string& queue) {
    auto p = std::make_shared<std::promise<full_reply>>();
    auto f = p->get_future();
    amqp::consume_options c;
    c.queue = queue;
    c.no_ack = true;
    auto once = std::make_shared<std::atomic<bool>>(false);
    peer.channel().consume(std::move(c), [p, once](const amqp::delivered_message& m) {
        if (once->exchange(true)) return;
        full_reply r;
        r.body.assign(amqp::as_string_view(m.body));
        if (m.properties.content_type) r.content_type.emplace(*m.properties.content_type);
        if (m.properties.correlation_id) r.correlation_id.emplace(*m.properties.correlation_id);
        if (m.properties.headers) {
            amqp::diagnostics diag;
            EXPECT_FALSE(amqp::decode_table(*m.properties.headers, r.headers, diag));
        }
        p->set_value(std::move(r));
    });
    return f;
}

// The text of the error reply `m` gets: the client reports it as remote_error, the server's text
// as the reason. Empty (and a test failure) when the call succeeds.
std::string error_reply_of(rpc::rpc_client& client, const rpc::request_message& m) {
    try {
        const rpc::reply_message r = client.request(m);
        ADD_FAILURE() << "expected an error reply, got " << r.body;
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error) << e.what();
        return e.reason();
    }
    return {};
}

TEST_F(RpcServerServices, HandlerSeesEveryPropertyAndItsReplyCarriesBodyContentTypeAndHeaders) {
    const auto q = unique_queue("props");
    std::promise<rpc::request> seen;
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(q, [&](const rpc::request& req) {
        seen.set_value(req);
        amqp::field_table h;
        h.emplace_back("x-status", std::string("fine"));
        h.emplace_back("x-length", static_cast<std::int64_t>(req.body.size()));
        return rpc::reply{"<ok/>", std::string("application/xml"), std::move(h)};
    });
    server.start();

    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    auto reply = first_reply(peer, replies);
    amqp::field_table headers;
    headers.emplace_back("x-tenant", std::string("acme"));
    headers.emplace_back("x-attempt", static_cast<std::int32_t>(2));
    amqp::byte_buffer raw;
    ASSERT_FALSE(amqp::encode_table(headers, raw));
    amqp::basic_properties p;
    p.content_type = "application/json";
    p.content_encoding = "identity";
    p.headers = amqp::table_view{amqp::bytes_view(raw.data(), raw.size())};
    p.correlation_id = "cid-props";
    p.reply_to = replies;
    p.message_id = "m-1";
    p.timestamp = 1700000000;
    p.type = "lookup";
    p.app_id = "tests";
    p.expiration = "60000";
    p.priority = 3;
    amqp::publish_options where;
    where.routing_key = q;
    ASSERT_FALSE(peer.channel().publish(where, p, amqp::as_bytes(std::string_view(R"({"id": 7})"))));

    auto seen_f = seen.get_future();
    ASSERT_EQ(seen_f.wait_for(30s), std::future_status::ready);
    const rpc::request req = seen_f.get();
    EXPECT_EQ(req.body, R"({"id": 7})");
    EXPECT_EQ(req.content_type, "application/json");
    EXPECT_EQ(req.content_encoding, "identity");
    EXPECT_EQ(req.headers, headers);
    EXPECT_EQ(req.correlation_id, "cid-props");
    EXPECT_EQ(req.reply_to, replies);
    EXPECT_EQ(req.message_id, "m-1");
    EXPECT_EQ(req.timestamp, 1700000000u);
    EXPECT_EQ(req.type, "lookup");
    EXPECT_EQ(req.app_id, "tests");
    EXPECT_EQ(req.expiration, "60000");
    EXPECT_EQ(req.priority, 3);
    EXPECT_FALSE(req.redelivered);
    EXPECT_EQ(req.routing_key, q);

    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    const full_reply r = reply.get();
    EXPECT_EQ(r.body, "<ok/>");
    EXPECT_EQ(r.content_type, "application/xml");
    EXPECT_EQ(r.correlation_id, "cid-props");
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[0].first, "x-status");
    EXPECT_EQ(r.headers[0].second, amqp::field_value(std::string("fine")));
    EXPECT_EQ(server.stop(), true);
}

// service_options::body_only, inline and on a worker: the handler gets the body and what names
// the request, nothing of the other properties, and nothing left over from the full request another
// service's handler got just before on the same thread (the inline request's buffers are reused).
TEST_F(RpcServerServices, BodyOnlyHandlerGetsTheBodyAndNoOtherProperty) {
    for (const std::size_t workers : {std::size_t{0}, std::size_t{2}}) {
        SCOPED_TRACE("workers " + std::to_string(workers));
        const auto full_q = unique_queue("full"), body_q = unique_queue("body");
        std::promise<rpc::request> full_seen, body_seen;
        rpc::server_options opts;
        opts.workers = workers;
        rpc::rpc_server server(io.executor(), broker_options(), opts);
        server.add_service(full_q, [&](const rpc::request& req) {
            full_seen.set_value(req);
            return rpc::reply{"full"};
        });
        rpc::service_options body_opts;
        body_opts.body_only = true;
        server.add_service(
            body_q,
            [&](const rpc::request& req) {
                body_seen.set_value(req);
                return rpc::reply{"body:" + req.body};
            },
            body_opts);
        server.start();

        raw_peer peer(io.executor());
        const auto full_replies = peer.declare_exclusive(), replies = peer.declare_exclusive();
        auto reply = first_reply(peer, replies);
        amqp::field_table headers;
        headers.emplace_back("x-tenant", std::string("acme"));
        amqp::byte_buffer raw;
        ASSERT_FALSE(amqp::encode_table(headers, raw));
        amqp::basic_properties p;
        p.content_type = "text/plain";
        p.headers = amqp::table_view{amqp::bytes_view(raw.data(), raw.size())};
        p.message_id = "m-1";
        p.app_id = "tests";
        p.timestamp = 1700000000;
        const auto send = [&](const std::string& q, std::string_view cid, const std::string& reply_to) {
            p.correlation_id = cid;
            p.reply_to = reply_to;
            amqp::publish_options where;
            where.routing_key = q;
            ASSERT_FALSE(peer.channel().publish(where, p, amqp::as_bytes(std::string_view("42"))));
        };

        send(full_q, "cid-full", full_replies);
        auto full_f = full_seen.get_future();
        ASSERT_EQ(full_f.wait_for(30s), std::future_status::ready);
        EXPECT_EQ(full_f.get().headers, headers);  // the full request had them

        send(body_q, "cid-body", replies);
        auto body_f = body_seen.get_future();
        ASSERT_EQ(body_f.wait_for(30s), std::future_status::ready);
        const rpc::request req = body_f.get();
        EXPECT_EQ(req.body, "42");
        EXPECT_EQ(req.correlation_id, "cid-body");
        EXPECT_EQ(req.reply_to, replies);
        EXPECT_FALSE(req.redelivered);
        EXPECT_TRUE(req.headers.empty());
        EXPECT_EQ(req.content_type, "");
        EXPECT_EQ(req.message_id, "");
        EXPECT_EQ(req.app_id, "");
        EXPECT_EQ(req.routing_key, "");
        EXPECT_FALSE(req.timestamp);

        // Answered as any request.
        ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
        const full_reply r = reply.get();
        EXPECT_EQ(r.body, "body:42");
        EXPECT_EQ(r.correlation_id, "cid-body");
        EXPECT_EQ(server.stop(), true);
    }
}

TEST_F(RpcServerServices, AnExceptionIsAnErrorReplyWithItsMessageAndNoSourceLocation) {
    const auto q = unique_queue("throws");
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(q, [](const rpc::request& req) -> rpc::reply {
        // Boost.JSON's own exception: its what() names value.hpp and a line.
        return rpc::reply{std::to_string(boost::json::parse(req.body).to_number<int>())};
    });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    auto reply = first_reply(peer, replies);
    peer.publish(q, R"("seven")", replies, std::string("cid-throw"));
    ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
    const full_reply r = reply.get();
    EXPECT_EQ(r.content_type, "application/json");
    const rpc::decoded_reply d = rpc::decode_reply(r.body);
    ASSERT_EQ(d.what, rpc::decoded_reply::kind::error) << r.body;
    EXPECT_FALSE(d.error.empty());
    EXPECT_EQ(d.error.find('['), std::string::npos) << d.error;
    EXPECT_EQ(d.error.find(".hpp"), std::string::npos) << d.error;
    EXPECT_EQ(server.stats().handler_failures, 1u);
    server.stop();
}

// An asynchronous handler answering from another thread, next to a synchronous one, on one
// connection; a third that drops its sender still gets its caller an answer.
TEST_F(RpcServerServices, SeveralServicesOnOneConnectionSyncAsyncAndOneThatNeverReplies) {
    const auto upper = unique_queue("upper");
    const auto later = unique_queue("later");
    const auto silent = unique_queue("silent");
    rpc::cli::io_thread elsewhere;  // where the asynchronous handler's work goes
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(upper, [](const rpc::request& req) {
        std::string s = req.body;
        for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return rpc::reply{s};
    });
    rpc::service_options on_elsewhere;
    on_elsewhere.executor = elsewhere.executor();
    on_elsewhere.prefetch = 4;
    server.add_service(
        later,
        [&](rpc::request req, rpc::reply_sender send) {
            auto timer = std::make_shared<asio::steady_timer>(elsewhere.executor(), 20ms);
            timer->async_wait([timer, send, body = std::move(req.body)](const amqp::error_code&) {
                send(rpc::reply{"later: " + body});
            });
        },
        on_elsewhere);
    server.add_service(silent, [](rpc::request, rpc::reply_sender) {});
    EXPECT_THROW(server.add_service(upper, [](const rpc::request&) { return rpc::reply{}; }), std::logic_error);
    server.start();
    EXPECT_THROW(server.add_service(unique_queue("late"), [](const rpc::request&) { return rpc::reply{}; }),
                 std::logic_error);

    auto to_upper = make_client(io.executor(), upper);
    auto to_later = make_client(io.executor(), later);
    auto to_silent = make_client(io.executor(), silent);
    rpc::request_message m;
    m.body = "abc";
    EXPECT_EQ(to_upper->request(m).body, "ABC");
    EXPECT_EQ(to_later->request(m).body, "later: abc");
    EXPECT_EQ(error_reply_of(*to_silent, m), "internal error: the service ended without replying");
    EXPECT_EQ(server.stats().replies, 3u);
    EXPECT_EQ(server.in_flight(), 0u);
    EXPECT_TRUE(server.stop());
}

// The metadata round trip between our own client and server: the request's content type and
// headers reach the handler; the reply's content type and headers reach the caller.
TEST_F(RpcServerServices, ContentTypeAndHeadersGoBothWaysBetweenOurClientAndServer) {
    const auto q = unique_queue("meta");
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(q, [](const rpc::request& req) {
        std::string tenant = "none";
        for (const auto& [key, value] : req.headers)
            if (key == "x-tenant" && value.is<std::string>()) tenant = value.get<std::string>();
        return rpc::reply{req.content_type, "text/x-echo", amqp::field_table{{"x-seen-tenant", tenant}}};
    });
    server.start();
    auto client = make_client(io.executor(), q);
    rpc::request_message m;
    m.body = "hi";
    m.content_type = "text/x-request";
    m.headers = amqp::field_table{{"x-tenant", std::string("acme")}};
    const rpc::reply_message r = client->request(m);
    EXPECT_EQ(r.body, "text/x-request");
    EXPECT_EQ(r.content_type, "text/x-echo");
    EXPECT_EQ(r.headers, (amqp::field_table{{"x-seen-tenant", std::string("acme")}}));
    EXPECT_TRUE(server.stop());
}

// A coroutine handler that is itself a client of another service.
TEST_F(RpcServerServices, AnAwaitableHandlerAwaitsACallToAnotherService) {
    const auto inner = unique_queue("inner");
    const auto outer = unique_queue("outer");
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(inner, [](const rpc::request& req) { return rpc::reply{req.body + "!"}; });
    auto to_inner = make_client(io.executor(), inner);
    auto calls_inner = [&](rpc::request req) -> asio::awaitable<rpc::reply> {
        rpc::request_message m;  // a named local: see docs/your-own-service.md (GCC 12)
        m.body = std::move(req.body);
        auto [ec, r] = co_await to_inner->async_request(std::move(m), asio::as_tuple(asio::use_awaitable));
        if (ec) throw std::runtime_error("inner service: " + ec.message());
        if (r.body == "boom!") throw std::runtime_error("boom");
        co_return rpc::reply{"outer(" + r.body + ")"};
    };
    server.add_service(outer, rpc::awaitable_service(io.executor(), calls_inner));
    server.start();
    auto to_outer = make_client(io.executor(), outer);
    rpc::request_message m;
    m.body = "hi";
    EXPECT_EQ(to_outer->request(m).body, "outer(hi!)");
    m.body = "boom";
    EXPECT_EQ(error_reply_of(*to_outer, m), "boom");
    EXPECT_TRUE(server.stop());
}

// One thread, one io_context, coroutines only: start, serve a request, stop; the blocking forms
// refuse to run there; once stopped, run() returns (no timer of the server left armed).
TEST(RpcServerSingleThread, StartServeStopFromACoroutineAndRunReturns) {
    RPC_REQUIRE_BROKER();
    asio::io_context ctx;
    const auto q = unique_queue("one-thread");
    rpc::server_options opts;
    opts.reconnect = true;  // its timer must not outlive stop
    rpc::rpc_server server(ctx.get_executor(), broker_options(), opts);
    server.add_service(q, [](const rpc::request& req) { return rpc::reply{"re: " + req.body}; });
    std::string answer;
    bool drained = false, refused_start = false, refused_stop = false;
    std::exception_ptr failed;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            try {
                server.start();
            } catch (const std::logic_error&) {
                refused_start = true;
            }
            co_await server.async_start(asio::use_awaitable);
            // The caller, played by hand on the same thread.
            amqp::connection peer(ctx.get_executor(), broker_options());
            co_await peer.async_open(asio::use_awaitable);
            amqp::channel ch = co_await peer.async_open_channel(asio::use_awaitable);
            amqp::queue_options rq;
            rq.exclusive = true;
            const std::string replies = (co_await ch.async_declare_queue(rq, asio::use_awaitable)).name;
            asio::steady_timer arrived(ctx, std::chrono::steady_clock::time_point::max());
            amqp::consume_options c;
            c.queue = replies;
            c.no_ack = true;
            co_await ch.async_consume(
                c,
                [&](const amqp::delivered_message& m) {
                    answer.assign(amqp::as_string_view(m.body));
                    arrived.cancel();
                },
                asio::use_awaitable);
            amqp::basic_properties p;
            p.reply_to = replies;
            p.correlation_id = "c1";
            amqp::publish_options where;
            where.routing_key = q;
            EXPECT_FALSE(ch.publish(where, p, amqp::as_bytes(std::string_view("ping"))));
            arrived.expires_after(30s);
            co_await arrived.async_wait(asio::as_tuple(asio::use_awaitable));
            try {
                server.stop();
            } catch (const std::logic_error&) {
                refused_stop = true;
            }
            drained = co_await server.async_stop(asio::use_awaitable);
            co_await peer.async_close(asio::use_awaitable);
        },
        [&](std::exception_ptr e) { failed = e; });
    ctx.run_for(60s);
    EXPECT_TRUE(ctx.stopped()) << "run() did not return: something of the server's is still pending";
    EXPECT_FALSE(failed);
    EXPECT_TRUE(refused_start);
    EXPECT_TRUE(refused_stop);
    EXPECT_EQ(answer, "re: ping");
    EXPECT_TRUE(drained);
}

TEST(RpcServerSingleThread, AFailedStartCompletesWithItsErrorAndRunReturns) {
    RPC_REQUIRE_BROKER();
    asio::io_context ctx;
    amqp::connection_options bad = broker_options();
    bad.password = "not-the-password";
    rpc::rpc_server server(ctx.get_executor(), bad, {});
    server.add_service(unique_queue("refused"), [](const rpc::request&) { return rpc::reply{}; });
    std::optional<amqp::error_code> result;
    server.async_start([&](amqp::error_code ec) { result = ec; });
    EXPECT_FALSE(result) << "completed inside async_start";
    ctx.run_for(60s);
    EXPECT_TRUE(ctx.stopped());
    ASSERT_TRUE(result);
    EXPECT_TRUE(*result);
    EXPECT_FALSE(server.last_error().empty());
}

// Cancelling async_stop is halt(): a drain that would wait an hour for a request in flight ends at
// once, incomplete; the request goes back to the broker.
TEST_F(RpcServerServices, CancellingAsyncStopCutsTheDrainShort) {
    const auto q = unique_queue("cancel-stop");
    blocking_handler slow;
    rpc::server_options opts;
    opts.workers = 1;
    opts.drain_timeout = std::chrono::hours(1);
    rpc::rpc_server server(io.executor(), broker_options(), opts);
    server.add_service(q, slow.handler());
    server.on_log([](std::string_view) {});
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    peer.publish(q, "1", replies, std::string("c-1"));
    ASSERT_TRUE(slow.wait_started());
    asio::cancellation_signal cancel;
    std::promise<bool> stopped;
    server.async_stop(asio::bind_cancellation_slot(cancel.slot(), [&](bool drained) { stopped.set_value(drained); }));
    auto f = stopped.get_future();
    EXPECT_EQ(f.wait_for(200ms), std::future_status::timeout);  // draining: the request is in flight
    asio::post(io.executor(), [&] { cancel.emit(asio::cancellation_type::terminal); });
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    EXPECT_FALSE(f.get());
    EXPECT_EQ(wait_until_ready(peer, q, 1), 1u);  // released, not acked
    EXPECT_FALSE(server.stop());                  // a later stop gives the first one's result
    slow.release();
}

TEST_F(RpcServerServices, CancellingAsyncStartAbortsIt) {
    rpc::rpc_server server(io.executor(), broker_options(), {});
    server.add_service(unique_queue("cancel-start"), [](const rpc::request&) { return rpc::reply{}; });
    asio::cancellation_signal cancel;
    std::promise<amqp::error_code> started;
    asio::post(io.executor(), [&] {
        auto done = [&](amqp::error_code ec) { started.set_value(ec); };
        server.async_start(asio::bind_cancellation_slot(cancel.slot(), done));
        cancel.emit(asio::cancellation_type::terminal);
    });
    auto f = started.get_future();
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(f.get(), boost::asio::error::operation_aborted);
    EXPECT_TRUE(server.stop());  // nothing was served, nothing left to drain
}

}  // namespace
