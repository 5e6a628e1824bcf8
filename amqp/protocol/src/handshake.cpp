#include <amqp/codec/field_table.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/protocol/client_error.hpp>
#include <amqp/protocol/handshake.hpp>

#include <algorithm>
#include <limits>

namespace amqp::protocol {

std::uint32_t negotiate_value(std::uint32_t ours, std::uint32_t theirs) noexcept {
    if (ours == 0 || theirs == 0) return std::max(ours, theirs);
    return std::min(ours, theirs);
}

tune_values negotiate_tune(const connection_tune& broker, const protocol_options& ours) noexcept {
    constexpr std::uint32_t unlimited_frame_cap = 131072;
    tune_values v;
    const auto channels = negotiate_value(ours.channel_max, broker.channel_max);
    v.channel_max = channels == 0 ? std::numeric_limits<std::uint16_t>::max() : static_cast<std::uint16_t>(channels);
    std::uint32_t frame = negotiate_value(ours.frame_max, broker.frame_max);
    if (frame == 0) frame = unlimited_frame_cap;
    // GHSA-jh48-qjf5-fx5v: a frame_max below the spec minimum must not reach the decoder. If the
    // broker itself proposes less than 4096 we still answer 4096 (it violates the spec, and any
    // frame it sends then fits our limit anyway).
    v.frame_max = std::max(frame, frame_min_size);
    v.heartbeat = static_cast<std::uint16_t>(negotiate_value(ours.heartbeat, broker.heartbeat));
    return v;
}

field_table client_properties(const protocol_options& opts) {
    field_table caps = {
        {"publisher_confirms", true},     {"exchange_exchange_bindings", true}, {"basic.nack", true},
        {"consumer_cancel_notify", true}, {"connection.blocked", true},         {"authentication_failure_close", true},
        {"per_consumer_qos", true},
    };
    field_table props = {
        {"product", "amqp-rpc"},
        {"version", "0.1.0"},
        {"platform", "C++20 / Boost.Asio"},
        {"information", "hand-written AMQP 0-9-1 client"},
        {"copyright", "amqp-rpc authors"},
        {"capabilities", std::move(caps)},
    };
    if (!opts.connection_name.empty()) props.emplace_back("connection_name", opts.connection_name);
    return props;
}

bool offers_mechanism(std::string_view mechanisms, std::string_view mechanism) noexcept {
    while (!mechanisms.empty()) {
        const auto space = mechanisms.find(' ');
        const auto word = mechanisms.substr(0, space);
        if (!word.empty() && word == mechanism) return true;
        if (space == std::string_view::npos) break;
        mechanisms.remove_prefix(space + 1);
    }
    return false;
}

std::string sasl_response(const protocol_options& opts) {
    if (opts.auth_mechanism == "EXTERNAL") return {};
    std::string r;
    r.reserve(opts.user.size() + opts.password.size() + 2);
    r.push_back('\0');
    r += opts.user;
    r.push_back('\0');
    r += opts.password;
    return r;
}

connection_start_ok start_ok_for(const protocol_options& opts, const byte_buffer& properties,
                                 const std::string& response) {
    connection_start_ok ok;
    ok.client_properties = table_view{properties};
    ok.mechanism = opts.auth_mechanism;
    ok.response = response;
    ok.locale = "en_US";
    return ok;
}

error_code check_start_ok_size(const protocol_options& opts, std::string* why) {
    // Sized exactly as connection_machine::on_start builds it, from the same pieces.
    byte_buffer properties;
    const bool properties_encode = !encode_table(client_properties(opts), properties);
    const std::string response = sasl_response(opts);
    constexpr std::size_t max_payload = frame_min_size - frame_overhead;
    const std::size_t size = method_payload_size(start_ok_for(opts, properties, response));
    if (properties_encode && size <= max_payload) return {};
    if (why) {
        *why = "connection.start-ok would be " + std::to_string(size) + " bytes (user name " +
               std::to_string(opts.user.size()) + ", password " + std::to_string(opts.password.size()) +
               ", connection name " + std::to_string(opts.connection_name.size()) +
               " bytes); a broker accepts at most " + std::to_string(max_payload) + " before tuning";
    }
    return client_error::credentials_too_long;
}

}  // namespace amqp::protocol
