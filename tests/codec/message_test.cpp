// Whole messages: method + header + body frames in one buffer, split by frame_max.
#include "golden.hpp"

#include <amqp/frame.hpp>
#include <amqp/message.hpp>

#include <gtest/gtest.h>

namespace {

using namespace amqp;
using amqp_test::hex;
using amqp_test::to_hex;

TEST(Message, PublishGolden) {
    basic_properties props;
    props.correlation_id = "c1";
    props.reply_to = "amq.gen-x";
    const basic_publish pub{0, "", "rpc_queue", false, false};
    byte_buffer out;
    ASSERT_FALSE(append_message(out, 1, pub, props, as_bytes("30"), 131072));
    const auto want = hex(
        "01 0001 00000012 | 003c 0028 0000 00 09 7270635f7175657565 00 | ce"
        "02 0001 0000001b | 003c 0000 0000000000000002 0600 02 6331 09 616d712e67656e2d78 | ce"
        "03 0001 00000002 | 3330 | ce");
    EXPECT_EQ(to_hex(out), to_hex(want));
    EXPECT_EQ(message_size(pub, props, 2, 131072), out.size());
}

TEST(Message, EmptyBodyHasNoBodyFrame) {
    byte_buffer out;
    ASSERT_FALSE(append_message(out, 2, basic_publish{}, {}, {}, 4096));
    // method frame (8 + 4 + 2 + 1 + 1 + 1) + header frame (8 + 14)
    EXPECT_EQ(out.size(), 17u + 22u);
    EXPECT_EQ(message_size(basic_publish{}, {}, 0, 4096), out.size());
}

TEST(Message, BodySplitAtFrameMaxMinus8) {
    for (std::size_t body_size : {4087u, 4088u, 4089u, 8176u, 8177u, 20000u}) {
        const byte_buffer body(body_size, 0x42);
        byte_buffer out = {0xEE};  // appends, keeps what was there
        ASSERT_FALSE(append_message(out, 9, basic_publish{}, {}, body, 4096));
        EXPECT_EQ(out[0], 0xEE);
        EXPECT_EQ(message_size(basic_publish{}, {}, body_size, 4096), out.size() - 1);
        frame_decoder dec(4096);
        dec.feed(bytes_view(out).subspan(1));
        std::size_t frames = 0, body_bytes = 0;
        for (auto r = dec.next(); r.status == decode_status::ok; r = dec.next()) {
            ++frames;
            EXPECT_EQ(r.frame.channel, 9);
            if (r.frame.type == frame_type::body) {
                EXPECT_LE(r.frame.payload.size(), 4088u);
                body_bytes += r.frame.payload.size();
            }
        }
        EXPECT_EQ(dec.error(), error_code{});
        EXPECT_EQ(body_bytes, body_size);
        EXPECT_EQ(frames, 2 + (body_size + 4087) / 4088) << body_size;
    }
}

TEST(Message, ReusedBufferDoesNotReallocate) {
    byte_buffer out;
    const byte_buffer body(100, 1);
    ASSERT_FALSE(append_message(out, 1, basic_publish{}, {}, body, 4096));
    const auto* data = out.data();
    for (int i = 0; i < 100; ++i) {
        out.clear();
        ASSERT_FALSE(append_message(out, 1, basic_publish{}, {}, body, 4096));
        EXPECT_EQ(out.data(), data);
    }
}

}  // namespace
