// Correlation ids that are unique without a UUID per call: a per-generator random seed, and a
// counter mixed through a bijection so that consecutive ids differ in their first characters too
// (the async client prints only the first 8).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace rpc {

/// Makes ids shaped like UUIDs ("8-4-4-4-12" hex). The first 64 bits are a bijective mix of
/// (seed + counter), hence distinct for 2^64 calls of one generator; the last 64 bits are a random
/// per-generator value, distinct between clients with overwhelming probability. Thread-safe.
class correlation_id_generator {
public:
    /// Seeds from std::random_device.
    correlation_id_generator();
    /// Fixed seeds, for tests.
    correlation_id_generator(std::uint64_t counter_seed, std::uint64_t client_part) noexcept
        : seed_(counter_seed), client_(client_part) {}

    std::string next();

private:
    std::uint64_t seed_;
    std::uint64_t client_;
    std::atomic<std::uint64_t> counter_{0};
};

}  // namespace rpc
