// The streaming frame decoder fed in random chunks must agree with one-shot decode_frame on
// the same bytes: same frames, same error, same error offset. Each frame's payload then goes
// through the method or content-header decoder.
#include "fuzz_check.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

#include <cstring>
#include <vector>

namespace {


void decode_payload(const amqp::frame_view& f) {
    amqp::diagnostics diag;
    if (f.type == amqp::frame_type::method) {
        amqp::method m;
        (void)amqp::decode_method(f.payload, m, diag);
    } else if (f.type == amqp::frame_type::header) {
        amqp::content_header h;
        (void)amqp::decode_content_header(f.payload, h, diag);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0: frame_max choice; byte 1: chunking seed. The rest is the stream.
    const std::uint32_t frame_max = (data[0] & 1) ? 131072 : (data[0] & 2) ? 0 : 4096;
    std::uint32_t rng = data[1] * 2654435761u + 1;
    const amqp::bytes_view stream(data + 2, size - 2);

    // Reference: decode_frame over the whole input.
    std::vector<std::vector<std::uint8_t>> ref;
    std::vector<std::pair<amqp::frame_type, std::uint16_t>> ref_hdr;
    amqp::error_code ref_ec;
    std::size_t ref_err_offset = 0;
    {
        std::size_t pos = 0;
        amqp::diagnostics diag;
        for (;;) {
            const auto r = amqp::decode_frame(stream.subspan(pos), frame_max, diag);
            if (r.status == amqp::decode_status::need_more) break;
            if (r.status == amqp::decode_status::error) {
                ref_ec = r.ec;
                ref_err_offset = pos + diag.offset;
                break;
            }
            FUZZ_CHECK(r.consumed == r.frame.payload.size() + amqp::frame_overhead);
            FUZZ_CHECK(r.frame.payload.data() >= stream.data() + pos);
            FUZZ_CHECK(r.frame.payload.data() + r.frame.payload.size() <= stream.data() + stream.size());
            ref.emplace_back(r.frame.payload.begin(), r.frame.payload.end());
            ref_hdr.emplace_back(r.frame.type, r.frame.channel);
            decode_payload(r.frame);
            pos += r.consumed;
        }
    }

    // Streaming, in pseudo-random chunks (1..64 bytes, sometimes via prepare/commit).
    amqp::frame_decoder dec(frame_max);
    std::size_t got = 0, pos = 0;
    bool errored = false;
    while (pos < stream.size() && !errored) {
        rng = rng * 1103515245u + 12345u;
        const std::size_t n = std::min<std::size_t>(1 + (rng >> 16) % 64, stream.size() - pos);
        if (rng & 0x8000) {
            dec.feed(stream.subspan(pos, n));
        } else {
            auto space = dec.prepare(n);
            std::memcpy(space.data(), stream.data() + pos, n);
            dec.commit(n);
        }
        pos += n;
        for (;;) {
            const auto r = dec.next();
            if (r.status == amqp::decode_status::need_more) break;
            if (r.status == amqp::decode_status::error) {
                FUZZ_CHECK(r.ec == ref_ec);
                FUZZ_CHECK(dec.diag().offset == ref_err_offset);
                FUZZ_CHECK(dec.next().status == amqp::decode_status::error);  // sticky
                errored = true;
                break;
            }
            FUZZ_CHECK(got < ref.size());
            FUZZ_CHECK(r.frame.type == ref_hdr[got].first && r.frame.channel == ref_hdr[got].second);
            FUZZ_CHECK(r.frame.payload.size() == ref[got].size());
            FUZZ_CHECK(std::equal(r.frame.payload.begin(), r.frame.payload.end(), ref[got].begin()));
            ++got;
        }
    }
    FUZZ_CHECK(got == ref.size());
    FUZZ_CHECK(errored == static_cast<bool>(ref_ec));
    return 0;
}
