// Frame boundaries: the one-shot `decode_frame`, the protocol-header check, and the frame
// header writer. The streaming decoder is in frame_decoder.cpp.
#include "wire_writer.hpp"

#include <amqp/frame.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <string>

namespace amqp {
namespace {

bool known_type(std::uint8_t t) noexcept {
    switch (static_cast<frame_type>(t)) {
        case frame_type::method:
        case frame_type::header:
        case frame_type::body:
        case frame_type::heartbeat:
            return true;
    }
    return false;
}

frame_result fail(diagnostics& diag, std::string msg, std::size_t offset, const char* field) noexcept {
    diag.message = std::move(msg);
    diag.offset = offset;
    diag.field = field;
    frame_result r;
    r.status = decode_status::error;
    r.ec = reply_code::frame_error;
    return r;
}

}  // namespace

frame_result decode_frame(bytes_view in, std::uint32_t frame_max, diagnostics& diag) noexcept {
    // Below the spec's minimum, `frame_max - overhead` could wrap (rabbitmq-c GHSA-jh48-qjf5-fx5v).
    frame_max = std::max(frame_max, frame_min_size);
    frame_result r;
    if (in.empty()) return r;
    if (!known_type(in[0]))
        return fail(diag, "unknown frame type " + std::to_string(in[0]), 0, "frame.type");
    if (in.size() < frame_header_size) return r;

    const auto type = static_cast<frame_type>(in[0]);
    const std::uint16_t channel = boost::endian::load_big_u16(in.data() + 1);
    const std::uint32_t size = boost::endian::load_big_u32(in.data() + 3);
    // Decided from the header alone, so a claimed 4 GiB frame fails now rather than after we
    // have waited for (and buffered) its payload. No `size + 8` here: it could wrap.
    const std::uint32_t max_payload = frame_max - static_cast<std::uint32_t>(frame_overhead);
    if (size > max_payload)
        return fail(diag,
                    "frame payload of " + std::to_string(size) + " bytes exceeds frame_max " +
                        std::to_string(frame_max) + " - 8",
                    3, "frame.size");
    if (type == frame_type::heartbeat && size != 0)
        return fail(diag, "heartbeat frame with a " + std::to_string(size) + "-byte payload", 3,
                    "frame.size");
    // Whole frame present iff size + 1 <= in.size() - 7.
    if (size >= in.size() - frame_header_size) return r;
    const std::size_t end_at = frame_header_size + size;
    if (in[end_at] != frame_end)
        return fail(diag, "frame-end octet is " + std::to_string(in[end_at]) + ", not 206 (0xCE)",
                    end_at, "frame.end");

    r.status = decode_status::ok;
    r.frame.type = type;
    r.frame.channel = channel;
    r.frame.payload = in.subspan(frame_header_size, size);
    r.consumed = end_at + 1;
    return r;
}

header_check check_protocol_header(bytes_view in, std::array<std::uint8_t, 4>* version) noexcept {
    static constexpr std::uint8_t amqp[4] = {'A', 'M', 'Q', 'P'};
    const std::size_t n = std::min<std::size_t>(in.size(), 4);
    if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), amqp))
        return header_check::not_a_header;
    if (in.size() < protocol_header.size()) return header_check::need_more;
    if (version != nullptr) std::copy(in.begin() + 4, in.begin() + 8, version->begin());
    return std::equal(in.begin() + 4, in.begin() + 8, protocol_header.begin() + 4)
               ? header_check::ours
               : header_check::other_version;
}

std::size_t write_frame_header(std::uint8_t* out, frame_type type, std::uint16_t channel,
                               std::uint32_t payload_size) noexcept {
    detail::wire_writer w(out);
    w.u8(static_cast<std::uint8_t>(type));
    w.u16(channel);
    w.u32(payload_size);
    return frame_header_size;
}

void append_heartbeat(byte_buffer& out) {
    const std::uint8_t hb[frame_overhead] = {8, 0, 0, 0, 0, 0, 0, frame_end};
    out.insert(out.end(), hb, hb + frame_overhead);
}

}  // namespace amqp
