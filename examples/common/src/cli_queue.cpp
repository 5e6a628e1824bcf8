// The request queue's durability, for servers and clients: --queue-type and --confirms.
#include <programs/cli.hpp>

namespace rpc::cli {

const option_group server_durability_options{
    {{"queue-type", true}, {"confirms", false}},
    "  --queue-type T       how Q is declared: transient (default; the tutorial's, refused by\n"
    "                       RabbitMQ 4.3), classic (durable) or quorum (durable, replicated)\n"
    "  --confirms           ack a request only once the broker confirmed its reply (publisher\n"
    "                       confirms); on by default with --queue-type classic or quorum\n"};

const option_group client_durability_options{
    {{"queue-type", true}, {"confirms", false}},
    "  --queue-type T       the server's queue: transient (default), classic or quorum; with a\n"
    "                       durable one (classic, quorum) the request is published persistent\n"
    "  --confirms           the request counts as sent once the broker confirmed it (publisher\n"
    "                       confirms); on by default with --queue-type classic or quorum\n"};

rpc::queue_type queue_type_from(const arguments& args) {
    const std::optional<std::string> text = args.value("queue-type");
    if (!text) return rpc::queue_type::transient;
    if (auto t = rpc::parse_queue_type(*text)) return *t;
    throw usage_error("--queue-type must be transient, classic or quorum, got '" + *text + "'");
}

bool confirms_from(const arguments& args) {
    return args.flag("confirms") || queue_type_from(args) != rpc::queue_type::transient;
}

}  // namespace rpc::cli
