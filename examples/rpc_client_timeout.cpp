// The tutorial's rpc_client_timeout.py: fib(N) with a deadline. Unlike the tutorial, a timeout
// is a failure: " [!] Error: RPC call timed out after T seconds" on stderr, exit status 1.
#include <programs/cli.hpp>
#include <rpc/rpc_client.hpp>

#include <limits>
#include <string>

namespace {

constexpr std::string_view usage =
    "usage: rpc_client_timeout [--url URL]... [--shuffle-nodes] [--queue Q] [--direct-reply-to] [N] [TIMEOUT_S]\n"
    "Ask the server on queue Q (default rpc_queue) for fib(N) (default 10), waiting at most\n"
    "TIMEOUT_S seconds (default 30; decimals allowed, e.g. 0.5).\n";

int request(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (args.positionals.size() > 2) throw usage_error("unexpected argument '" + args.positionals[2] + "'");
    const std::uint64_t n = args.positionals.empty()
                                ? 10
                                : parse_count(args.positionals[0], 0, std::numeric_limits<std::uint64_t>::max(), "N");
    const std::chrono::milliseconds timeout = args.positionals.size() > 1
                                                  ? parse_seconds(args.positionals[1], "TIMEOUT_S")
                                                  : std::chrono::seconds(30);
    const rpc::client_options opts = client_options_from(args);
    const rpc::broker_nodes nodes = broker_nodes_from(args);

    io_thread io;
    rpc::rpc_client client(io.executor(), nodes, opts);
    client.start();
    say(" [x] Requesting fib(" + std::to_string(n) + ") with timeout=" + rpc::format_seconds(timeout) + "s");
    const rpc::big_int value = call_then_close(client, n, timeout);
    say(" [.] Got " + value.str());
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, client_queue_options}, request);
}
