// Field tables a broker accepts and delivers but our limits refuse (issue 15, defect 1), as raw
// bytes: our own encoder will not write them. Shared by the protocol, fault and fuzz-seed tests.
#pragma once

#include <amqp/codec/types.hpp>

#include <cstdint>
#include <string_view>

namespace amqp_test {

inline void put_u32(amqp::byte_buffer& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}
inline void put_shortstr(amqp::byte_buffer& b, std::string_view s) {
    b.push_back(static_cast<std::uint8_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
}

/// The body (no length prefix) of pika's {'n': {'n': ... {'leaf': 1}}}, `levels` tables deep
/// counting the outermost: the reproducer sends 40.
inline amqp::byte_buffer nested_table_body(int levels) {
    amqp::byte_buffer t;
    put_shortstr(t, "leaf");
    t.push_back('I');
    put_u32(t, 1);
    for (int i = 1; i < levels; ++i) {
        amqp::byte_buffer outer;
        put_shortstr(outer, "n");
        outer.push_back('F');
        put_u32(outer, static_cast<std::uint32_t>(t.size()));
        outer.insert(outer.end(), t.begin(), t.end());
        t = std::move(outer);
    }
    return t;
}

/// The body of {"ok": 1, "k\n": <tag> 0}: a value whose type tag `tag` is not in RabbitMQ's
/// errata table, under a key that needs escaping.
inline amqp::byte_buffer unknown_tag_table_body(std::uint8_t tag) {
    amqp::byte_buffer t;
    put_shortstr(t, "ok");
    t.push_back('b');
    t.push_back(1);
    put_shortstr(t, "k\n");
    t.push_back(tag);
    t.push_back(0);
    return t;
}

}  // namespace amqp_test
