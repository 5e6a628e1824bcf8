// A server's intake options, shared by the Fibonacci server and the benchmarks' echo server.
#include <programs/cli.hpp>
#include <rpc/rpc_server.hpp>

namespace rpc::cli {

const option_group server_queue_options{{{"queue", true}, {"prefetch", true}},
                                        "  --queue Q            the request queue (default rpc_queue)\n"
                                        "  --prefetch N         unacked requests at once (default 1)\n"};

rpc::server_options server_options_from(const arguments& args) {
    rpc::server_options opts;
    opts.queue = args.value("queue").value_or("rpc_queue");
    if (opts.queue.empty() || opts.queue.size() > 255) throw usage_error("--queue must be 1 to 255 characters");
    if (auto p = args.value("prefetch"))
        opts.prefetch = static_cast<std::uint16_t>(parse_count(*p, 1, 65535, "--prefetch"));
    opts.queue_type = queue_type_from(args);
    opts.confirm_replies = confirms_from(args);
    return opts;
}

std::optional<std::size_t> workers_from(const arguments& args) {
    if (auto w = args.value("workers")) return parse_count(*w, 0, 1024, "--workers");
    return std::nullopt;
}

}  // namespace rpc::cli
