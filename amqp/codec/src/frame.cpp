// Frame boundaries: decode_frame's error reporting (the function itself is inline in
// frame.hpp), the protocol-header check and the heartbeat frame. The streaming decoder is in
// frame_decoder.cpp.
#include <amqp/codec/frame.hpp>

#include <algorithm>
#include <string>

namespace amqp {
namespace detail {

// Error paths are out of line and cold, so the inline hot path keeps no strings.
frame_result fail_frame(diagnostics& diag, frame_fault f, std::uint64_t value, std::uint64_t limit,
                        std::size_t offset) noexcept {
    frame_result r;
    switch (f) {
        case frame_fault::type:
            diag.message = "unknown frame type " + std::to_string(value);
            diag.field = "frame.type";
            break;
        case frame_fault::size:
            diag.message = "frame payload of " + std::to_string(value) + " bytes exceeds frame_max " +
                           std::to_string(limit) + " - 8";
            diag.field = "frame.size";
            break;
        case frame_fault::heartbeat:
            diag.message = "heartbeat frame with a " + std::to_string(value) + "-byte payload";
            diag.field = "frame.size";
            break;
        case frame_fault::end:
            diag.message = "frame-end octet is " + std::to_string(value) + ", not 206 (0xCE)";
            diag.field = "frame.end";
            break;
    }
    diag.offset = offset;
    r.status = decode_status::error;
    r.ec = reply_code::frame_error;
    return r;
}

}  // namespace detail

header_check check_protocol_header(bytes_view in, std::array<std::uint8_t, 4>* version) noexcept {
    static constexpr std::uint8_t amqp[4] = {'A', 'M', 'Q', 'P'};
    const std::size_t n = std::min<std::size_t>(in.size(), 4);
    if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), amqp)) return header_check::not_a_header;
    if (in.size() < protocol_header.size()) return header_check::need_more;
    if (version != nullptr) std::copy(in.begin() + 4, in.begin() + 8, version->begin());
    return std::equal(in.begin() + 4, in.begin() + 8, protocol_header.begin() + 4) ? header_check::ours
                                                                                   : header_check::other_version;
}

void append_heartbeat(byte_buffer& out) {
    const std::uint8_t hb[frame_overhead] = {8, 0, 0, 0, 0, 0, 0, frame_end};
    out.insert(out.end(), hb, hb + frame_overhead);
}

}  // namespace amqp
