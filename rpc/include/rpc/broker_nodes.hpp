// A list of broker nodes (a RabbitMQ cluster) for a client or a server: connect to the first
// that answers, fail over to the next when the connection is lost.
#pragma once

#include <rpc/error.hpp>

#include <amqp/connection_options.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpc {

/// The nodes a client or server may connect to. Connecting tries them in order (shuffled once,
/// at construction, when `shuffle`: clients then spread over the cluster); a lost connection
/// reconnects to the NEXT node in that order, with the reconnection backoff. Logs and errors
/// name a node as node_name() does ("host:port"), never with its password.
struct broker_nodes {
    std::vector<amqp::connection_options> nodes;
    bool shuffle = false;
};

/// Parse broker URLs (amqp::parse_uri) into `out.nodes`, in order. On the first bad URL returns
/// amqp's invalid_uri and puts in `*why` the reason and the URL without its password
/// ("broker URL amqp://guest:****@h:x/ (#2): invalid port ..."). `out` is unchanged then.
/// An empty list is an error too.
error_code parse_broker_urls(const std::vector<std::string>& urls, broker_nodes& out, std::string* why = nullptr);

/// "u1,u2,u3" (AMQP_URLS) → {"u1", "u2", "u3"}: surrounding blanks trimmed, empty items dropped.
std::vector<std::string> split_url_list(std::string_view list);

/// `url` with the password replaced by "****" (the text is otherwise kept as given, even when
/// it does not parse): safe to show in an error.
std::string url_without_password(std::string_view url);

/// "host:port" of a node (IPv6 hosts in brackets): how logs and errors name it.
std::string node_name(const amqp::connection_options& node);

/// The order the nodes are tried in: 0..n-1, or when `shuffle` a permutation of it decided by
/// `seed` alone (the same seed gives the same order on every platform: tests fix it).
std::vector<std::size_t> node_order(std::size_t n, bool shuffle, std::uint64_t seed);

}  // namespace rpc
