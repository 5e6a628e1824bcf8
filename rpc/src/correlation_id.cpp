#include <rpc/correlation_id.hpp>

#include <random>

namespace rpc {
namespace {
// splitmix64's finaliser: each step (xor-shift, multiply by an odd constant) is invertible.
std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::uint64_t random64() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

void append_hex(std::string& out, std::uint64_t v, int digits) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) out += hex[(v >> (4 * i)) & 15];
}
}  // namespace

correlation_id_generator::correlation_id_generator() : seed_(random64()), client_(random64()) {}

std::string correlation_id_generator::next() {
    const std::uint64_t hi = mix(seed_ + counter_.fetch_add(1, std::memory_order_relaxed));
    std::string id;
    id.reserve(36);
    append_hex(id, hi >> 32, 8);
    id += '-';
    append_hex(id, hi >> 16, 4);
    id += '-';
    append_hex(id, hi, 4);
    id += '-';
    append_hex(id, client_ >> 48, 4);
    id += '-';
    append_hex(id, client_, 12);
    return id;
}

}  // namespace rpc
