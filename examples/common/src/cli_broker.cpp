// The broker options (one URL, or a node list). Kept apart from cli.cpp: they need the
// connection library's URI parser.
#include <programs/cli.hpp>

#include <cstdlib>

namespace rpc::cli {

const option_group broker_url_options{
    {{"url", true}}, "  --url URL            broker (default: $AMQP_URL, else amqp://guest:guest@localhost:5672/)\n"};

const option_group broker_node_options{
    {{"url", true}, {"shuffle-nodes", false}},
    "  --url URL            broker; repeat it for a cluster's nodes, tried in order, the next one\n"
    "                       after a lost connection (default: $AMQP_URLS, comma-separated, else\n"
    "                       $AMQP_URL, else amqp://guest:guest@localhost:5672/)\n"
    "  --shuffle-nodes      try the nodes in a random order (spreads clients over a cluster)\n"};

amqp::connection_options broker_options(const arguments& args) {
    amqp::connection_options opts;
    std::string why;
    if (auto url = args.value("url")) {
        if (amqp::parse_uri(*url, opts, &why)) throw usage_error("invalid --url: " + why);
    } else {
        const char* env = std::getenv("AMQP_URL");
        const std::string env_url = env && *env ? env : std::string(default_url);
        if (amqp::parse_uri(env_url, opts, &why)) throw std::runtime_error("invalid AMQP_URL: " + why);
    }
    opts.trace = args.flag("trace");  // AMQP_TRACE=1 is read by the connection itself
    return opts;
}

rpc::broker_nodes broker_nodes_from(const arguments& args) {
    rpc::broker_nodes nodes;
    std::string why;
    if (auto urls = args.all("url"); !urls.empty()) {
        if (rpc::parse_broker_urls(urls, nodes, &why)) throw usage_error("invalid --url: " + why);
    } else if (const char* list = std::getenv("AMQP_URLS"); list && *list) {
        if (rpc::parse_broker_urls(rpc::split_url_list(list), nodes, &why))
            throw std::runtime_error("invalid AMQP_URLS: " + why);
    } else {
        nodes.nodes.push_back(broker_options(args));
    }
    for (auto& n : nodes.nodes) n.trace = args.flag("trace");
    nodes.shuffle = args.flag("shuffle-nodes");
    return nodes;
}

}  // namespace rpc::cli
