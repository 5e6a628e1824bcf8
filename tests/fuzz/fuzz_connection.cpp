// Drives the connection state machine past a scripted handshake (two channels open, requests
// pending; with flag 16 both channels in confirm mode with four publishes waiting), then feeds
// the fuzzer's bytes as the broker's, in random chunks, interleaved with client commands and
// clock ticks. Checks: no crash or sanitizer report, no event after the connection's `closed`,
// bodies within max_message_size, everything we write is well-formed frames within the
// negotiated frame_max, and every publish number is settled exactly once (by the broker's
// ack/nack or as lost when its channel or the connection ends).
#include "fuzz_check.hpp"
#include <test_support/broker_script.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>

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

// The publish numbers each channel still waits for, as the machine handed them out.
class confirm_model {
public:
    void published(std::uint16_t ch, std::uint64_t seq) {
        if (seq != 0) FUZZ_CHECK(waiting_[ch].insert(seq).second);
    }
    void on_event(const amqp_test::recorded_event& e) {
        if (e.kind == event_kind::confirm) {
            auto& w = waiting_[e.channel];
            FUZZ_CHECK(e.confirm_first <= e.delivery_tag);
            // The range starts at a waiting number; a broker answer also ends at one.
            FUZZ_CHECK(w.count(e.confirm_first) == 1);
            FUZZ_CHECK(e.confirm_lost || w.count(e.delivery_tag) == 1);
            if (e.multiple) w.erase(w.begin(), w.upper_bound(e.delivery_tag));
            else w.erase(e.delivery_tag);
        }
        // Whatever ends a channel comes after its lost settlement.
        const bool close_ok = e.kind == event_kind::reply && e.method == "channel.close-ok";
        if (e.kind == event_kind::channel_closed || close_ok) FUZZ_CHECK(waiting_[e.channel].empty());
        if (e.kind == event_kind::closed)
            for (const auto& [ch, w] : waiting_) FUZZ_CHECK(w.empty());
    }

private:
    std::map<std::uint16_t, std::set<std::uint64_t>> waiting_;
};

std::uint64_t publish(amqp_test::machine_driver& d, std::uint16_t ch, std::size_t body_size) {
    amqp::basic_publish p;
    p.routing_key = "rpc_queue";
    const std::string body(body_size, 'b');
    std::uint64_t seq = 0;
    (void)d.m.publish(ch, p, {}, amqp::as_bytes(body), seq);
    return seq;
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
    confirm_model confirms;
    if (data[0] & 16) {
        // no-wait: confirm mode at once, so the broker's bytes need no select-ok to reach acks.
        for (std::uint16_t ch : {1, 2}) {
            FUZZ_CHECK(!d.m.send_async(ch, amqp::confirm_select{true}));
            for (int i = 0; i < 4; ++i) confirms.published(ch, publish(d, ch, 10));
            FUZZ_CHECK(d.m.unconfirmed(ch) == 4);
        }
    }
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
                const auto ch = static_cast<std::uint16_t>(1 + r.next() % 2);
                confirms.published(ch, publish(d, ch, r.next() % 9000));
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
            confirms.on_event(e);
            if (e.kind == event_kind::delivery || e.kind == event_kind::returned)
                FUZZ_CHECK(e.body.size() <= opts.max_message_size);
        }
    }
    d.transport_closed();
    for (; seen_events < d.events.size(); ++seen_events) {
        FUZZ_CHECK(!closed);
        closed = d.events[seen_events].kind == event_kind::closed;
        confirms.on_event(d.events[seen_events]);
    }
    FUZZ_CHECK(closed);
    FUZZ_CHECK(d.m.should_close_transport());
    return 0;
}
