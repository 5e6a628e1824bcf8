// Internal: the basic class's 14 properties as one list, for the codecs that walk them
// (decoding, sizing, encoding, and the inline decode_delivery). Not part of the API.
// Errors and threading are the visitor's: the walk itself throws nothing and touches nothing else.
#pragma once

#include <cstddef>

namespace amqp::detail {

/// A content header payload's fixed part: class (2), weight (2), body size (8), property flags (2).
inline constexpr std::size_t fixed_part = 14;

// The 14 properties with their flag bits and spec names, in wire order. A visitor has
// shortstr, table, u8 and u64 members taking (bit, name, property) and returning false to
// stop the walk. constexpr, so that a visitor can compute a bound from the list at compile time.
// One property a line, in wire order:
// clang-format off
template <class P, class V>
[[gnu::always_inline]] constexpr bool for_each_property(P& p, V& v) {
    return v.shortstr(15, "content-type", p.content_type) &&
           v.shortstr(14, "content-encoding", p.content_encoding) &&
           v.table(13, "headers", p.headers) &&
           v.u8(12, "delivery-mode", p.delivery_mode) &&
           v.u8(11, "priority", p.priority) &&
           v.shortstr(10, "correlation-id", p.correlation_id) &&
           v.shortstr(9, "reply-to", p.reply_to) &&
           v.shortstr(8, "expiration", p.expiration) &&
           v.shortstr(7, "message-id", p.message_id) &&
           v.u64(6, "timestamp", p.timestamp) &&
           v.shortstr(5, "type", p.type) &&
           v.shortstr(4, "user-id", p.user_id) &&
           v.shortstr(3, "app-id", p.app_id) &&
           v.shortstr(2, "cluster-id", p.cluster_id);
}
// clang-format on

}  // namespace amqp::detail
