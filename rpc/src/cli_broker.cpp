// Kept apart from cli.cpp: it needs the connection library's URI parser.
#include <rpc/cli.hpp>

#include <cstdlib>

namespace rpc::cli {

amqp::connection_options broker_options(const arguments& args) {
    amqp::connection_options opts;
    std::string why;
    if (auto url = args.value("url")) {
        if (amqp::parse_uri(*url, opts, &why)) throw usage_error("invalid --url: " + why);
        return opts;
    }
    const char* env = std::getenv("AMQP_URL");
    const std::string url = env && *env ? env : std::string(default_url);
    if (amqp::parse_uri(url, opts, &why)) throw std::runtime_error("invalid AMQP_URL: " + why);
    return opts;
}

}  // namespace rpc::cli
