// Deeply nested field tables for the depth-limit tests, built in O(levels): the 20,000-level
// inputs (oss-fuzz 56296 in rabbitmq-c) were built inside out, copying the whole buffer at every
// level, O(n^2): 165 s under ASan on a loaded machine for one test.
#pragma once

#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>

namespace amqp_test {

/// The body of a table `levels` deep: each table's only entry is `n: F <the next table>`, and the
/// innermost table's body is `inner` (its entries). levels 1 is just `inner`. As each entry is a
/// 7-byte head (name length, name, tag, 32-bit length) followed by the table it holds, the whole
/// input is the heads in a row, outermost first, then `inner`; each length counts what follows it.
inline amqp::byte_buffer nested_tables(std::size_t levels, const amqp::byte_buffer& inner = {}) {
    constexpr std::size_t head_size = 7;
    const std::size_t heads = levels == 0 ? 0 : levels - 1;
    amqp::byte_buffer bytes;
    bytes.reserve(heads * head_size + inner.size());
    for (std::size_t i = 0; i < heads; ++i) {
        const auto n = static_cast<std::uint32_t>((heads - 1 - i) * head_size + inner.size());
        bytes.insert(bytes.end(), {0x01, 'n', 'F', static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                   static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
    bytes.insert(bytes.end(), inner.begin(), inner.end());
    return bytes;
}

}  // namespace amqp_test
