// The tutorial's rpc_server.py: serve fib(n) on a queue until SIGINT/SIGTERM.
#include <fibonacci/fibonacci_service.hpp>
#include <programs/cli.hpp>
#include <rpc/rpc_server.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/signal_set.hpp>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace {

constexpr std::string_view usage =
    "usage: rpc_server [--url URL]... [--shuffle-nodes] [--queue Q] [--queue-type T] [--confirms]\n"
    "                  [--prefetch N] [--max-n N] [--naive] [--reply-format plain|json] [--reconnect]\n"
    "                  [--workers N] [--quiet] [--drain-timeout S] [--max-request-size BYTES]\n"
    "Serve fib(n) requests from queue Q (default rpc_queue) until SIGINT or SIGTERM, then finish\n"
    "the requests in flight (for at most --drain-timeout seconds; a second signal stops at once)\n"
    "and exit. What is unfinished is left to the broker, which redelivers it to another server.\n"
    "Exit status: 0 stopped by a signal with every request finished; 1 error (connection lost,\n"
    "broker refused); 2 usage; 3 the drain timed out; 4 a second signal cut the drain short.\n";

// The Fibonacci server's own options (the shared groups are in <programs/cli.hpp>).
const rpc::cli::option_group own_options{
    {{"max-n", true},
     {"naive", false},
     {"reply-format", true},
     {"reconnect", false},
     {"workers", true},
     {"quiet", false},
     {"drain-timeout", true},
     {"max-request-size", true}},
    "  --max-n N            largest n served (default 100000)\n"
    "  --naive              the tutorial's exponential recursion (n <= 45)\n"
    "  --reply-format F     plain: decimal text (default); json: {\"response\": N, \"error\": null}\n"
    "  --reconnect          on a lost connection, reconnect (backoff 0.5 s doubling to 10 s) and\n"
    "                       consume again, instead of exiting with status 1\n"
    "  --workers N          threads computing large n (default: the prefetch, at most one per\n"
    "                       core); small n (up to 5000, naive: 20) are computed on the\n"
    "                       connection's own thread. 0: every n there, but a long computation\n"
    "                       then holds back the other requests, the heartbeats and the signals\n"
    "  --quiet              no \" [.] fib(n)\" line per request (benchmarks)\n"
    "  --drain-timeout S    after a signal, wait at most S seconds for requests in flight\n"
    "                       (default 30)\n"
    "  --max-request-size B largest request body read, in bytes, at least 1024 (default 65536);\n"
    "                       a larger one is rejected without requeue and answered with an\n"
    "                       error; it caps replies too\n"};

constexpr int exit_drain_timed_out = 3;
constexpr int exit_second_signal = 4;

int serve(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (!args.positionals.empty()) throw usage_error("unexpected argument '" + args.positionals.front() + "'");
    rpc::server_options opts = server_options_from(args);
    opts.reconnect = args.flag("reconnect");
    opts.workers = workers_from(args).value_or(
        std::min<std::size_t>(opts.prefetch, std::max(1u, std::thread::hardware_concurrency())));
    if (auto d = args.value("drain-timeout")) opts.drain_timeout = parse_seconds(*d, "--drain-timeout");
    if (auto m = args.value("max-request-size"))
        opts.max_request_size = parse_count(*m, 1024, std::uint64_t{1} << 32, "--max-request-size");

    rpc::fibonacci_service_options fib;
    if (auto m = args.value("max-n"))
        fib.max_n = parse_count(*m, 0, std::numeric_limits<std::uint64_t>::max(), "--max-n");
    fib.naive = args.flag("naive");
    if (auto f = args.value("reply-format")) {
        if (*f == "json") fib.format = rpc::reply_format::json;
        else if (*f != "plain") throw usage_error("--reply-format must be plain or json, got '" + *f + "'");
    }
    if (!args.flag("quiet"))
        fib.on_request = [](std::uint64_t n) {
            // Formatted in place, a line per request: no string built for it.
            char line[32] = " [.] fib(";  // 9 characters, 20 digits at most, ')'
            char* end = std::to_chars(line + 9, line + sizeof line - 1, n).ptr;
            *end++ = ')';
            say(std::string_view(line, static_cast<std::size_t>(end - line)));
        };
    fib.on_bad_request = [](std::string_view reason) { std::cerr << " [!] Bad request: " << reason << std::endl; };
    // Small n cost less than the hand-off to a worker and back: only large n leave the connection's thread.
    if (opts.workers > 0) opts.runs_inline = rpc::fibonacci_runs_inline(fib);
    opts.body_only = true;  // the Fibonacci handler reads nothing else: no other property copied for it
    const rpc::broker_nodes nodes = broker_nodes_from(args);

    io_thread io;
    // Whichever comes first: a signal (clean stop, exit 0) or the loss of the connection (exit 1).
    std::promise<std::string> ended;
    std::atomic<bool> ended_once{false};
    auto end = [&](std::string why) {
        if (!ended_once.exchange(true)) ended.set_value(std::move(why));
    };
    // The server a second signal halts, while it drains (null before and after).
    std::mutex halting_mutex;
    rpc::rpc_server* halting = nullptr;
    std::atomic<bool> second_signal{false};
    boost::asio::signal_set signals(io.context(), SIGINT, SIGTERM);
    signals.async_wait([&](const amqp::error_code& ec, int) {
        if (ec) return;
        signals.async_wait([&](const amqp::error_code& ec2, int) {
            if (ec2) return;
            second_signal = true;
            std::lock_guard lock(halting_mutex);
            if (halting) halting->halt();
        });
        end({});
    });

    rpc::rpc_server server(io.executor(), nodes, opts, rpc::make_fibonacci_handler(std::move(fib)));
    server.on_connection_lost([&](const amqp::close_reason& r) { end("connection lost: " + r.to_string()); });
    server.start();
    say(" [x] Awaiting RPC requests");

    const std::string why = ended.get_future().get();
    if (!why.empty()) {
        print_error(why);
        return exit_failure;
    }
    say("Interrupted");
    {
        std::lock_guard lock(halting_mutex);
        halting = &server;
        if (second_signal) server.halt();  // it came before we got here
    }
    const bool drained = server.stop();
    {
        std::lock_guard lock(halting_mutex);
        halting = nullptr;
    }
    if (drained) return exit_ok;
    // The unfinished requests are back with the broker. A computation still running cannot be
    // interrupted, and the server's destructor would wait for it: leave without it.
    const int status = second_signal ? exit_second_signal : exit_drain_timed_out;
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(status);
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
    // glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), after
    // which blocks of that size come from the heap and stay with the process once freed: four
    // 32 MiB requests (with --max-request-size raised) left 72 MB resident instead of 7 MB.
    // A fixed threshold keeps every block above it in its own mapping, returned when freed.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, server_queue_options, server_durability_options, own_options},
               serve);
}
