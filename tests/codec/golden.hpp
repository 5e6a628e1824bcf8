// Golden vectors: every method we implement, with distinctive argument values, next to the
// payload bytes derived by hand from the spec (class id, method id, arguments in XML order,
// bits packed low bit first). Shared by the unit tests, the codec tool and the fuzz corpus.
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

#include <cctype>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace amqp_test {

/// Bytes from hex; spaces and '|' are ignored so vectors can be laid out by field.
inline amqp::byte_buffer hex(std::string_view s) {
    amqp::byte_buffer out;
    int hi = -1;
    for (char c : s) {
        if (c == ' ' || c == '|' || c == '\n') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) throw std::invalid_argument("bad hex");
        const int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    if (hi >= 0) throw std::invalid_argument("odd hex");
    return out;
}

inline std::string to_hex(amqp::bytes_view b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (auto c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

/// A table_view over bytes that live as long as the program.
inline amqp::table_view table_bytes(std::string_view hexstr) {
    // A deque never moves its elements, so earlier views stay valid; it frees them at exit
    // (LeakSanitizer in the asan pass counts never-freed buffers as leaks).
    static std::deque<amqp::byte_buffer> keep;
    return amqp::table_view{keep.emplace_back(hex(hexstr))};
}

struct golden_method {
    amqp::method value;
    std::string payload_hex;
};

inline const std::vector<golden_method>& golden_methods() {
    using namespace amqp;
    static const std::vector<golden_method> v = [] {
        std::vector<golden_method> g;
        // {"product": S "RabbitMQ"}: 07 "product" 'S' len 8 "RabbitMQ" -> 21 bytes
        const auto server_props = table_bytes("07 70726f64756374 53 00000008 5261626269744d51");
        // {"a": t true}
        const auto client_props = table_bytes("01 61 74 01");
        // {"x-expires": I 60000}
        const auto qargs = table_bytes("09 782d65787069726573 49 0000ea60");

        g.push_back({connection_start{0, 9, server_props, "AMQPLAIN PLAIN", "en_US"},
                     "000a 000a | 00 | 09 | 00000015 07 70726f64756374 53 00000008 5261626269744d51"
                     "| 0000000e 414d51504c41494e20504c41494e | 00000005 656e5f5553"});
        g.push_back({connection_start_ok{client_props, "PLAIN", std::string_view("\0guest\0guest", 12), "en_US"},
                     "000a 000b | 00000004 01617401 | 05 504c41494e | 0000000c 006775657374006775657374"
                     "| 05 656e5f5553"});
        g.push_back({connection_secure{"ch"}, "000a 0014 | 00000002 6368"});
        g.push_back({connection_secure_ok{"rs"}, "000a 0015 | 00000002 7273"});
        g.push_back({connection_tune{2047, 131072, 60}, "000a 001e | 07ff | 00020000 | 003c"});
        g.push_back({connection_tune_ok{1, 4096, 30}, "000a 001f | 0001 | 00001000 | 001e"});
        g.push_back({connection_open{"/", "", true}, "000a 0028 | 01 2f | 00 | 01"});
        g.push_back({connection_open_ok{""}, "000a 0029 | 00"});
        g.push_back({connection_close{320, "bye", 60, 40}, "000a 0032 | 0140 | 03 627965 | 003c | 0028"});
        g.push_back({connection_close_ok{}, "000a 0033"});
        g.push_back({connection_blocked{"mem"}, "000a 003c | 03 6d656d"});
        g.push_back({connection_unblocked{}, "000a 003d"});

        g.push_back({channel_open{""}, "0014 000a | 00"});
        g.push_back({channel_open_ok{""}, "0014 000b | 00000000"});
        g.push_back({channel_flow{true}, "0014 0014 | 01"});
        g.push_back({channel_flow_ok{false}, "0014 0015 | 00"});
        g.push_back({channel_close{404, "NOT_FOUND", 50, 10},
                     "0014 0028 | 0194 | 09 4e4f545f464f554e44 | 0032 | 000a"});
        g.push_back({channel_close_ok{}, "0014 0029"});

        // bits: passive 0, durable 1, auto-delete 1, internal 0, no-wait 0 -> 0b00110
        g.push_back({exchange_declare{0, "ex", "topic", false, true, true, false, false, client_props},
                     "0028 000a | 0000 | 02 6578 | 05 746f706963 | 06 | 00000004 01617401"});
        g.push_back({exchange_declare_ok{}, "0028 000b"});
        // if-unused 1, no-wait 0 -> 0b01
        g.push_back({exchange_delete{0, "ex", true, false}, "0028 0014 | 0000 | 02 6578 | 01"});
        g.push_back({exchange_delete_ok{}, "0028 0015"});

        // bits: passive 0, durable 1, exclusive 0, auto-delete 1, no-wait 0 -> 0b01010
        g.push_back({queue_declare{0, "rpc_queue", false, true, false, true, false, qargs},
                     "0032 000a | 0000 | 09 7270635f7175657565 | 0a | 0000000f 09 782d65787069726573 49 0000ea60"});
        g.push_back({queue_declare_ok{"amq.gen-A", 3, 1}, "0032 000b | 09 616d712e67656e2d41 | 00000003 | 00000001"});
        g.push_back({queue_bind{0, "q", "ex", "a.*", true, table_view{}},
                     "0032 0014 | 0000 | 01 71 | 02 6578 | 03 612e2a | 01 | 00000000"});
        g.push_back({queue_bind_ok{}, "0032 0015"});
        // no no-wait bit: the table follows the routing key directly
        g.push_back({queue_unbind{0, "q", "ex", "a.#", client_props},
                     "0032 0032 | 0000 | 01 71 | 02 6578 | 03 612e23 | 00000004 01617401"});
        g.push_back({queue_unbind_ok{}, "0032 0033"});
        g.push_back({queue_purge{0, "q", true}, "0032 001e | 0000 | 01 71 | 01"});
        g.push_back({queue_purge_ok{7}, "0032 001f | 00000007"});
        // if-unused 1, if-empty 0, no-wait 1 -> 0b101
        g.push_back({queue_delete{0, "q", true, false, true}, "0032 0028 | 0000 | 01 71 | 05"});
        g.push_back({queue_delete_ok{2}, "0032 0029 | 00000002"});

        g.push_back({basic_qos{0, 1, true}, "003c 000a | 00000000 | 0001 | 01"});
        g.push_back({basic_qos_ok{}, "003c 000b"});
        // no-local 0, no-ack 1, exclusive 0, no-wait 0 -> 0b0010
        g.push_back({basic_consume{0, "rpc_queue", "ctag", false, true, false, false, table_view{}},
                     "003c 0014 | 0000 | 09 7270635f7175657565 | 04 63746167 | 02 | 00000000"});
        g.push_back({basic_consume_ok{"ctag"}, "003c 0015 | 04 63746167"});
        g.push_back({basic_cancel{"ctag", true}, "003c 001e | 04 63746167 | 01"});
        g.push_back({basic_cancel_ok{"ctag"}, "003c 001f | 04 63746167"});
        g.push_back({basic_publish{0, "", "rpc_queue", true, false},
                     "003c 0028 | 0000 | 00 | 09 7270635f7175657565 | 01"});
        g.push_back({basic_return{312, "NO_ROUTE", "", "q"}, "003c 0032 | 0138 | 08 4e4f5f524f555445 | 00 | 01 71"});
        g.push_back({basic_deliver{"ctag", 5, true, "", "rpc_queue"},
                     "003c 003c | 04 63746167 | 0000000000000005 | 01 | 00 | 09 7270635f7175657565"});
        g.push_back({basic_get{0, "q", true}, "003c 0046 | 0000 | 01 71 | 01"});
        g.push_back({basic_get_ok{9, false, "", "q", 4}, "003c 0047 | 0000000000000009 | 00 | 00 | 01 71 | 00000004"});
        g.push_back({basic_get_empty{""}, "003c 0048 | 00"});
        g.push_back({basic_ack{3, true}, "003c 0050 | 0000000000000003 | 01"});
        g.push_back({basic_reject{4, false}, "003c 005a | 0000000000000004 | 00"});
        g.push_back({basic_recover{true}, "003c 006e | 01"});
        g.push_back({basic_recover_ok{}, "003c 006f"});
        // multiple 0, requeue 1 -> 0b10
        g.push_back({basic_nack{6, false, true}, "003c 0078 | 0000000000000006 | 02"});
        g.push_back({confirm_select{true}, "0055 000a | 01"});
        g.push_back({confirm_select_ok{}, "0055 000b"});
        return g;
    }();
    return v;
}

/// One basic property set on its own, with the flag bit and the bytes it adds.
struct golden_property {
    const char* name;
    int bit;
    void (*set)(amqp::basic_properties&);
    std::string hex;
};

inline const std::vector<golden_property>& golden_properties() {
    using amqp::basic_properties;
    static const std::vector<golden_property> v = {
        {"content-type", 15, [](basic_properties& p) { p.content_type = "application/json"; },
         "10 6170706c69636174696f6e2f6a736f6e"},
        {"content-encoding", 14, [](basic_properties& p) { p.content_encoding = "gzip"; }, "04 677a6970"},
        // {"h": S "v"}
        {"headers", 13, [](basic_properties& p) { p.headers = table_bytes("01 68 53 00000001 76"); },
         "00000008 01 68 53 00000001 76"},
        {"delivery-mode", 12, [](basic_properties& p) { p.delivery_mode = 2; }, "02"},
        {"priority", 11, [](basic_properties& p) { p.priority = 9; }, "09"},
        {"correlation-id", 10, [](basic_properties& p) { p.correlation_id = "c1"; }, "02 6331"},
        {"reply-to", 9, [](basic_properties& p) { p.reply_to = "amq.rabbitmq.reply-to"; },
         "15 616d712e7261626269746d712e7265706c792d746f"},
        {"expiration", 8, [](basic_properties& p) { p.expiration = "60000"; }, "05 3630303030"},
        {"message-id", 7, [](basic_properties& p) { p.message_id = "m1"; }, "02 6d31"},
        {"timestamp", 6, [](basic_properties& p) { p.timestamp = 1700000000; }, "000000006553f100"},
        {"type", 5, [](basic_properties& p) { p.type = "t"; }, "01 74"},
        {"user-id", 4, [](basic_properties& p) { p.user_id = "guest"; }, "05 6775657374"},
        {"app-id", 3, [](basic_properties& p) { p.app_id = "fib"; }, "03 666962"},
        {"cluster-id", 2, [](basic_properties& p) { p.cluster_id = "cl"; }, "02 636c"},
    };
    return v;
}

/// class 60, weight 0, body size, then flags; the properties follow.
inline std::string header_prefix_hex(std::uint64_t body_size, std::uint16_t flags) {
    const std::uint8_t b[] = {0,
                              60,
                              0,
                              0,
                              static_cast<std::uint8_t>(body_size >> 56),
                              static_cast<std::uint8_t>(body_size >> 48),
                              static_cast<std::uint8_t>(body_size >> 40),
                              static_cast<std::uint8_t>(body_size >> 32),
                              static_cast<std::uint8_t>(body_size >> 24),
                              static_cast<std::uint8_t>(body_size >> 16),
                              static_cast<std::uint8_t>(body_size >> 8),
                              static_cast<std::uint8_t>(body_size),
                              static_cast<std::uint8_t>(flags >> 8),
                              static_cast<std::uint8_t>(flags)};
    return to_hex(b);
}

/// Wrap a payload into a frame.
inline amqp::byte_buffer frame_bytes(std::uint8_t type, std::uint16_t channel, amqp::bytes_view payload) {
    // Built with resize + indexing: gcc 12 warns falsely (-Warray-bounds) on insert() here.
    const std::size_t n = payload.size();
    amqp::byte_buffer f(n + 8);
    f[0] = type;
    f[1] = static_cast<std::uint8_t>(channel >> 8);
    f[2] = static_cast<std::uint8_t>(channel);
    for (int i = 0; i < 4; ++i) f[3 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    for (std::size_t i = 0; i < n; ++i) f[7 + i] = payload[i];
    f[7 + n] = 0xCE;
    return f;
}

}  // namespace amqp_test
