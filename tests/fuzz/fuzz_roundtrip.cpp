// decode → encode → decode over whole frames: every frame the decoder accepts is re-encoded
// (method frames with append_method_frame, headers with encode_content_header, bodies and
// heartbeats as they are), decoded again, and must give the same values; the second
// encoding must equal the first (canonical form is a fixed point). Every decoded content
// header is also sent again as a whole message (append_message: basic.publish, the rest of
// the input as its body, a frame_max from the input) and must come back as the same
// properties and body, with the header frame's payload equal to encode_content_header's, and
// encode_publish must write the same bytes.
#include "fuzz_check.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

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

// The properties of `h` as a basic.publish with `body`, into a buffer that already holds
// `prefix` bytes; everything decodes back as it went in.
void check_message(const amqp::content_header& h, amqp::bytes_view body, std::uint32_t frame_max, std::size_t prefix) {
    amqp::byte_buffer out(prefix, 0x5A);
    const amqp::basic_publish pub{0, "", "rpc_queue", false, false};
    const auto ec = amqp::append_message(out, 3, pub, h.properties, body, frame_max);
    amqp::content_header sized;  // what append_message sends: class 60, weight 0
    sized.body_size = body.size();
    sized.properties = h.properties;
    const std::size_t header_payload = amqp::content_header_payload_size(sized);
    // encode_publish into a caller's buffer: the same verdict and the same bytes.
    amqp::byte_buffer into(amqp::publish_size_bound(pub, h.properties, body.size(), frame_max));
    const auto direct = amqp::encode_publish(into, 3, pub, h.properties, body, frame_max);
    FUZZ_CHECK(direct.ec == ec);
    FUZZ_CHECK(ec || (direct.size == out.size() - prefix &&
                      std::equal(into.begin(), into.begin() + static_cast<std::ptrdiff_t>(direct.size),
                                 out.begin() + static_cast<std::ptrdiff_t>(prefix))));
    if (ec) {
        // Only a header larger than a frame can be refused (the decoder's strings are short).
        FUZZ_CHECK(ec == amqp::reply_code::frame_error);
        FUZZ_CHECK(header_payload > std::max(frame_max, amqp::frame_min_size) - amqp::frame_overhead);
        FUZZ_CHECK(out.size() == prefix);
        return;
    }
    FUZZ_CHECK(out.size() == prefix + amqp::message_size(pub, h.properties, body.size(), frame_max));
    for (std::size_t i = 0; i < prefix; ++i) FUZZ_CHECK(out[i] == 0x5A);
    amqp::byte_buffer want(header_payload);
    FUZZ_CHECK(!amqp::encode_content_header(sized, want.data()));
    amqp::bytes_view in = amqp::bytes_view(out).subspan(prefix);
    amqp::diagnostics diag;
    amqp::byte_buffer got_body;
    for (int i = 0; !in.empty(); ++i) {
        const auto r = amqp::decode_frame(in, std::max(frame_max, amqp::frame_min_size), diag);
        FUZZ_CHECK(r.status == amqp::decode_status::ok && r.frame.channel == 3);
        if (i == 0) {
            amqp::method m;
            FUZZ_CHECK(r.frame.type == amqp::frame_type::method && !amqp::decode_method(r.frame.payload, m, diag));
            FUZZ_CHECK(m == amqp::method{pub});
        } else if (i == 1) {
            amqp::content_header got;
            FUZZ_CHECK(r.frame.type == amqp::frame_type::header && !amqp::decode_content_header(r.frame.payload, got, diag));
            FUZZ_CHECK(got.properties == h.properties && got.body_size == body.size());
            FUZZ_CHECK(std::equal(r.frame.payload.begin(), r.frame.payload.end(), want.begin(), want.end()));
        } else {
            FUZZ_CHECK(r.frame.type == amqp::frame_type::body && !r.frame.payload.empty());
            got_body.insert(got_body.end(), r.frame.payload.begin(), r.frame.payload.end());
        }
        in = in.subspan(r.consumed);
    }
    FUZZ_CHECK(std::equal(got_body.begin(), got_body.end(), body.begin(), body.end()));
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
                // frame_max 4096 .. 4096 + 64 K from the input's length, so bodies split too.
                const amqp::bytes_view rest = in.subspan(r.consumed);
                check_message(a, rest, 4096 + static_cast<std::uint32_t>(size % 65536), size % 5);
            }
            const auto twice = reencode(r2.frame);
            FUZZ_CHECK(twice == once);
        }
        in = in.subspan(r.consumed);
    }
    return 0;
}
