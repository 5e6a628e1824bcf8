#include <rpc/correlation_id.hpp>

#include <cstring>
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

// The id's layout: groups of hex digits, and which 64-bit half each belongs to.
struct group {
    int at;      // offset of the first digit
    int digits;  // how many
};
constexpr group hi_groups[] = {{0, 8}, {9, 4}, {14, 4}};   // 64 bits: the key
constexpr group lo_groups[] = {{19, 4}, {24, 12}};         // 64 bits: the client part
constexpr int dashes[] = {8, 13, 18, 23};
constexpr std::size_t tail_at = 18;  // correlation_id_generator::tail_: the third dash on

// The 16 hex digits of `v`, most significant first, spread over `groups`.
template <std::size_t N>
void write_groups(char* out, const group (&groups)[N], std::uint64_t v) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    int shift = 64;
    for (const auto& g : groups)
        for (int i = g.at; i < g.at + g.digits; ++i) {
            shift -= 4;
            out[i] = hex[(v >> shift) & 15];
        }
}

// Lowercase hex only: that is what we send, and a server must echo the id unchanged. A table,
// as this runs for every reply.
constexpr std::array<std::int8_t, 256> hex_values = [] {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
    return t;
}();

template <std::size_t N>
bool read_groups(std::string_view id, const group (&groups)[N], std::uint64_t& v) noexcept {
    v = 0;
    int bad = 0;
    for (const auto& g : groups)
        for (int i = g.at; i < g.at + g.digits; ++i) {
            const int d = hex_values[static_cast<unsigned char>(id[static_cast<std::size_t>(i)])];
            bad |= d;  // negative once any digit is not one
            v = (v << 4) | static_cast<std::uint64_t>(d & 15);
        }
    return bad >= 0;
}
}  // namespace

correlation_id_generator::correlation_id_generator() : correlation_id_generator(random64(), random64()) {}

correlation_id_generator::correlation_id_generator(std::uint64_t counter_seed, std::uint64_t client_part) noexcept
    : seed_(counter_seed), client_(client_part) {
    std::array<char, std::tuple_size_v<decltype(generated_id::text)>> t{};
    write_groups(t.data(), lo_groups, client_);
    for (const int d : dashes) t[static_cast<std::size_t>(d)] = '-';
    std::memcpy(tail_.data(), t.data() + tail_at, tail_.size());
}

generated_id correlation_id_generator::next_id() noexcept {
    generated_id id;
    id.key = mix(seed_ + counter_.fetch_add(1, std::memory_order_relaxed));
    char* t = id.text.data();
    write_groups(t, hi_groups, id.key);
    t[dashes[0]] = t[dashes[1]] = '-';
    std::memcpy(t + tail_at, tail_.data(), tail_.size());
    return id;
}

std::optional<std::uint64_t> correlation_id_generator::key_of(std::string_view id) const noexcept {
    if (id.size() != std::tuple_size_v<decltype(generated_id::text)>) return std::nullopt;
    // The tail holds the last two dashes and the client part in its only spelling (lowercase hex).
    if (id[dashes[0]] != '-' || id[dashes[1]] != '-' || std::memcmp(id.data() + tail_at, tail_.data(), tail_.size()) != 0)
        return std::nullopt;
    std::uint64_t hi = 0;
    if (!read_groups(id, hi_groups, hi)) return std::nullopt;
    return hi;
}

}  // namespace rpc
