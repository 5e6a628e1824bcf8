#include <amqp/field_table.hpp>
#include <amqp/message.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/protocol/handshake.hpp>

#include <algorithm>
#include <limits>
#include <string>

namespace amqp::protocol {
namespace {

template <class M>
bool is(const method& m) noexcept {
    return std::holds_alternative<M>(m);
}

std::string method_label(std::uint16_t class_id, std::uint16_t method_id) {
    const auto n = method_name(class_id, method_id);
    if (!n.empty()) return std::string(n);
    return "method " + std::to_string(class_id) + "." + std::to_string(method_id);
}

// A decoder's error as the reply code we close with (the codec only returns reply codes; any
// other category would be a bug there, answered as an internal error rather than trusted).
reply_code as_reply_code(const error_code& ec) noexcept {
    if (ec.category() == reply_category()) return static_cast<reply_code>(ec.value());
    return reply_code::internal_error;
}

// connection.close's reply-text is a shortstr: cut our own diagnostics to fit.
std::string_view shortstr(std::string_view s) noexcept { return s.substr(0, 255); }

close_reason broker_reason(std::uint16_t code, std::string_view text, std::uint16_t class_id,
                           std::uint16_t method_id, client_error if_success) {
    close_reason r;
    r.from_broker = true;
    r.reply_code = code;
    r.reply_text = std::string(text);
    r.class_id = class_id;
    r.method_id = method_id;
    r.code = code == 200 ? make_error_code(if_success) : error_code(code, reply_category());
    return r;
}

}  // namespace

connection_machine::connection_machine(connection_options opts)
    : opts_(std::move(opts)), decoder_(frame_min_size) {}

// ---- driving -----------------------------------------------------------------------------------

void connection_machine::start(time_point now) {
    if (state_ != connection_state::idle) return;
    now_ = last_recv_ = last_send_ = now;
    out_.insert(out_.end(), protocol_header.begin(), protocol_header.end());
    state_ = connection_state::awaiting_start;
}

void connection_machine::feed(bytes_view bytes, time_point now) {
    now_ = now;
    if (state_ == connection_state::closed || state_ == connection_state::idle || bytes.empty()) return;
    last_recv_ = now;
    if (!preamble_done_) {
        // A broker that refuses our protocol version answers with its own header and closes;
        // look at the first 8 bytes before treating anything as frames.
        const std::size_t take = std::min(preamble_.size() - preamble_size_, bytes.size());
        std::copy_n(bytes.begin(), take, preamble_.begin() + static_cast<std::ptrdiff_t>(preamble_size_));
        preamble_size_ += take;
        bytes = bytes.subspan(take);
        if (preamble_size_ < preamble_.size()) return;
        preamble_done_ = true;
        std::array<std::uint8_t, 4> v{};
        const auto check = check_protocol_header(preamble_, &v);
        if (check == header_check::ours || check == header_check::other_version) {
            close_reason r;
            r.code = client_error::protocol_version_mismatch;
            r.reply_text = "the broker answered with protocol header AMQP " + std::to_string(v[0]) + "." +
                           std::to_string(v[1]) + "." + std::to_string(v[2]) + "." +
                           std::to_string(v[3]) + " (we speak AMQP 0-9-1)";
            finish(std::move(r), true);
            return;
        }
        decoder_.feed(preamble_);
    }
    if (!bytes.empty()) decoder_.feed(bytes);
}

bool connection_machine::next_event(event& ev) {
    ev.kind = event_kind::none;
    ev.channel = 0;
    ev.body = {};
    ev.text = {};
    if (queued_.empty() && state_ != connection_state::closed && state_ != connection_state::idle &&
        preamble_done_) {
        while (state_ != connection_state::closed) {
            auto r = decoder_.next();
            if (r.status == decode_status::need_more) break;
            if (r.status == decode_status::error) {
                fail(as_reply_code(r.ec), "malformed frame: " + decoder_.diag().to_string());
                // The stream cannot be framed any more, so close-ok could never be read: close
                // once connection.close is written.
                close_transport_ = true;
                break;
            }
            if (observer_) observer_(direction::in, r.frame);
            if (handle_frame(r.frame, ev)) return true;
            if (!queued_.empty()) break;
        }
    }
    if (queued_.empty()) return false;
    ev = std::move(queued_.front());
    queued_.pop_front();
    return true;
}

void connection_machine::on_transport_closed(error_code ec, time_point now) {
    now_ = now;
    if (state_ == connection_state::closed || state_ == connection_state::idle) {
        close_transport_ = true;
        state_ = connection_state::closed;
        return;
    }
    close_reason r;
    switch (state_) {
        case connection_state::closing:
            // Our close (or the close after a fault) is over either way; if nothing was reported
            // yet it was our own clean close and the peer just skipped close-ok.
            break;
        case connection_state::awaiting_tune:
            // RabbitMQ without authentication_failure_close (or another broker) refuses a login
            // by closing the socket right after start-ok.
            r.code = client_error::authentication_failed;
            r.reply_text = "the broker closed the connection after connection.start-ok "
                           "(wrong user name or password, or the mechanism was refused)";
            break;
        default:
            r.code = client_error::connection_lost;
            r.reply_text = ec ? ec.message() : std::string("the broker closed the socket");
            break;
    }
    finish(std::move(r), true);
}

void connection_machine::on_timer(time_point now) {
    now_ = now;
    if (heartbeat_ == 0) return;
    if (state_ != connection_state::awaiting_open && state_ != connection_state::open &&
        state_ != connection_state::closing)
        return;
    const auto period = std::chrono::seconds(heartbeat_);
    if (now - last_recv_ >= 2 * period) {
        close_reason r;
        r.code = client_error::missed_heartbeats;
        r.reply_text = "nothing received from the broker for " + std::to_string(2 * heartbeat_) +
                       " s (heartbeat " + std::to_string(heartbeat_) + " s)";
        finish(std::move(r), true);
        return;
    }
    if (now - last_send_ >= period / 2) {
        const std::size_t from = out_.size();
        append_heartbeat(out_);
        sent_something(from);
    }
}

std::optional<time_point> connection_machine::next_deadline() const noexcept {
    if (heartbeat_ == 0 || state_ == connection_state::closed) return std::nullopt;
    const auto period = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(heartbeat_));
    return std::min(last_send_ + period / 2, last_recv_ + 2 * period);
}

void connection_machine::abort(close_reason reason) { finish(std::move(reason), true); }

void connection_machine::take_output(byte_buffer& into) noexcept {
    into.clear();
    out_.swap(into);
}

// ---- commands ----------------------------------------------------------------------------------

bool connection_machine::is_channel_open(std::uint16_t id) const noexcept {
    if (state_ != connection_state::open) return false;
    const auto it = channels_.find(id);
    return it != channels_.end() && it->second.phase == channel_phase::open;
}

error_code connection_machine::open_channel(std::uint16_t& id) {
    if (state_ != connection_state::open) return client_error::not_open;
    std::uint32_t want = 1;
    for (const auto& entry : channels_) {
        if (entry.first > want) break;
        if (entry.first == want) ++want;
    }
    if (want > channel_max_) return reply_code::resource_error;
    id = static_cast<std::uint16_t>(want);
    channels_[id];  // phase opening
    if (auto ec = send_sync(id, channel_open{})) {
        channels_.erase(id);
        return ec;
    }
    return {};
}

error_code connection_machine::send_sync(std::uint16_t id, const method& m) {
    if (state_ != connection_state::open) return client_error::not_open;
    const auto it = channels_.find(id);
    if (it == channels_.end() || it->second.phase == channel_phase::closing) return client_error::not_open;
    channel_state& ch = it->second;
    pending_sync p;
    if (auto ec = append_method_frame(p.frame, id, m)) return ec;
    if (p.frame.size() > frame_max_) return reply_code::frame_error;
    p.reply_class = method_class_id(m);
    p.reply_method = static_cast<std::uint16_t>(method_method_id(m) + 1);
    if (is<channel_close>(m)) ch.phase = channel_phase::closing;
    ch.sync.push_back(std::move(p));
    send_next_sync(id, ch);
    return {};
}

error_code connection_machine::send_async(std::uint16_t id, const method& m) {
    if (state_ != connection_state::open) return client_error::not_open;
    const auto it = channels_.find(id);
    if (it == channels_.end() || it->second.close_sent || it->second.phase == channel_phase::opening)
        return client_error::not_open;
    const std::size_t from = out_.size();
    if (auto ec = append_method_frame(out_, id, m)) return ec;
    sent_something(from);
    return {};
}

error_code connection_machine::publish(std::uint16_t id, const basic_publish& m,
                                       const basic_properties& props, bytes_view body) {
    if (!is_channel_open(id)) return client_error::not_open;
    if (body.size() > opts_.max_message_size) return client_error::message_too_large;
    const std::size_t from = out_.size();
    if (auto ec = append_message(out_, id, m, props, body, frame_max_)) return ec;
    sent_something(from);
    return {};
}

void connection_machine::close(std::uint16_t code, std::string_view text) {
    switch (state_) {
        case connection_state::idle:
        case connection_state::closing:
        case connection_state::closed:
            return;
        case connection_state::awaiting_start: {
            // Nothing negotiated yet: there is no one to say goodbye to.
            close_reason r;
            r.code = client_error::operation_aborted;
            finish(std::move(r), true);
            return;
        }
        default:
            break;
    }
    append_method(0, connection_close{code, shortstr(text), 0, 0});
    state_ = connection_state::closing;
}

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
        case connection_state::closed:
            return false;
    }
    fail(reply_code::command_invalid, "unexpected " + std::string(method_name(m)),
         method_class_id(m), method_method_id(m));
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
    connection_start_ok ok;
    ok.client_properties = table_view{scratch_};
    ok.mechanism = opts_.auth_mechanism;
    ok.response = response;
    ok.locale = "en_US";
    if (append_method(0, ok)) {
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

bool connection_machine::handle_channel_method(std::uint16_t id, channel_state& ch, const method& m,
                                               event& ev) {
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
            ev.kind = event_kind::channel_closed;
            ev.channel = id;
            ev.reason = broker_reason(c->reply_code, c->reply_text, c->class_id, c->method_id,
                                      client_error::channel_closed);
            return true;
        } else {
            return false;
        }
    }
    if (const auto* c = std::get_if<channel_close>(&m)) {
        append_method(id, channel_close_ok{});
        ev.kind = event_kind::channel_closed;
        ev.channel = id;
        ev.reason = broker_reason(c->reply_code, c->reply_text, c->class_id, c->method_id,
                                  client_error::channel_closed);
        channels_.erase(id);
        return true;
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
    if (const auto* a = std::get_if<basic_ack>(&m)) {
        ev.kind = event_kind::confirm;
        ev.channel = id;
        ev.ack = true;
        ev.delivery_tag = a->delivery_tag;
        ev.multiple = a->multiple;
        return true;
    }
    if (const auto* n = std::get_if<basic_nack>(&m)) {
        ev.kind = event_kind::confirm;
        ev.channel = id;
        ev.ack = false;
        ev.delivery_tag = n->delivery_tag;
        ev.multiple = n->multiple;
        return true;
    }

    // Anything else must answer our oldest outstanding synchronous request on this channel.
    const auto cls = method_class_id(m);
    const auto mid = method_method_id(m);
    if (ch.sync.empty() || !ch.front_sent) {
        fail(reply_code::command_invalid,
             "unexpected " + method_label(cls, mid) + " on channel " + std::to_string(id), cls, mid);
        return false;
    }
    const auto& front = ch.sync.front();
    const bool get_empty = front.reply_class == 60 && front.reply_method == 71 && cls == 60 && mid == 72;
    if ((front.reply_class != cls || front.reply_method != mid) && !get_empty) {
        fail(reply_code::command_invalid,
             "expected " + method_label(front.reply_class, front.reply_method) + " on channel " +
                 std::to_string(id) + ", got " + method_label(cls, mid),
             cls, mid);
        return false;
    }
    ch.sync.pop_front();
    ch.front_sent = false;
    ev.kind = event_kind::reply;
    ev.channel = id;
    ev.reply = m;
    if (is<channel_close_ok>(m)) {
        channels_.erase(id);
        return true;
    }
    if (is<channel_open_ok>(m) && ch.phase == channel_phase::opening) ch.phase = channel_phase::open;
    send_next_sync(id, ch);
    return true;
}

bool connection_machine::handle_header(std::uint16_t id, channel_state& ch, const frame_view& f, event& ev) {
    if (ch.stage != content_stage::header) {
        fail(reply_code::unexpected_frame,
             "content header on channel " + std::to_string(id) + " without a content method before it");
        return false;
    }
    content_header h;
    if (auto ec = decode_content_header(f.payload, h, diag_)) {
        fail(as_reply_code(ec), "malformed content header: " + diag_.to_string());
        return false;
    }
    if (h.class_index != ch.content_class || h.weight != 0) {
        fail(reply_code::unexpected_frame,
             "content header with class " + std::to_string(h.class_index) + " and weight " +
                 std::to_string(h.weight) + " after a method of class " + std::to_string(ch.content_class));
        return false;
    }
    ch.body_remaining = h.body_size;
    if (!ch.discard && h.body_size > opts_.max_message_size) {
        // Refuse before allocating anything for it: the channel goes (311), the connection stays,
        // and the body frames still on their way are skipped.
        close_channel_locally(id, ch, 311,
                              "message body of " + std::to_string(h.body_size) +
                                  " bytes exceeds max_message_size " + std::to_string(opts_.max_message_size),
                              client_error::message_too_large, 0, 0);
        ch.discard = true;
    }
    if (ch.discard) {
        ch.stage = h.body_size == 0 ? content_stage::none : content_stage::body;
        return false;
    }
    ch.header_payload.assign(f.payload.begin(), f.payload.end());
    // A huge body from an earlier message must not stay allocated forever.
    if (ch.body.capacity() > std::max<std::size_t>(4 * std::size_t{frame_max_}, 1u << 20))
        byte_buffer().swap(ch.body);
    ch.body.clear();
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
        fail(reply_code::frame_error, "body frames on channel " + std::to_string(id) +
                                          " carry more bytes than the content header declared");
        return false;
    }
    ch.body_remaining -= f.payload.size();
    if (!ch.discard) ch.body.insert(ch.body.end(), f.payload.begin(), f.payload.end());
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
    // Both decoded fine when they arrived; these copies are what the views will point into.
    if (decode_method(ch.method_payload, m, diag_) || decode_content_header(ch.header_payload, h, diag_)) {
        fail(reply_code::internal_error, "content could not be decoded again");
        return false;
    }
    ev.channel = id;
    ev.properties = h.properties;
    ev.body = ch.body;
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
        fail(reply_code::command_invalid, "unexpected " + std::string(method_name(m)) + " on channel " +
                                              std::to_string(id));
        return false;
    }
    ch.sync.pop_front();
    ch.front_sent = false;
    send_next_sync(id, ch);
    ev.kind = event_kind::reply;
    ev.reply = m;
    return true;
}

void connection_machine::send_next_sync(std::uint16_t id, channel_state& ch) {
    if (ch.sync.empty() || ch.front_sent) return;
    const auto& next = ch.sync.front();
    const std::size_t from = out_.size();
    out_.insert(out_.end(), next.frame.begin(), next.frame.end());
    ch.front_sent = true;
    if (next.reply_class == channel_close_ok::class_index && next.reply_method == channel_close_ok::method_index)
        ch.close_sent = true;
    sent_something(from);
    (void)id;
}

void connection_machine::close_channel_locally(std::uint16_t id, channel_state& ch, std::uint16_t code,
                                               std::string text, error_code ec, std::uint16_t class_id,
                                               std::uint16_t method_id) {
    append_method(id, channel_close{code, shortstr(text), class_id, method_id});
    ch.phase = channel_phase::closing;
    ch.close_sent = true;
    ch.silent_close = true;
    ch.sync.clear();
    ch.front_sent = false;
    event e;
    e.kind = event_kind::channel_closed;
    e.channel = id;
    e.reason.code = ec;
    e.reason.reply_code = code;
    e.reason.reply_text = std::move(text);
    e.reason.class_id = class_id;
    e.reason.method_id = method_id;
    queue_event(std::move(e));
}

// ---- faults --------------------------------------------------------------------------------------

void connection_machine::fail(reply_code code, std::string text, std::uint16_t class_id, std::uint16_t method_id) {
    if (state_ == connection_state::closed) return;
    if (state_ == connection_state::closing) {
        // A fault while waiting for close-ok: stop waiting.
        finish({}, true);
        return;
    }
    close_reason r;
    r.code = code;
    r.reply_code = static_cast<std::uint16_t>(code);
    r.reply_text = std::move(text);
    r.class_id = class_id;
    r.method_id = method_id;
    if (state_ == connection_state::awaiting_start || state_ == connection_state::idle) {
        finish(std::move(r), true);
        return;
    }
    append_method(0, connection_close{r.reply_code, shortstr(r.reply_text), class_id, method_id});
    state_ = connection_state::closing;
    closed_reported_ = true;
    channels_.clear();
    event e;
    e.kind = event_kind::closed;
    e.reason = std::move(r);
    queue_event(std::move(e));
}

void connection_machine::finish(close_reason reason, bool close_transport) {
    state_ = connection_state::closed;
    close_transport_ = close_transport_ || close_transport;
    channels_.clear();
    if (closed_reported_) return;
    closed_reported_ = true;
    event e;
    e.kind = event_kind::closed;
    e.reason = std::move(reason);
    queue_event(std::move(e));
}

void connection_machine::queue_event(event ev) { queued_.push_back(std::move(ev)); }

// ---- output --------------------------------------------------------------------------------------

error_code connection_machine::append_method(std::uint16_t channel, const method& m) {
    const std::size_t from = out_.size();
    if (auto ec = append_method_frame(out_, channel, m)) return ec;
    sent_something(from);
    return {};
}

void connection_machine::sent_something(std::size_t from) {
    last_send_ = now_;
    if (observer_) observe_output(from);
}

void connection_machine::observe_output(std::size_t from) {
    diagnostics d;
    bytes_view rest = bytes_view(out_).subspan(from);
    while (!rest.empty()) {
        auto r = decode_frame(rest, std::numeric_limits<std::uint32_t>::max(), d);
        if (r.status != decode_status::ok) break;
        observer_(direction::out, r.frame);
        rest = rest.subspan(r.consumed);
    }
}

}  // namespace amqp::protocol
