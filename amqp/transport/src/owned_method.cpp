#include "owned_method.hpp"

#include <amqp/codec/frame.hpp>

#include <algorithm>

namespace amqp::detail {

error_code owned_method::assign(const method& m) {
    payload_.resize(method_payload_size(m));
    if (auto ec = encode_method(m, payload_.data())) return ec;
    diagnostics d;
    return decode_method(bytes_view(payload_), method_, d);
}

namespace {

// Each optional string of the properties, for sizing, checking and copying alike.
template <class F>
void for_each_string(basic_properties& p, F&& f) {
    for (auto* s : {&p.content_type, &p.content_encoding, &p.correlation_id, &p.reply_to, &p.expiration,
                    &p.message_id, &p.type, &p.user_id, &p.app_id, &p.cluster_id})
        if (*s) f(**s);
}

}  // namespace

error_code owned_message::assign(const basic_publish& m, const basic_properties& props, bytes_view body,
                                 std::uint32_t frame_max) {
    method_ = m;
    props_ = props;
    std::size_t total = m.exchange.size() + m.routing_key.size() + body.size();
    if (props.headers) total += props.headers->raw.size();
    bool too_long = m.exchange.size() > 255 || m.routing_key.size() > 255;
    for_each_string(props_, [&](std::string_view s) {
        total += s.size();
        too_long = too_long || s.size() > 255;
    });
    if (too_long) return reply_code::syntax_error;
    content_header h;
    h.properties = props;
    const std::size_t max_payload = std::max(frame_max, frame_min_size) - frame_overhead;
    if (method_payload_size(m) > max_payload || content_header_payload_size(h) > max_payload)
        return reply_code::frame_error;

    // Reserved once: the views below stay valid as the buffer fills.
    data_.clear();
    data_.reserve(total);
    const auto keep = [this](bytes_view b) {
        const std::size_t at = data_.size();
        data_.insert(data_.end(), b.begin(), b.end());
        return bytes_view(data_.data() + at, b.size());
    };
    const auto keep_text = [&keep](std::string_view s) { return as_string_view(keep(as_bytes(s))); };
    method_.exchange = keep_text(m.exchange);
    method_.routing_key = keep_text(m.routing_key);
    for_each_string(props_, [&keep_text](std::string_view& s) { s = keep_text(s); });
    if (props_.headers) props_.headers = table_view{keep(props.headers->raw)};
    body_ = keep(body);
    return {};
}

}  // namespace amqp::detail
