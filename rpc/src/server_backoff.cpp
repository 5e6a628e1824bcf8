#include <rpc/server_backoff.hpp>

#include <algorithm>

namespace rpc {

server_backoff::server_backoff(duration min, duration max, std::uint32_t seed)
    : min_(std::max(min, duration::zero())), max_(std::max(max, min_)), base_(min_), rng_(seed) {}

server_backoff::duration server_backoff::next() {
    const duration base = base_;
    const long long spread = std::max<long long>(base.count() / 4, 1);
    const duration jitter(std::uniform_int_distribution<long long>(0, spread)(rng_));
    base_ = std::min(base_ * 2 > base_ ? base_ * 2 : max_, max_);
    return base + jitter;
}

}  // namespace rpc
