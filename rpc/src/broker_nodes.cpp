#include <rpc/broker_nodes.hpp>

#include <amqp/codec/printable.hpp>
#include <amqp/transport/error.hpp>

#include <numeric>

namespace rpc {

error_code parse_broker_urls(const std::vector<std::string>& urls, broker_nodes& out, std::string* why) {
    std::vector<amqp::connection_options> nodes;
    nodes.reserve(urls.size());
    for (std::size_t i = 0; i < urls.size(); ++i) {
        amqp::connection_options o;
        std::string reason;
        if (const error_code ec = amqp::parse_uri(urls[i], o, &reason)) {
            if (why)
                *why = "broker URL " + amqp::printable(url_without_password(urls[i])) + " (#" + std::to_string(i + 1) +
                       "): " + reason;
            return ec;
        }
        nodes.push_back(std::move(o));
    }
    if (nodes.empty()) {
        if (why) *why = "no broker URL given";
        return amqp::make_error_code(amqp::transport_error::invalid_uri);
    }
    out.nodes = std::move(nodes);
    return {};
}

std::vector<std::string> split_url_list(std::string_view list) {
    std::vector<std::string> urls;
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        const auto first = item.find_first_not_of(" \t");
        if (first == std::string_view::npos) continue;
        item = item.substr(first, item.find_last_not_of(" \t") - first + 1);
        urls.emplace_back(item);
    }
    return urls;
}

std::string url_without_password(std::string_view url) {
    const auto scheme = url.find("://");
    const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
    // The user info ends at the authority's last '@' (a password may hold '@' unescaped).
    const auto end_of_authority = url.find_first_of("/?#", start);
    const std::string_view authority = url.substr(start, end_of_authority - start);
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    const auto colon = authority.substr(0, at).find(':');
    if (colon == std::string_view::npos) return std::string(url);
    std::string masked(url.substr(0, start + colon + 1));
    masked += "****";
    masked += url.substr(start + at);
    return masked;
}

std::string node_name(const amqp::connection_options& node) {
    const bool v6 = node.host.find(':') != std::string::npos;
    return (v6 ? "[" + node.host + "]" : node.host) + ":" + std::to_string(node.port);
}

std::vector<std::size_t> node_order(std::size_t n, bool shuffle, std::uint64_t seed) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (!shuffle) return order;
    // Fisher-Yates with splitmix64: std::shuffle's result differs between standard libraries.
    auto next = [&seed] {
        std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[next() % i]);
    return order;
}

}  // namespace rpc
