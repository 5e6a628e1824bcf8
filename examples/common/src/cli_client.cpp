// The command-line clients' shared parts: their options and the call that always closes.
#include <fibonacci/fibonacci_client.hpp>
#include <programs/cli.hpp>

namespace rpc::cli {

const option_group client_queue_options{
    {{"queue", true}, {"direct-reply-to", false}},
    "  --queue Q            the server's request queue (default rpc_queue)\n"
    "  --direct-reply-to    receive replies through amq.rabbitmq.reply-to, not an exclusive queue\n"};

rpc::client_options client_options_from(const arguments& args) {
    rpc::client_options opts;
    opts.queue = args.value("queue").value_or("rpc_queue");
    opts.direct_reply_to = args.flag("direct-reply-to");
    opts.persistent = queue_type_from(args) != rpc::queue_type::transient;
    opts.confirm_requests = confirms_from(args);
    return opts;
}

rpc::big_int call_then_close(rpc::rpc_client& client, std::uint64_t n, std::chrono::milliseconds timeout) {
    // The program's whole exit is bounded by the call's deadline: a blocked or frozen broker must
    // not keep it waiting for close-ok after its own timeout.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    rpc::big_int value;
    try {
        value = rpc::fibonacci_client(client).call(n, timeout);
    } catch (...) {
        client.close(deadline);
        throw;
    }
    client.close(deadline);
    return value;
}

}  // namespace rpc::cli
