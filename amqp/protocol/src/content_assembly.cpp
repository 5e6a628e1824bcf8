// Content assembly: method, header and body frames into one message, checked as they arrive
// (505 for out-of-order frames, 501 for excess body bytes, max_message_size before allocating).
#include "machine_helpers.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/printable.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/protocol/handshake.hpp>

#include <algorithm>
#include <limits>
#include <string>

namespace amqp::protocol {

using namespace detail;

namespace {
// basic.deliver (60,60) or basic.return (60,50): content nobody waits for synchronously.
bool is_delivery_or_return(const byte_buffer& method_payload) {
    if (method_payload.size() < 4) return false;
    const auto u16 = [&](std::size_t i) {
        return static_cast<std::uint16_t>(method_payload[i] << 8 | method_payload[i + 1]);
    };
    return u16(0) == 60 && (u16(2) == 60 || u16(2) == 50);
}

// "what (field F at offset N)", the field path escaped: it holds the peer's table keys.
std::string describe_header_fault(const diagnostics& d) {
    std::string out = d.message + " (";
    if (!d.field.empty()) out += "field " + printable(d.field) + " ";
    return out + "at offset " + std::to_string(d.offset) + ")";
}
}  // namespace

// A whole delivery at the front of the input, decoded in one pass by decode_delivery, when
// nothing about it needs the frame-by-frame path: the same event that path would give,
// without copying the method and header payloads and the body into the channel's buffers
// and decoding them twice. Anything else (a body over several frames, a closing channel, an
// oversized body, tracing) goes frame by frame.
bool connection_machine::take_delivery(event& ev) {
    if (observer_ || state_ != connection_state::open) return false;
    const bytes_view in = decoder_.pending();
    if (in.empty() || in[0] != static_cast<std::uint8_t>(frame_type::method)) return false;
    const std::size_t n = decode_delivery(in, decoder_.frame_max(), delivery_);
    if (n == 0) return false;
    const auto it = channels_.find(delivery_.channel());
    if (it == channels_.end()) return false;
    channel_state& ch = it->second;
    if (ch.stage != content_stage::none || ch.close_sent || delivery_.body().size() > opts_.max_message_size)
        return false;
    decoder_.skip(n);
    ch.discard = false;  // as a content method on an open channel sets it
    // Later deliveries may all take this path: a body buffer grown by an earlier large message
    // is released here too, or it would stay allocated for the channel's life.
    fit_body_buffer(ch, 0);
    ev.kind = event_kind::delivery;
    ev.channel = delivery_.channel();
    ev.deliver = delivery_.deliver();
    ev.properties = delivery_.properties();
    ev.body = delivery_.body();
    return true;
}

// The channel's body buffer, reused from message to message, made ready for a body of `size`
// bytes (0: none to assemble). Freed when far bigger than that: a huge body from an earlier
// message must not stay allocated forever. Then sized in one allocation: doubling through the
// frames cost a copy of the body so far and fresh pages to fault in at each step, for every large
// message. Up to 64 frames only: what a header declares is not there yet, and a peer must not make
// us hold max_message_size per channel for a few bytes sent.
void connection_machine::fit_body_buffer(channel_state& ch, std::uint64_t size) const {
    const auto n = static_cast<std::size_t>(size);
    if (ch.body.capacity() > std::max({4 * std::size_t{frame_max_}, std::size_t{1} << 20, 4 * n}))
        byte_buffer().swap(ch.body);
    ch.body.reserve(std::min(n, 64 * std::size_t{frame_max_}));
}

bool connection_machine::handle_header(std::uint16_t id, channel_state& ch, const frame_view& f, event& ev) {
    if (ch.stage != content_stage::header) {
        fail(reply_code::unexpected_frame,
             "content header on channel " + std::to_string(id) + " without a content method before it");
        return false;
    }
    content_header h;
    diagnostics skipped;
    // A fault confined to one property of a message the broker delivered costs that message
    // only: the frame around it was whole, so the stream is still in step. The rest (a property
    // running past the frame, unknown flags, basic.get-ok, which no consumer settles) is fatal.
    if (auto ec = decode_content_header(f.payload, h, diag_);
        ec && (!is_delivery_or_return(ch.method_payload) ||
               (ec = decode_content_header_salvaging(f.payload, h, diag_, skipped)))) {
        fail(as_reply_code(ec), "malformed content header: " + describe_header_fault(diag_));
        return false;
    }
    if (h.class_index != ch.content_class || h.weight != 0) {
        fail(reply_code::unexpected_frame, "content header with class " + std::to_string(h.class_index) +
                                               " and weight " + std::to_string(h.weight) + " after a method of class " +
                                               std::to_string(ch.content_class));
        return false;
    }
    ch.body_remaining = h.body_size;
    if (!ch.discard && !skipped.message.empty()) {
        // Reported at once without its body, which is skipped as it arrives (as below).
        ch.header_payload.assign(f.payload.begin(), f.payload.end());
        ch.body.clear();
        const bool reported = complete_content(id, ch, ev);
        ch.discard = h.body_size != 0;
        ch.stage = h.body_size == 0 ? content_stage::none : content_stage::body;
        return reported;
    }
    if (!ch.discard && h.body_size > opts_.max_message_size && opts_.deliver_oversized &&
        is_delivery_or_return(ch.method_payload)) {
        // Reported without its body, which is skipped as it arrives: the consumer can still
        // settle (ack/reject) and answer a message nobody can read, and the channel stays.
        ch.header_payload.assign(f.payload.begin(), f.payload.end());
        ch.body.clear();
        const bool reported = complete_content(id, ch, ev);
        ch.discard = true;
        ch.stage = content_stage::body;  // body_size > max_message_size >= 0: frames follow
        ev.body_refused = reported;
        ev.body_size = h.body_size;
        return reported;
    }
    if (!ch.discard && h.body_size > opts_.max_message_size) {
        // Refuse before allocating anything for it: the channel goes (311), the connection stays,
        // and the body frames still on their way are skipped.
        close_channel_locally(id, ch, 311,
                              "message body of " + std::to_string(h.body_size) + " bytes exceeds max_message_size " +
                                  std::to_string(opts_.max_message_size),
                              client_error::message_too_large, 0, 0);
        ch.discard = true;
    }
    if (ch.discard) {
        ch.stage = h.body_size == 0 ? content_stage::none : content_stage::body;
        return false;
    }
    ch.header_payload.assign(f.payload.begin(), f.payload.end());
    ch.body.clear();
    fit_body_buffer(ch, h.body_size);
    if (h.body_size == 0) return complete_content(id, ch, ev);
    ch.stage = content_stage::body;
    return false;
}

bool connection_machine::handle_body(std::uint16_t id, channel_state& ch, const frame_view& f, event& ev) {
    if (ch.stage != content_stage::body) {
        fail(reply_code::unexpected_frame,
             "body frame on channel " + std::to_string(id) + " without a content header before it");
        return false;
    }
    if (f.payload.size() > ch.body_remaining) {
        fail(reply_code::frame_error,
             "body frames on channel " + std::to_string(id) + " carry more bytes than the content header declared");
        return false;
    }
    ch.body_remaining -= f.payload.size();
    if (!ch.discard) append(ch.body, f.payload);
    if (ch.body_remaining != 0) return false;
    if (ch.discard) {
        ch.stage = content_stage::none;
        ch.discard = false;
        return false;
    }
    return complete_content(id, ch, ev);
}

bool connection_machine::complete_content(std::uint16_t id, channel_state& ch, event& ev) {
    ch.stage = content_stage::none;
    method m;
    content_header h;
    diagnostics skipped;
    // Both decoded (or were salvaged) when they arrived; these copies are what the views will
    // point into.
    if (decode_method(ch.method_payload, m, diag_) ||
        decode_content_header_salvaging(ch.header_payload, h, diag_, skipped)) {
        fail(reply_code::internal_error, "content could not be decoded again");
        return false;
    }
    ev.channel = id;
    ev.properties = h.properties;
    ev.body = ch.body;
    if (!skipped.message.empty()) {
        fault_text_ = "content header refused: " + describe_header_fault(skipped);
        ev.fault = fault_text_;
    }
    if (const auto* d = std::get_if<basic_deliver>(&m)) {
        ev.kind = event_kind::delivery;
        ev.deliver = *d;
        return true;
    }
    if (const auto* r = std::get_if<basic_return>(&m)) {
        ev.kind = event_kind::returned;
        ev.returned = *r;
        return true;
    }
    // basic.get-ok: the answer to a basic.get.
    if (ch.sync.empty() || !ch.front_sent || ch.sync.front().reply_class != method_class_id(m) ||
        ch.sync.front().reply_method != method_method_id(m)) {
        fail(reply_code::command_invalid,
             "unexpected " + std::string(method_name(m)) + " on channel " + std::to_string(id));
        return false;
    }
    ch.sync.pop_front();
    ch.front_sent = false;
    send_next_sync(id, ch);
    ev.kind = event_kind::reply;
    ev.reply = m;
    return true;
}

}  // namespace amqp::protocol
