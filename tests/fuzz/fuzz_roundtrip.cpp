// decode → encode → decode over whole frames: every frame the decoder accepts is re-encoded
// (method frames with append_method_frame, headers with encode_content_header, bodies and
// heartbeats as they are), decoded again, and must give the same values; the second
// encoding must equal the first (canonical form is a fixed point).
#include "fuzz/fuzz_check.hpp"

#include <amqp/frame.hpp>
#include <amqp/message.hpp>
#include <amqp/methods.hpp>
#include <amqp/properties.hpp>

#include <algorithm>

namespace {

amqp::byte_buffer reencode(const amqp::frame_view& f) {
    amqp::byte_buffer out;
    amqp::diagnostics diag;
    if (f.type == amqp::frame_type::method) {
        amqp::method m;
        if (amqp::decode_method(f.payload, m, diag)) return {};
        FUZZ_CHECK(!amqp::append_method_frame(out, f.channel, m));
        FUZZ_CHECK(out.size() == amqp::method_frame_size(m));
    } else if (f.type == amqp::frame_type::header) {
        amqp::content_header h;
        if (amqp::decode_content_header(f.payload, h, diag)) return {};
        const std::size_t n = amqp::content_header_payload_size(h);
        out.resize(amqp::frame_overhead + n);
        amqp::write_frame_header(out.data(), f.type, f.channel, static_cast<std::uint32_t>(n));
        FUZZ_CHECK(!amqp::encode_content_header(h, out.data() + amqp::frame_header_size));
        out.back() = amqp::frame_end;
    } else {
        out.resize(amqp::frame_overhead + f.payload.size());
        amqp::write_frame_header(out.data(), f.type, f.channel, static_cast<std::uint32_t>(f.payload.size()));
        std::copy(f.payload.begin(), f.payload.end(), out.begin() + amqp::frame_header_size);
        out.back() = amqp::frame_end;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    amqp::bytes_view in(data, size);
    amqp::diagnostics diag;
    while (!in.empty()) {
        const auto r = amqp::decode_frame(in, 131072, diag);
        if (r.status != amqp::decode_status::ok) break;
        const auto once = reencode(r.frame);
        if (!once.empty()) {
            const auto r2 = amqp::decode_frame(once, 131072, diag);
            FUZZ_CHECK(r2.status == amqp::decode_status::ok && r2.consumed == once.size());
            FUZZ_CHECK(r2.frame.type == r.frame.type && r2.frame.channel == r.frame.channel);
            if (r.frame.type == amqp::frame_type::method) {
                amqp::method a, b;
                FUZZ_CHECK(!amqp::decode_method(r.frame.payload, a, diag));
                FUZZ_CHECK(!amqp::decode_method(r2.frame.payload, b, diag));
                FUZZ_CHECK(a == b);
            } else if (r.frame.type == amqp::frame_type::header) {
                amqp::content_header a, b;
                FUZZ_CHECK(!amqp::decode_content_header(r.frame.payload, a, diag));
                FUZZ_CHECK(!amqp::decode_content_header(r2.frame.payload, b, diag));
                FUZZ_CHECK(a == b);
            }
            const auto twice = reencode(r2.frame);
            FUZZ_CHECK(twice == once);
        }
        in = in.subspan(r.consumed);
    }
    return 0;
}
