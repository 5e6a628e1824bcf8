#include "publish_confirms.hpp"
#include "connection_impl.hpp"

#include <algorithm>
#include <functional>
#include <string_view>

namespace amqp::detail {
namespace {

std::size_t mix(std::size_t seed, std::string_view s) {
    return seed ^ (std::hash<std::string_view>{}(s) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}
std::size_t route_hash(std::string_view exchange, std::string_view routing_key) {
    return mix(mix(0, exchange), routing_key);
}
std::size_t content_hash(std::size_t route, bytes_view body) { return mix(route, as_string_view(body)); }

}  // namespace

void publish_confirms::add(std::uint64_t seq, const basic_publish& m, bytes_view body, handler h) {
    record r;
    r.seq = seq;
    r.mandatory = m.mandatory;
    if (m.mandatory) {
        r.route = route_hash(m.exchange, m.routing_key);
        r.content = content_hash(r.route, body);
    }
    r.h.emplace(std::move(h));
    waiting_.push_back(std::move(r));
}

void publish_confirms::on_returned(const basic_return& ret, bytes_view body, bool body_read) {
    const auto route = route_hash(ret.exchange, ret.routing_key);
    const auto content = content_hash(route, body);
    const auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const record& r) {
        return r.h && r.mandatory && !r.returned && r.route == route && (!body_read || r.content == content);
    });
    if (it != waiting_.end()) it->returned = true;
}

void publish_confirms::settle(std::uint64_t first, std::uint64_t last, error_code ec,
                              const boost::asio::any_io_executor& ex) {
    auto it = std::lower_bound(waiting_.begin(), waiting_.end(), first,
                               [](const record& r, std::uint64_t n) { return r.seq < n; });
    for (; it != waiting_.end() && it->seq <= last; ++it) {
        if (!it->h) continue;
        auto h = std::move(*it->h);
        it->h.reset();
        complete_on(ex, std::move(h), it->returned ? make_error_code(client_error::publish_returned) : ec);
    }
    drop_settled_front();
}

void publish_confirms::fail_all(error_code ec, const boost::asio::any_io_executor& ex) {
    if (waiting_.empty()) return;
    settle(waiting_.front().seq, waiting_.back().seq, ec, ex);
}

std::vector<publish_confirms::handler> publish_confirms::take_all() {
    std::vector<handler> out;
    for (auto& r : waiting_)
        if (r.h) out.emplace_back(std::move(*r.h));
    waiting_.clear();
    return out;
}

void publish_confirms::drop_settled_front() {
    while (!waiting_.empty() && !waiting_.front().h) waiting_.pop_front();
}

}  // namespace amqp::detail
