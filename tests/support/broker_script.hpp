// What a broker says, as bytes built with the codec, and a driver that runs the connection state
// machine on them with a fake clock. Shared by the unit tests and the connection fuzzer.
#pragma once

#include <amqp/protocol/options.hpp>
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/protocol/connection_machine.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace amqp_test {

using amqp::byte_buffer;

/// One method frame.
inline byte_buffer method_frame(std::uint16_t channel, const amqp::method& m) {
    byte_buffer out;
    (void)amqp::append_method_frame(out, channel, m);
    return out;
}

/// A raw frame with any type, channel and payload (for malformed input).
inline byte_buffer raw_frame(std::uint8_t type, std::uint16_t channel, const byte_buffer& payload,
                             std::uint8_t end = amqp::frame_end) {
    // Sized once: growing a 7-byte vector by insert trips gcc 12's false -Warray-bounds now that
    // write_frame_header is inline.
    byte_buffer out(amqp::frame_overhead + payload.size());
    amqp::write_frame_header(out.data(), static_cast<amqp::frame_type>(type), channel,
                             static_cast<std::uint32_t>(payload.size()));
    std::copy(payload.begin(), payload.end(), out.begin() + amqp::frame_header_size);
    out.back() = end;
    return out;
}

/// A content header frame's payload.
inline byte_buffer header_payload(std::uint64_t body_size, const amqp::basic_properties& p = {},
                                  std::uint16_t class_id = 60, std::uint16_t weight = 0) {
    amqp::content_header h;
    h.class_index = class_id;
    h.weight = weight;
    h.body_size = body_size;
    h.properties = p;
    byte_buffer out(amqp::content_header_payload_size(h));
    (void)amqp::encode_content_header(h, out.data());
    return out;
}

/// RabbitMQ 3.10's server-properties, as it sends them in connection.start.
inline amqp::field_table rabbitmq_server_properties() {
    amqp::field_table caps = {
        {"publisher_confirms", true},        {"exchange_exchange_bindings", true},
        {"basic.nack", true},                {"consumer_cancel_notify", true},
        {"connection.blocked", true},        {"consumer_priorities", true},
        {"authentication_failure_close", true}, {"per_consumer_qos", true},
        {"direct_reply_to", true},
    };
    return {
        {"capabilities", std::move(caps)},
        {"cluster_name", "rabbit@localhost"},
        {"copyright", "Copyright (c) 2007-2022 VMware, Inc. or its affiliates."},
        {"information", "Licensed under the MPL 2.0. Website: https://rabbitmq.com"},
        {"platform", "Erlang/OTP 25.2.3"},
        {"product", "RabbitMQ"},
        {"version", "3.10.8"},
    };
}

/// connection.start as RabbitMQ sends it.
inline byte_buffer connection_start_frame(std::string_view mechanisms = "AMQPLAIN PLAIN",
                                          std::uint8_t major = 0, std::uint8_t minor = 9) {
    static const byte_buffer props = [] {
        byte_buffer b;
        (void)amqp::encode_table(rabbitmq_server_properties(), b);
        return b;
    }();
    amqp::connection_start s;
    s.version_major = major;
    s.version_minor = minor;
    s.server_properties = amqp::table_view{props};
    s.mechanisms = mechanisms;
    s.locales = "en_US";
    return method_frame(0, s);
}

inline byte_buffer tune_frame(std::uint16_t channel_max = 2047, std::uint32_t frame_max = 131072,
                              std::uint16_t heartbeat = 60) {
    return method_frame(0, amqp::connection_tune{channel_max, frame_max, heartbeat});
}

inline byte_buffer open_ok_frame() { return method_frame(0, amqp::connection_open_ok{}); }

inline byte_buffer operator+(byte_buffer a, const byte_buffer& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// A copy of an event that outlives the machine's buffers.
struct recorded_event {
    amqp::protocol::event_kind kind{};
    std::uint16_t channel = 0;
    std::string method;  // reply method name, or deliver/return
    std::string body;
    std::string text;
    std::string consumer_tag;
    std::uint64_t delivery_tag = 0;  // basic.deliver's, or the last number a confirm settles
    std::uint64_t confirm_first = 0;
    bool ack = false;
    bool multiple = false;
    bool confirm_lost = false;
    std::string correlation_id;
    amqp::close_reason reason;
};

/// Output frames decoded, for assertions.
struct out_frame {
    amqp::frame_type type{};
    std::uint16_t channel = 0;
    byte_buffer payload;
    amqp::method m;  // valid for method frames; views into `payload` (keep the out_frame alive)
    std::string name;
};

/// Runs a connection_machine with a fake clock.
class machine_driver {
public:
    using clock = amqp::protocol::clock;

    explicit machine_driver(amqp::protocol_options opts = default_options()) : m(std::move(opts)) {}

    static amqp::protocol_options default_options() {
        amqp::protocol_options o;
        o.user = "guest";
        o.password = "guest";
        return o;
    }

    /// Start and go through a normal handshake (frames built with the codec).
    void open(std::uint16_t heartbeat = 60, std::uint32_t frame_max = 131072) {
        m.start(now);
        take_output();
        feed(connection_start_frame());
        feed(tune_frame(2047, frame_max, heartbeat));
        feed(open_ok_frame());
        take_output();
        if (events.size() == 1 && events[0].kind == amqp::protocol::event_kind::opened) events.clear();
    }

    /// Open channel `expected` (the lowest free id) and answer it.
    std::uint16_t open_channel() {
        std::uint16_t id = 0;
        if (m.open_channel(id)) return 0;
        feed(method_frame(id, amqp::channel_open_ok{}));
        take_output();
        if (!events.empty() && events.back().kind == amqp::protocol::event_kind::reply) events.pop_back();
        return id;
    }

    void feed(const byte_buffer& b) { feed(amqp::bytes_view(b)); }
    void feed(amqp::bytes_view b) {
        m.feed(b, now);
        drain();
    }
    /// Feed in chunks of `chunk` bytes, draining after each.
    void feed_chunked(const byte_buffer& b, std::size_t chunk) {
        for (std::size_t i = 0; i < b.size(); i += chunk)
            feed(amqp::bytes_view(b).subspan(i, std::min(chunk, b.size() - i)));
    }
    void advance(std::chrono::milliseconds d) {
        now += d;
        m.on_timer(now);
        drain();
    }
    void transport_closed() {
        m.on_transport_closed({}, now);
        drain();
    }

    void drain() {
        amqp::protocol::event ev;
        while (m.next_event(ev)) {
            recorded_event r;
            r.kind = ev.kind;
            r.channel = ev.channel;
            r.reason = ev.reason;
            r.text = std::string(ev.text);
            switch (ev.kind) {
                case amqp::protocol::event_kind::reply: r.method = std::string(amqp::method_name(ev.reply)); break;
                case amqp::protocol::event_kind::delivery:
                    r.method = "basic.deliver";
                    r.consumer_tag = std::string(ev.deliver.consumer_tag);
                    r.delivery_tag = ev.deliver.delivery_tag;
                    r.body = std::string(amqp::as_string_view(ev.body));
                    r.correlation_id = std::string(ev.properties.correlation_id.value_or(""));
                    break;
                case amqp::protocol::event_kind::returned:
                    r.method = "basic.return";
                    r.body = std::string(amqp::as_string_view(ev.body));
                    r.correlation_id = std::string(ev.properties.correlation_id.value_or(""));
                    break;
                case amqp::protocol::event_kind::confirm:
                    r.delivery_tag = ev.delivery_tag;
                    r.confirm_first = ev.confirm_first;
                    r.ack = ev.ack;
                    r.multiple = ev.multiple;
                    r.confirm_lost = ev.confirm_lost;
                    break;
                default: break;
            }
            events.push_back(std::move(r));
        }
    }

    byte_buffer take_output() {
        byte_buffer b;
        m.take_output(b);
        return b;
    }

    /// Take the output and decode it into frames (skipping a leading protocol header).
    std::vector<out_frame> take_frames() {
        const auto b = take_output();
        std::vector<out_frame> frames;
        amqp::bytes_view rest(b);
        if (rest.size() >= 8 && amqp::check_protocol_header(rest) == amqp::header_check::ours) rest = rest.subspan(8);
        amqp::diagnostics d;
        while (!rest.empty()) {
            const auto r = amqp::decode_frame(rest, 1u << 30, d);
            if (r.status != amqp::decode_status::ok) break;
            out_frame f;
            f.type = r.frame.type;
            f.channel = r.frame.channel;
            f.payload.assign(r.frame.payload.begin(), r.frame.payload.end());
            frames.push_back(std::move(f));
            rest = rest.subspan(r.consumed);
        }
        for (auto& f : frames) {
            if (f.type == amqp::frame_type::method && !amqp::decode_method(f.payload, f.m, d))
                f.name = std::string(amqp::method_name(f.m));
        }
        return frames;
    }

    amqp::protocol::connection_machine m;
    clock::time_point now{std::chrono::seconds(1000)};
    std::vector<recorded_event> events;
};

}  // namespace amqp_test
