// The server's reconnection delays as a plain object: from `min`, doubling up to `max`, each with
// up to 25 % random jitter (so that servers dropped together do not all come back at the same
// instant). No clock, no threads: the server arms a timer for each delay it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace rpc {

/// Not thread-safe.
class server_backoff {
public:
    using duration = std::chrono::milliseconds;
    /// `seed` makes the jitter reproducible in tests. max below min is taken as min.
    server_backoff(duration min, duration max, std::uint32_t seed = std::random_device{}());
    /// The delay before the next attempt; each call doubles the base for the one after (up to max).
    duration next();
    /// A connection came back: the next loss starts again from min.
    void reset() noexcept { base_ = min_; }

private:
    duration min_, max_, base_;
    std::minstd_rand rng_;
};

}  // namespace rpc
