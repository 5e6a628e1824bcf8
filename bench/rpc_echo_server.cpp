// Echo RPC server for the message-size runs of bench/run_matrix.py (issue 19): rpc::rpc_server
// with a handler that returns the request body as it came, so that the body's size is the only
// variable (examples/rpc_server serves fib(n), whose reply is a few digits). Serves until SIGINT or
// SIGTERM; prints " [x] Awaiting RPC requests" once consuming, as the other servers do.
//
//   rpc_echo_server [--url URL] [--queue Q] [--prefetch N] [--workers N]
#include <programs/cli.hpp>
#include <rpc/rpc_server.hpp>

#include <atomic>
#include <csignal>
#include <future>
#include <string>

#include <boost/asio/signal_set.hpp>

namespace {

constexpr std::string_view usage =
    "usage: rpc_echo_server [--url URL] [--queue Q] [--prefetch N] [--workers N]\n"
    "Reply to every request on queue Q (default rpc_queue) with its own body, until SIGINT or SIGTERM.\n";

const rpc::cli::option_group own_options{
    {{"workers", true}},
    "  --workers N          threads running the handler (default 0: on the connection's thread)\n"};

int serve(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (!args.positionals.empty()) throw usage_error("unexpected argument '" + args.positionals.front() + "'");
    rpc::server_options opts = server_options_from(args);
    opts.workers = workers_from(args).value_or(0);
    // The message-size runs go up to 1 MiB bodies; the server's default limit (64 KiB) would refuse them.
    opts.max_request_size = 4u << 20;
    const amqp::connection_options conn = broker_options(args);

    io_thread io;
    std::promise<std::string> ended;
    std::atomic<bool> ended_once{false};
    auto end = [&](std::string why) {
        if (!ended_once.exchange(true)) ended.set_value(std::move(why));
    };
    boost::asio::signal_set signals(io.context(), SIGINT, SIGTERM);
    signals.async_wait([&](const amqp::error_code& ec, int) {
        if (!ec) end({});
    });
    rpc::rpc_server server(io.executor(), conn, opts,
                           [](rpc::request&& req) { return rpc::reply{std::move(req.body)}; });
    server.on_connection_lost([&](const amqp::close_reason& r) { end("connection lost: " + r.to_string()); });
    server.start();
    say(" [x] Awaiting RPC requests");
    const std::string why = ended.get_future().get();
    if (!why.empty()) {
        print_error(why);
        return exit_failure;
    }
    server.stop();
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_url_options, server_queue_options, own_options}, serve);
}
