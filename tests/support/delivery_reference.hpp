// The frame-by-frame reading of a delivered message, with the connection's content rules:
// what decode_delivery must agree with. Built only from decode_frame, decode_method and
// decode_content_header, so the tests and fuzz_delivery compare two independent paths.
#pragma once

#include <amqp/codec/delivery.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace amqp_test {

/// A delivery read frame by frame; `body` points into the input when it came in one frame.
struct reference_delivery {
    std::uint16_t channel = 0;
    amqp::basic_deliver deliver;
    amqp::basic_properties properties;
    amqp::bytes_view body;
    std::size_t body_size = 0;
    std::size_t body_frames = 0;
    std::size_t consumed = 0;
};

/// A basic.deliver method frame on a channel other than 0, then a content header (class 60,
/// weight 0) and body frames on the same channel up to the header's body size, every frame
/// and payload accepted by the codec; anything else (another frame between, a short input)
/// gives nullopt.
inline std::optional<reference_delivery> decode_delivery_by_frames(amqp::bytes_view in, std::uint32_t frame_max) {
    using namespace amqp;
    diagnostics diag;
    reference_delivery out;
    std::size_t at = 0;
    const auto next = [&](frame_type type) -> std::optional<frame_view> {
        const auto r = decode_frame(in.subspan(at), frame_max, diag);
        if (r.status != decode_status::ok || r.frame.type != type) return std::nullopt;
        if (type != frame_type::method && r.frame.channel != out.channel) return std::nullopt;
        at += r.consumed;
        return r.frame;
    };
    const auto m = next(frame_type::method);
    if (!m || m->channel == 0) return std::nullopt;
    out.channel = m->channel;
    method decoded;
    if (decode_method(m->payload, decoded, diag)) return std::nullopt;
    const auto* d = std::get_if<basic_deliver>(&decoded);
    if (d == nullptr) return std::nullopt;
    out.deliver = *d;
    const auto h = next(frame_type::header);
    if (!h) return std::nullopt;
    content_header header;
    if (decode_content_header(h->payload, header, diag) || header.class_index != 60 || header.weight != 0)
        return std::nullopt;
    out.properties = header.properties;
    out.body_size = header.body_size;
    std::size_t got = 0;
    while (got < header.body_size) {
        const auto b = next(frame_type::body);
        if (!b || b->payload.size() > header.body_size - got) return std::nullopt;
        if (out.body_frames == 0) out.body = b->payload;
        got += b->payload.size();
        ++out.body_frames;
    }
    out.consumed = at;
    return out;
}

/// How decode_delivery's answer on `in` (`n`, and `v` when n != 0) differs from the frame
/// path's, or "" when they agree: where it decodes, the frame path does too, with the same
/// values and views; where the frame path finds one body frame at most, it decodes.
inline std::string delivery_disagreement(amqp::bytes_view in, std::uint32_t frame_max, std::size_t n,
                                         const amqp::delivery_view& v) {
    const auto ref = decode_delivery_by_frames(in, frame_max);
    if (n == 0) return ref && ref->body_frames <= 1 ? "declined a delivery with one body frame at most" : "";
    if (!ref) return "decoded what the frame path refuses";
    if (n != ref->consumed) return "consumed " + std::to_string(n) + ", not " + std::to_string(ref->consumed);
    if (ref->body_frames > 1) return "decoded a body of several frames";
    if (v.channel() != ref->channel) return "channel";
    if (!(v.deliver() == ref->deliver)) return "basic.deliver arguments";
    if (!(v.properties() == ref->properties)) return "properties";
    if (v.body().size() != ref->body_size) return "body size";
    if (ref->body_size != 0 && v.body().data() != ref->body.data()) return "body view";
    return "";
}

}  // namespace amqp_test
