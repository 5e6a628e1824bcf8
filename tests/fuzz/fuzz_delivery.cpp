// decode_delivery against the frame-by-frame path on arbitrary bytes (both frame_max limits
// a connection uses): where it decodes, the frame path agrees on every value and view; where
// the frame path finds a delivery with one body frame at most, it decodes. Each input is
// decoded into a view that held a message with every property, then a known message is
// decoded into it: the view must end with exactly that message's properties.
#include <test_support/delivery_reference.hpp>
#include "fuzz_check.hpp"

#include <amqp/codec/delivery.hpp>
#include <amqp/codec/message.hpp>

#include <cstdio>

namespace {

const amqp::byte_buffer& message(bool every_property) {
    static const auto make = [](bool all) {
        amqp::basic_properties p;
        p.correlation_id = "c1";
        if (all) {
            p.content_type = "t";
            p.content_encoding = "e";
            p.delivery_mode = 2;
            p.priority = 1;
            p.reply_to = "r";
            p.expiration = "1";
            p.message_id = "m";
            p.timestamp = 1;
            p.type = "y";
            p.user_id = "u";
            p.app_id = "a";
            p.cluster_id = "c";
        }
        amqp::byte_buffer out;
        if (amqp::append_message(out, 1, amqp::basic_deliver{"t", 1, false, "", "q"}, p, amqp::as_bytes("b"), 4096))
            std::abort();
        return out;
    };
    static const amqp::byte_buffer all = make(true), one = make(false);
    return every_property ? all : one;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const amqp::bytes_view in(data, size);
    for (const std::uint32_t frame_max : {4096u, 131072u}) {
        amqp::delivery_view v;
        FUZZ_CHECK(amqp::decode_delivery(message(true), frame_max, v) == message(true).size());
        const std::size_t n = amqp::decode_delivery(in, frame_max, v);
        const std::string why = amqp_test::delivery_disagreement(in, frame_max, n, v);
        if (!why.empty()) std::fprintf(stderr, "decode_delivery disagrees: %s\n", why.c_str());
        FUZZ_CHECK(why.empty());
        FUZZ_CHECK(n <= size);
        amqp::delivery_view fresh;
        FUZZ_CHECK(amqp::decode_delivery(message(false), frame_max, fresh) == message(false).size());
        FUZZ_CHECK(amqp::decode_delivery(message(false), frame_max, v) == message(false).size());
        FUZZ_CHECK(v.properties() == fresh.properties());
    }
    return 0;
}
