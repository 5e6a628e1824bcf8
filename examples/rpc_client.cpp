// The tutorial's rpc_client.py: ask for fib(N) once and print the answer.
#include <programs/cli.hpp>
#include <rpc/rpc_client.hpp>

#include <limits>
#include <string>

namespace {

constexpr std::string_view usage =
    "usage: rpc_client [--url URL]... [--shuffle-nodes] [--queue Q] [--queue-type T] [--confirms]\n"
    "                  [--direct-reply-to] [N]\n"
    "Ask the server on queue Q (default rpc_queue) for fib(N) (default 30); wait up to 30 s.\n";

int request(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (args.positionals.size() > 1) throw usage_error("unexpected argument '" + args.positionals[1] + "'");
    const std::uint64_t n = args.positionals.empty()
                                ? 30
                                : parse_count(args.positionals[0], 0, std::numeric_limits<std::uint64_t>::max(), "N");
    const rpc::client_options opts = client_options_from(args);
    const rpc::broker_nodes nodes = broker_nodes_from(args);

    io_thread io;
    rpc::rpc_client client(io.executor(), nodes, opts);
    client.start();
    say(" [x] Requesting fib(" + std::to_string(n) + ")");
    const rpc::big_int value = call_then_close(client, n, opts.default_timeout);
    say(" [.] Got " + value.str());
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, client_queue_options, client_durability_options}, request);
}
