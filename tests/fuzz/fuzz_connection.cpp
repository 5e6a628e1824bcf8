// Drives the connection state machine past a scripted handshake (two channels open, requests
// pending), then feeds the fuzzer's bytes as the broker's, in random chunks, interleaved with
// client commands and clock ticks. Checks: no crash or sanitizer report, no event after the
// connection's `closed`, bodies within max_message_size, and everything we write is well-formed
// frames within the negotiated frame_max.
#include "fuzz/fuzz_check.hpp"
#include "protocol/broker_script.hpp"

#include <chrono>
#include <cstdint>

namespace {

using amqp::protocol::event_kind;

struct rng {
    std::uint32_t s;
    std::uint32_t next() {
        s = s * 1664525u + 1013904223u;
        return s >> 8;
    }
};

void check_output(amqp_test::machine_driver& d) {
    const auto out = d.take_output();
    amqp::bytes_view rest(out);
    amqp::diagnostics diag;
    while (!rest.empty()) {
        const auto r = amqp::decode_frame(rest, d.m.frame_max(), diag);
        FUZZ_CHECK(r.status == amqp::decode_status::ok);
        rest = rest.subspan(r.consumed);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    auto opts = amqp_test::machine_driver::default_options();
    opts.max_message_size = (data[0] & 1) ? 64 : 1u << 20;
    opts.deliver_oversized = (data[0] & 8) != 0;  // oversized deliveries reported bodiless
    const std::uint32_t frame_max = (data[0] & 2) ? 131072 : 4096;
    const std::uint16_t heartbeat = (data[0] & 4) ? 1 : 0;
    rng r{data[1] * 2654435761u + 1};
    const amqp::bytes_view input(data + 2, size - 2);

    amqp_test::machine_driver d(opts);
    d.open(heartbeat, frame_max);
    FUZZ_CHECK(d.m.is_open());
    FUZZ_CHECK(d.open_channel() == 1);
    FUZZ_CHECK(d.open_channel() == 2);
    amqp::queue_declare q;
    q.queue = "rpc_queue";
    FUZZ_CHECK(!d.m.send_sync(1, q));
    amqp::basic_consume c;
    c.queue = "rpc_queue";
    FUZZ_CHECK(!d.m.send_sync(2, c));
    check_output(d);

    std::size_t seen_events = 0;
    bool closed = false;
    std::size_t pos = 0;
    while (pos < input.size()) {
        const std::size_t chunk = std::min<std::size_t>(1 + r.next() % 64, input.size() - pos);
        d.feed(input.subspan(pos, chunk));
        pos += chunk;
        switch (r.next() % 8) {
            case 0: {
                amqp::basic_publish p;
                p.routing_key = "rpc_queue";
                const std::string body(r.next() % 9000, 'b');
                (void)d.m.publish(1 + r.next() % 2, p, {}, amqp::as_bytes(body));
                break;
            }
            case 1: (void)d.m.send_async(1 + r.next() % 2, amqp::basic_ack{r.next(), false}); break;
            case 2: (void)d.m.send_sync(1 + r.next() % 3, amqp::basic_qos{0, 1, false}); break;
            case 3: {
                std::uint16_t id = 0;
                (void)d.m.open_channel(id);
                break;
            }
            case 4: d.advance(std::chrono::milliseconds(r.next() % 1500)); break;
            case 5:
                if (r.next() % 16 == 0) (void)d.m.send_sync(1 + r.next() % 2, amqp::channel_close{200, "bye", 0, 0});
                break;
            case 6:
                if (r.next() % 32 == 0) d.m.close();
                break;
            default: break;
        }
        check_output(d);
        for (; seen_events < d.events.size(); ++seen_events) {
            const auto& e = d.events[seen_events];
            FUZZ_CHECK(!closed);  // nothing after `closed` (sticky)
            if (e.kind == event_kind::closed) closed = true;
            if (e.kind == event_kind::delivery || e.kind == event_kind::returned)
                FUZZ_CHECK(e.body.size() <= opts.max_message_size);
        }
    }
    d.transport_closed();
    for (; seen_events < d.events.size(); ++seen_events) {
        FUZZ_CHECK(!closed);
        closed = d.events[seen_events].kind == event_kind::closed;
    }
    FUZZ_CHECK(closed);
    FUZZ_CHECK(d.m.should_close_transport());
    return 0;
}
