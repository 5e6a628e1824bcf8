// The tutorial's threaded client, done safely: five calls in flight at once on one connection,
// then their results in the order they were asked for.
#include <fibonacci/fibonacci_client.hpp>
#include <programs/cli.hpp>
#include <rpc/rpc_client.hpp>

#include <future>
#include <list>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>

namespace {

constexpr std::string_view usage =
    "usage: rpc_async_client [--url URL]... [--shuffle-nodes] [--queue Q] [--direct-reply-to] [--timeout S]\n"
    "Send fib(10), fib(15), fib(20), fib(25) and fib(30) at once to the server on queue Q\n"
    "(default rpc_queue), then print each result; each call waits at most S seconds (default 30).\n";

const rpc::cli::option_group own_options{{{"timeout", true}},
                                         "  --timeout S          each call's deadline in seconds (default 30)\n"};

int request(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (!args.positionals.empty()) throw usage_error("unexpected argument '" + args.positionals.front() + "'");
    const std::chrono::milliseconds timeout = args.value("timeout") ? parse_seconds(*args.value("timeout"), "--timeout")
                                                                    : std::chrono::seconds(30);
    const rpc::client_options opts = client_options_from(args);
    const rpc::broker_nodes nodes = broker_nodes_from(args);

    io_thread io;
    rpc::rpc_client client(io.executor(), nodes, opts);
    client.start();

    struct call {
        std::uint64_t n;
        rpc::diagnostics diag;  // must outlive the call: a list keeps addresses stable
        std::future<rpc::big_int> result;
    };
    std::list<call> calls;
    say("Sending requests...");
    for (std::uint64_t n : {10, 15, 20, 25, 30}) {
        call& c = calls.emplace_back(call{n, {}, {}});
        c.result = rpc::fibonacci_client(client).async_call(n, timeout, c.diag, boost::asio::use_future);
        say(" [x] Sent fib(" + std::to_string(n) + "), corr_id=" + c.diag.correlation_id.substr(0, 8) + "...");
    }
    say("");
    say("Waiting for results...");
    int status = exit_ok;
    for (call& c : calls) {
        try {
            say(" [.] fib(" + std::to_string(c.n) + ") = " + c.result.get().str());
        } catch (const std::exception&) {
            print_error("fib(" + std::to_string(c.n) + "): " + c.diag.message);
            status = exit_failure;
        }
    }
    client.close();
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, client_queue_options, own_options}, request);
}
