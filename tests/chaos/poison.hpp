// Poison messages for the chaos test, published straight to the broker by a raw peer (as any
// publisher could): a request whose headers nest 40 tables deep (RabbitMQ takes it; our decoder's
// limit is 32), a body that is not a number, and a body of malformed JSON.
#pragma once

#include <amqp/connection.hpp>
#include <amqp/codec/properties.hpp>

#include <cstdint>
#include <string>

namespace chaos {

/// The bytes of a field table (after its length prefix) holding `levels` nested tables:
/// {"n": {"n": ... {"leaf": 1}}}, as the pika reproducer builds it.
inline std::string nested_table(int levels) {
    const auto be32 = [](std::size_t v) {
        std::string s(4, '\0');
        for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
        return s;
    };
    std::string t = std::string("\x04leaf", 5) + 'I' + be32(1);
    for (int i = 1; i < levels; ++i) t = std::string("\x01n", 2) + 'F' + be32(t.size()) + t;
    return t;
}

struct poison_counts {
    std::uint64_t deep_headers = 0;  ///< 40-level headers (half of them without reply_to)
    std::uint64_t not_a_number = 0;
    std::uint64_t bad_json = 0;
    /// Of the above, those with reply_to and correlation_id: each must get an error reply. A bad
    /// body is answered before it is acked, so its reply is as sure as the ack; a header fault is
    /// rejected (settled) before its reply is published, so a connection lost between the two
    /// loses that reply: for those the test asks only that some are answered.
    std::uint64_t body_with_reply_to = 0, deep_with_reply_to = 0;
};

/// Publish one batch of poison to `queue`, replies (if any) to `reply_to` with correlation ids
/// "poison-deep-<k>-<i>" / "poison-body-<k>-<i>". `deep_headers`: include the 40-level messages.
inline void publish_poison(amqp::channel& ch, const std::string& queue, const std::string& reply_to, int k,
                           bool deep_headers, poison_counts& counts) {
    amqp::publish_options where;
    where.routing_key = queue;
    int i = 0;
    const auto send = [&](std::string_view body, bool with_reply_to, const std::string* headers,
                          std::optional<std::string_view> content_type) {
        amqp::basic_properties p;
        const std::string id =
            std::string(headers ? "poison-deep-" : "poison-body-") + std::to_string(k) + "-" + std::to_string(i++);
        if (with_reply_to) {
            p.reply_to = reply_to;
            p.correlation_id = id;
            ++(headers ? counts.deep_with_reply_to : counts.body_with_reply_to);
        }
        if (headers) p.headers = amqp::table_view{amqp::as_bytes(*headers)};
        if (content_type) p.content_type = *content_type;
        (void)ch.publish(where, p, amqp::as_bytes(body));  // a lost publish only means less poison
    };
    if (deep_headers) {
        static const std::string deep = nested_table(40);
        send("10", true, &deep, std::nullopt);
        send("11", false, &deep, std::nullopt);
        counts.deep_headers += 2;
    }
    send("not a number", true, nullptr, std::nullopt);
    ++counts.not_a_number;
    send("{\"n\": 5", true, nullptr, "application/json");
    ++counts.bad_json;
}

}  // namespace chaos
