// Kept apart from cli.cpp: it needs the connection library's URI parser.
#include <programs/cli.hpp>

#include <cstdlib>

namespace rpc::cli {

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

}  // namespace rpc::cli
