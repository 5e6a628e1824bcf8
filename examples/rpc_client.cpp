// The tutorial's rpc_client.py: ask for fib(N) once and print the answer.
#include <programs/cli.hpp>
#include <rpc/rpc_client.hpp>

#include <limits>
#include <string>

namespace {

constexpr std::string_view usage =
    "usage: rpc_client [--url URL]... [--shuffle-nodes] [--queue Q] [--queue-type T] [--confirms]\n"
    "                  [--direct-reply-to] [N]\n"
    "Ask the server on queue Q (default rpc_queue) for fib(N) (default 30); wait up to 30 s.\n"
    "  --url URL            broker; repeat it for a cluster's nodes, tried in order, the next one\n"
    "                       after a lost connection (default: $AMQP_URLS, comma-separated, else\n"
    "                       $AMQP_URL, else amqp://guest:guest@localhost:5672/)\n"
    "  --shuffle-nodes      try the nodes in a random order (spreads clients over a cluster)\n"
    "  --queue-type T       the server's queue: transient (default), classic or quorum; with a\n"
    "                       durable one (classic, quorum) the request is published persistent\n"
    "  --confirms           the request counts as sent once the broker confirmed it (publisher\n"
    "                       confirms); on by default with --queue-type classic or quorum\n"
    "  --direct-reply-to    receive the reply through amq.rabbitmq.reply-to\n";

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
    return rpc::cli::run(argc, argv, usage,
                         {{"url", true},
                          {"shuffle-nodes", false},
                          {"queue", true},
                          {"queue-type", true},
                          {"confirms", false},
                          {"direct-reply-to", false}},
                         request);
}
