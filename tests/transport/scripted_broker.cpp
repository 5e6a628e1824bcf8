#include "scripted_broker.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>

#include <memory>

namespace amqp_test {
namespace {

struct broker_state {
    scripted_broker_options opts;
    byte_buffer pending;  // client bytes not yet a whole frame
    bool header_seen = false;
    std::uint64_t next_tag = 1;
    // The publish being assembled: its channel and routing key, then its body.
    std::uint16_t publish_channel = 0;
    std::string routing_key;
    byte_buffer body;
};

void answer(test_peer& peer, broker_state& st, const amqp::frame_view& f) {
    using namespace amqp;
    if (f.type == frame_type::header) return;  // a body follows (every test message has one)
    if (f.type == frame_type::body) {
        st.body.insert(st.body.end(), f.payload.begin(), f.payload.end());
        if (st.opts.on_publish) {
            st.opts.on_publish(st.publish_channel, st.routing_key, st.body);
            st.body.clear();
            return;
        }
        basic_deliver d;
        d.consumer_tag = "ctag-1";
        d.delivery_tag = st.next_tag++;
        d.routing_key = st.routing_key;
        peer.send(method_frame(st.publish_channel, d) +
                  raw_frame(2, st.publish_channel, header_payload(st.body.size())) +
                  raw_frame(3, st.publish_channel, st.body));
        st.body.clear();
        return;
    }
    if (f.type != frame_type::method) return;
    method m;
    diagnostics d;
    if (decode_method(f.payload, m, d)) return;
    const std::uint16_t ch = f.channel;
    if (std::holds_alternative<connection_start_ok>(m)) {
        peer.send(tune_frame(2047, 131072, st.opts.heartbeat));
    } else if (std::holds_alternative<connection_open>(m)) {
        peer.send(open_ok_frame());
    } else if (std::holds_alternative<channel_open>(m)) {
        peer.send(method_frame(ch, channel_open_ok{}));
    } else if (const auto* q = std::get_if<queue_declare>(&m)) {
        peer.send(method_frame(ch, queue_declare_ok{q->queue, 0, 0}));
    } else if (std::holds_alternative<basic_consume>(m)) {
        peer.send(method_frame(ch, basic_consume_ok{"ctag-1"}));
    } else if (const auto* p = std::get_if<basic_publish>(&m)) {
        st.publish_channel = ch;
        st.routing_key = std::string(p->routing_key);
    } else if (std::holds_alternative<confirm_select>(m)) {
        peer.send(method_frame(ch, confirm_select_ok{}));
    } else if (std::holds_alternative<channel_close>(m)) {
        peer.send(method_frame(ch, channel_close_ok{}));
    } else if (std::holds_alternative<connection_close>(m)) {
        if (st.opts.hang_up_on_connection_close) {
            peer.hang_up();
        } else if (st.opts.answer_connection_close) {
            peer.send(method_frame(0, connection_close_ok{}));
        }
    }
}

}  // namespace

void act_as_broker(test_peer& peer, scripted_broker_options o) {
    auto st = std::make_shared<broker_state>();
    st->opts = o;
    peer.on_write = [st](test_peer& p, amqp::bytes_view bytes) {
        st->pending.insert(st->pending.end(), bytes.begin(), bytes.end());
        amqp::bytes_view rest(st->pending);
        if (!st->header_seen) {
            if (rest.size() < 8) return;
            st->header_seen = true;
            rest = rest.subspan(8);
            p.send(connection_start_frame());
        }
        amqp::diagnostics d;
        for (;;) {
            const auto r = amqp::decode_frame(rest, 1u << 20, d);
            if (r.status != amqp::decode_status::ok) break;
            answer(p, *st, r.frame);
            rest = rest.subspan(r.consumed);
        }
        st->pending.erase(st->pending.begin(), st->pending.end() - static_cast<std::ptrdiff_t>(rest.size()));
    };
}

}  // namespace amqp_test
