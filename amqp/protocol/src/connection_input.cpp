// Incoming frames: the connection class (handshake, close, blocked) and channel methods
// (replies, server-sent methods, close handshakes).
#include "machine_helpers.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/protocol/handshake.hpp>

#include <algorithm>
#include <limits>
#include <string>

namespace amqp::protocol {

using namespace detail;

// ---- input ---------------------------------------------------------------------------------------

bool connection_machine::handle_frame(const frame_view& f, event& ev) {
    if (f.type == frame_type::heartbeat) {
        if (f.channel != 0)
            fail(reply_code::unexpected_frame, "heartbeat frame on channel " + std::to_string(f.channel));
        return false;
    }
    if (f.type != frame_type::method && f.channel == 0) {
        fail(reply_code::command_invalid, "content frame on channel 0");
        return false;
    }
    if (f.channel != 0 && state_ != connection_state::open) {
        if (state_ != connection_state::closing)
            fail(reply_code::unexpected_frame,
                 "frame on channel " + std::to_string(f.channel) + " before the connection is open");
        return false;
    }
    channel_state* ch = nullptr;
    if (f.channel != 0) {
        const auto it = channels_.find(f.channel);
        if (it == channels_.end()) {
            fail(reply_code::channel_error, "frame on channel " + std::to_string(f.channel) + ", which is not open");
            return false;
        }
        ch = &it->second;
    }
    switch (f.type) {
        case frame_type::header: return handle_header(f.channel, *ch, f, ev);
        case frame_type::body: return handle_body(f.channel, *ch, f, ev);
        case frame_type::method: break;
        case frame_type::heartbeat: return false;
    }

    method m;
    if (auto ec = decode_method(f.payload, m, diag_)) {
        fail(as_reply_code(ec), "malformed method frame: " + diag_.to_string());
        return false;
    }
    if (f.channel == 0) return handle_connection_method(m, ev);
    if (method_class_id(m) == 10) {
        fail(reply_code::command_invalid, std::string(method_name(m)) + " on channel " + std::to_string(f.channel));
        return false;
    }
    if (ch->stage != content_stage::none && ch->discard && ch->close_sent) {
        // Content we were skipping on a channel we closed: the peer may stop sending it.
        ch->stage = content_stage::none;
        ch->discard = false;
    }
    if (ch->stage != content_stage::none) {
        fail(reply_code::unexpected_frame, std::string(method_name(m)) + " on channel " + std::to_string(f.channel) +
                                               " while a content header or body was expected");
        return false;
    }
    if (method_has_content(m)) {
        ch->method_payload.assign(f.payload.begin(), f.payload.end());
        ch->content_class = method_class_id(m);
        ch->stage = content_stage::header;
        ch->discard = ch->close_sent;
        return false;
    }
    return handle_channel_method(f.channel, *ch, m, ev);
}

bool connection_machine::handle_connection_method(const method& m, event& ev) {
    if (method_class_id(m) != 10) {
        fail(reply_code::command_invalid, std::string(method_name(m)) + " on channel 0");
        return false;
    }
    if (const auto* c = std::get_if<connection_close>(&m)) {
        append_method(0, connection_close_ok{});
        if (state_ == connection_state::closing) {
            // Both sides closed at once; our answer went out, theirs will not matter.
            finish({}, true);
            return false;
        }
        auto r = broker_reason(c->reply_code, c->reply_text, c->class_id, c->method_id,
                               client_error::connection_closed);
        if (state_ == connection_state::awaiting_tune && c->reply_code == 403)
            r.code = client_error::authentication_failed;
        finish(std::move(r), true);
        return false;
    }
    switch (state_) {
        case connection_state::awaiting_start:
            if (const auto* s = std::get_if<connection_start>(&m)) {
                on_start(*s);
                return false;
            }
            break;
        case connection_state::awaiting_tune:
            if (const auto* t = std::get_if<connection_tune>(&m)) {
                on_tune(*t);
                return false;
            }
            if (is<connection_secure>(m)) {
                fail(reply_code::not_implemented, "SASL challenges (connection.secure) are not supported",
                     connection_secure::class_index, connection_secure::method_index);
                return false;
            }
            break;
        case connection_state::awaiting_open:
            if (is<connection_open_ok>(m)) {
                state_ = connection_state::open;
                ev.kind = event_kind::opened;
                return true;
            }
            break;
        case connection_state::open:
            if (const auto* b = std::get_if<connection_blocked>(&m)) {
                blocked_ = true;
                ev.kind = event_kind::blocked;
                ev.text = b->reason;
                return true;
            }
            if (is<connection_unblocked>(m)) {
                blocked_ = false;
                ev.kind = event_kind::unblocked;
                return true;
            }
            break;
        case connection_state::closing:
            if (is<connection_close_ok>(m)) finish({}, true);
            return false;  // everything else is discarded while closing (spec 4.2.2)
        case connection_state::idle:
        case connection_state::closed: return false;
    }
    fail(reply_code::command_invalid, "unexpected " + std::string(method_name(m)), method_class_id(m),
         method_method_id(m));
    return false;
}

void connection_machine::on_start(const connection_start& s) {
    if (s.version_major != 0 || s.version_minor != 9) {
        close_reason r;
        r.code = client_error::protocol_version_mismatch;
        r.reply_text = "connection.start offers AMQP " + std::to_string(s.version_major) + "-" +
                       std::to_string(s.version_minor) + " (we speak 0-9-1)";
        finish(std::move(r), true);
        return;
    }
    server_properties_.assign(s.server_properties.raw.begin(), s.server_properties.raw.end());
    if (!offers_mechanism(s.mechanisms, opts_.auth_mechanism)) {
        close_reason r;
        r.code = client_error::no_supported_mechanism;
        r.reply_text = "the broker offers SASL mechanisms '" + std::string(s.mechanisms.substr(0, 200)) +
                       "', we are configured for '" + opts_.auth_mechanism + "'";
        finish(std::move(r), true);
        return;
    }
    scratch_.clear();
    if (auto ec = encode_table(client_properties(opts_), scratch_)) {
        fail(as_reply_code(ec), "could not encode client-properties (connection_name too long?)");
        return;
    }
    const std::string response = sasl_response(opts_);
    if (append_method(0, start_ok_for(opts_, scratch_, response))) {
        fail(reply_code::syntax_error, "could not encode connection.start-ok");
        return;
    }
    state_ = connection_state::awaiting_tune;
}

void connection_machine::on_tune(const connection_tune& t) {
    const auto v = negotiate_tune(t, opts_);
    frame_max_ = v.frame_max;
    channel_max_ = v.channel_max;
    heartbeat_ = v.heartbeat;
    decoder_.set_frame_max(frame_max_);
    append_method(0, connection_tune_ok{v.channel_max, v.frame_max, v.heartbeat});
    connection_open open;
    open.virtual_host = opts_.vhost;
    if (append_method(0, open)) {
        fail(reply_code::syntax_error, "virtual host name longer than 255 bytes");
        return;
    }
    state_ = connection_state::awaiting_open;
}

bool connection_machine::handle_channel_method(std::uint16_t id, channel_state& ch, const method& m, event& ev) {
    if (ch.close_sent) {
        // Spec 4.2.2 / 2.2.4: after sending channel.close, discard all but close and close-ok.
        if (is<channel_close_ok>(m)) {
            if (ch.silent_close) {
                channels_.erase(id);
                return false;
            }
        } else if (const auto* c = std::get_if<channel_close>(&m)) {
            append_method(id, channel_close_ok{});
            if (ch.silent_close) return false;
            // The broker closed the channel while our own close was on its way.
            ch.silent_close = true;
            ch.sync.clear();
            ch.front_sent = false;
            report_broker_close(id, ch, *c);
            return false;
        } else {
            return false;
        }
    }
    if (const auto* c = std::get_if<channel_close>(&m)) {
        append_method(id, channel_close_ok{});
        report_broker_close(id, ch, *c);
        channels_.erase(id);
        return false;
    }
    if (const auto* f = std::get_if<channel_flow>(&m)) {
        append_method(id, channel_flow_ok{f->active});
        ev.kind = event_kind::flow;
        ev.channel = id;
        ev.active = f->active;
        return true;
    }
    if (const auto* c = std::get_if<basic_cancel>(&m)) {
        if (!c->no_wait) append_method(id, basic_cancel_ok{c->consumer_tag});
        ev.kind = event_kind::consumer_cancelled;
        ev.channel = id;
        ev.text = c->consumer_tag;
        return true;
    }
    if (const auto* a = std::get_if<basic_ack>(&m)) return on_confirm(id, ch, a->delivery_tag, a->multiple, true, ev);
    if (const auto* n = std::get_if<basic_nack>(&m)) return on_confirm(id, ch, n->delivery_tag, n->multiple, false, ev);

    // Anything else must answer our oldest outstanding synchronous request on this channel.
    const auto cls = method_class_id(m);
    const auto mid = method_method_id(m);
    if (ch.sync.empty() || !ch.front_sent) {
        fail(reply_code::command_invalid, "unexpected " + method_label(cls, mid) + " on channel " + std::to_string(id),
             cls, mid);
        return false;
    }
    const auto& front = ch.sync.front();
    const bool get_empty = front.reply_class == 60 && front.reply_method == 71 && cls == 60 && mid == 72;
    if ((front.reply_class != cls || front.reply_method != mid) && !get_empty) {
        fail(reply_code::command_invalid,
             "expected " + method_label(front.reply_class, front.reply_method) + " on channel " + std::to_string(id) +
                 ", got " + method_label(cls, mid),
             cls, mid);
        return false;
    }
    ch.sync.pop_front();
    ch.front_sent = false;
    ev.kind = event_kind::reply;
    ev.channel = id;
    ev.reply = m;
    if (is<channel_close_ok>(m)) {
        // The lost confirms go before the reply that ends the channel (close-ok has no views into
        // the frame, so the reply can wait in the queue).
        report_lost_confirms(id, ch);
        queue_event(std::move(ev));
        channels_.erase(id);
        return false;
    }
    if (is<channel_open_ok>(m) && ch.phase == channel_phase::opening) ch.phase = channel_phase::open;
    send_next_sync(id, ch);
    return true;
}

}  // namespace amqp::protocol
