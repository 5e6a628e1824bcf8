// The example of docs/your-own-service.md: a service of your own on this library, server and
// client in one program. Two services on one connection:
//   <prefix>.upper   text → the text upper-cased (a synchronous handler)
//   <prefix>.shout   JSON {"text": "..."} → {"shout": "...!", "length": N}, a coroutine handler
//                    that calls the upper service itself
// then a client calls both (coroutine, future and callback styles), shows an error reply and a
// handler's exception, and everything stops. Exit status 0 when every answer was the expected one.
//
//   upper_service [URL [PREFIX]]   (URL default: $AMQP_URL, else amqp://guest:guest@localhost:5672/)
//
// The code between "// [name]" and "// [end]" lines is quoted by the guide; a test checks that
// the guide's copy is this one (tests/rpc/guide_snippets_test.py).
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>
#include <rpc/server_awaitable.hpp>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace asio = boost::asio;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    std::cout << (ok ? "ok:   " : "FAIL: ") << what << std::endl;
    if (!ok) ++failures;
}

// [upper handler]
// A synchronous handler: it runs on the connection's thread (server_options::workers = 0) or on a
// worker; it must not wait for other requests of this server.
rpc::reply upper(const rpc::request& req) {
    if (req.body.empty()) return rpc::reply::error("nothing to upper-case");
    std::string text = req.body;
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return rpc::reply{std::move(text), std::string("text/plain")};
}
// [end]

// [shout handler]
// A coroutine handler: it awaits a call to the upper service (through its own client) without
// holding a thread. A throw becomes an error reply with the exception's message.
auto make_shout(rpc::rpc_client& upper_client) {
    return [&upper_client](rpc::request req) -> asio::awaitable<rpc::reply> {
        const boost::json::value in = boost::json::parse(req.body);  // throws on bad JSON
        rpc::request_message call;  // a named local, not a braced temporary: see "GCC 12" below
        call.body = std::string(in.at("text").as_string());
        call.timeout = std::chrono::seconds(5);
        auto [ec, upper] = co_await upper_client.async_request(std::move(call), asio::as_tuple(asio::use_awaitable));
        if (ec) throw std::runtime_error("the upper service failed: " + ec.message());
        boost::json::object out;
        out["shout"] = upper.body + "!";
        out["length"] = upper.body.size();
        co_return rpc::reply{boost::json::serialize(out), std::string("application/json")};
    };
}
// [end]

// An error reply's text, or empty for a success: the client reports a server's error reply as
// errc::remote_error with the server's text in diagnostics.
std::string error_of(rpc::error_code ec, const rpc::diagnostics& diag) {
    if (!ec) return {};
    return diag.message.empty() ? ec.message() : diag.message;
}

}  // namespace

int main(int argc, char** argv) {
    const char* env = std::getenv("AMQP_URL");
    const std::string url = argc > 1 ? argv[1] : env ? env : "amqp://guest:guest@localhost:5672/";
    const std::string prefix = argc > 2 ? argv[2] : "upper_service";
    amqp::connection_options conn;
    if (std::string why; amqp::parse_uri(url, conn, &why)) {
        std::cerr << "upper_service: bad URL: " << why << "\n";
        return 2;
    }

    // One thread runs the io_context; main() uses the blocking calls, which must not run there.
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    int status = 0;
    try {
        // [server]
        rpc::server_options options;
        options.workers = 0;                    // handlers on the connection's thread: the fast path
        options.max_request_size = 16 * 1024;   // larger requests are rejected with an error reply
        options.drain_timeout = std::chrono::seconds(5);
        rpc::rpc_server server(io.get_executor(), conn, options);

        rpc::client_options to_upper;
        to_upper.queue = prefix + ".upper";
        rpc::rpc_client upper_client(io.get_executor(), conn, to_upper);  // the shout handler's client

        rpc::service_options upper_opts;
        upper_opts.prefetch = 16;
        server.add_service(prefix + ".upper", upper, upper_opts);
        server.add_service(prefix + ".shout", rpc::awaitable_service(io.get_executor(), make_shout(upper_client)));
        server.start();  // connect, declare both queues, consume
        upper_client.start();
        // [end]

        rpc::client_options to_shout;
        to_shout.queue = prefix + ".shout";
        rpc::rpc_client client(io.get_executor(), conn, to_shout);
        client.start();
        rpc::rpc_client upper_caller(io.get_executor(), conn, to_upper);
        upper_caller.start();

        // [future call]
        rpc::request_message hello;
        hello.body = R"({"text": "hello"})";
        hello.content_type = "application/json";
        hello.timeout = std::chrono::seconds(10);
        rpc::reply_message shout = client.async_request(std::move(hello), asio::use_future).get();
        // shout.body: {"shout":"HELLO!","length":5}
        // [end]
        expect(shout.body == R"({"shout":"HELLO!","length":5})", "future call: " + shout.body);

        // [callback call]
        std::promise<std::string> seen;
        rpc::request_message world;
        world.body = "world";
        rpc::diagnostics diag;
        upper_caller.async_request(std::move(world), diag, [&](rpc::error_code ec, rpc::reply_message r) {
            seen.set_value(ec ? "error: " + diag.message : r.body);  // runs on the connection's thread
        });
        // [end]
        const std::string world_upper = seen.get_future().get();
        expect(world_upper == "WORLD", "callback call: " + world_upper);

        // [coroutine call]
        auto call = [&](std::string body) -> asio::awaitable<std::string> {
            rpc::request_message m;
            m.body = std::move(body);
            rpc::diagnostics d;
            auto [ec, r] = co_await client.async_request(std::move(m), d, asio::as_tuple(asio::use_awaitable));
            const std::string error = error_of(ec, d);
            co_return error.empty() ? r.body : "error: " + error;
        };
        const std::string bad_json = asio::co_spawn(io, call("not json"), asio::use_future).get();
        // bad_json: "error: syntax error" (Boost.JSON's message, without its source location)
        // [end]
        expect(bad_json.rfind("error: ", 0) == 0 && bad_json.find('[') == std::string::npos,
               "a handler's exception: " + bad_json);

        // [error reply]
        std::promise<std::string> refused_p;
        rpc::diagnostics why;
        upper_caller.async_request(rpc::request_message(), why, [&](rpc::error_code ec, rpc::reply_message) {
            refused_p.set_value(error_of(ec, why));  // "nothing to upper-case"
        });
        // [end]
        const std::string refused = refused_p.get_future().get();
        expect(refused == "nothing to upper-case", "an error reply: " + refused);

        // [cancel]
        // Race a call against a timer: the loser is cancelled. A cancelled call completes with
        // operation_aborted and leaves the client's table at once; its reply, if one comes, is dropped.
        using namespace asio::experimental::awaitable_operators;
        auto within = [&](std::chrono::milliseconds limit) -> asio::awaitable<std::string> {
            rpc::request_message m;
            m.body = R"({"text": "in a hurry"})";
            asio::steady_timer timer(io, limit);
            auto first = co_await (client.async_request(std::move(m), asio::use_awaitable) ||
                                   timer.async_wait(asio::use_awaitable));
            co_return first.index() == 0 ? std::get<0>(first).body : "no reply within the limit";
        };
        const std::string hurried = asio::co_spawn(io, within(std::chrono::milliseconds(1)), asio::use_future).get();
        // hurried: "no reply within the limit" (or the reply, on a very fast broker)
        // [end]
        expect(hurried == "no reply within the limit" || hurried.rfind(R"({"shout":"IN A HURRY!")", 0) == 0,
               "a call raced against a timer: " + hurried);

        // [stop]
        client.close();
        upper_caller.close();
        const bool drained = server.stop();  // no new requests; the ones in flight finish first
        upper_client.close();
        // [end]
        expect(drained, "stopped with every request finished");
        const rpc::server_stats stats = server.stats();
        expect(stats.replies == stats.requests, "replies " + std::to_string(stats.replies) + " of requests " +
                                                    std::to_string(stats.requests));
    } catch (const std::exception& e) {
        std::cerr << "upper_service: " << e.what() << std::endl;
        status = 1;
    }
    work.reset();
    io.stop();
    runner.join();
    if (status == 0 && failures > 0) status = 1;
    return status;
}
