// Correlation ids that are unique without a UUID per call: a per-generator random seed, and a
// counter mixed through a bijection so that consecutive ids differ in their first characters too
// (the async client prints only the first 8).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rpc {

/// One generated id: its text, and the 64-bit key that tells it from the generator's other ids.
struct generated_id {
    std::uint64_t key = 0;
    std::array<char, 36> text{};
    std::string_view view() const noexcept { return {text.data(), text.size()}; }
};

/// Makes ids shaped like UUIDs ("8-4-4-4-12" lowercase hex). The first 64 bits are a bijective
/// mix of (seed + counter), hence distinct for 2^64 calls of one generator, and serve as the
/// id's key; the last 64 bits are a random per-generator value, distinct between clients with
/// overwhelming probability. Thread-safe.
class correlation_id_generator {
public:
    /// Seeds from std::random_device.
    correlation_id_generator();
    /// Fixed seeds, for tests.
    correlation_id_generator(std::uint64_t counter_seed, std::uint64_t client_part) noexcept;

    /// The next id, without allocating.
    generated_id next_id() noexcept;
    std::string next() { return std::string(next_id().view()); }

    /// The key of `id` when this generator made it: its exact shape (lowercase hex, dashes in
    /// place) and this generator's client part. Anything else (another client's id, an id a
    /// server altered) is nullopt. A key alone, without this check, could match a stranger.
    std::optional<std::uint64_t> key_of(std::string_view id) const noexcept;

private:
    std::uint64_t seed_;
    std::uint64_t client_;
    // The text of every id from its fourth dash-separated group on ("-xxxx-xxxxxxxxxxxx"): the
    // client part, the same in each id, written once and compared whole.
    std::array<char, 18> tail_{};
    std::atomic<std::uint64_t> counter_{0};
};

}  // namespace rpc
