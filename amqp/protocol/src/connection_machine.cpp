// The connection machine: driving (feed, events, time), commands, faults and output. Frame
// handling is in connection_input.cpp, content assembly in content_assembly.cpp.
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

connection_machine::connection_machine(protocol_options opts) : opts_(std::move(opts)), decoder_(frame_min_size) {}

// ---- driving -----------------------------------------------------------------------------------

void connection_machine::start(time_point now) {
    if (state_ != connection_state::idle) return;
    now_ = last_recv_ = last_send_ = now;
    out_.insert(out_.end(), protocol_header.begin(), protocol_header.end());
    state_ = connection_state::awaiting_start;
}

// The time, and the peer's liveness for heartbeats: true when `n` octets of input are to be
// processed (none once closed or before open, and an empty read is no sign of life).
bool connection_machine::accept_input(std::size_t n, time_point now) {
    now_ = now;
    if (state_ == connection_state::closed || state_ == connection_state::idle || n == 0) return false;
    last_recv_ = now;
    return true;
}

void connection_machine::feed(bytes_view bytes, time_point now) {
    if (!accept_input(bytes.size(), now)) return;
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
                           std::to_string(v[1]) + "." + std::to_string(v[2]) + "." + std::to_string(v[3]) +
                           " (we speak AMQP 0-9-1)";
            finish(std::move(r), true);
            return;
        }
        decoder_.feed(preamble_);
    }
    if (!bytes.empty()) decoder_.feed(bytes);
}

std::span<std::uint8_t> connection_machine::read_space(std::size_t n) {
    // In place once frames flow; the preamble check, a closed machine and a failed decoder (which
    // drops input) keep feed()'s path.
    read_staged_ = !preamble_done_ || state_ == connection_state::closed || state_ == connection_state::idle ||
                   decoder_.error();
    if (!read_staged_) return decoder_.prepare_read(n);
    // Small: the handshake's first reads, or input about to be dropped.
    read_stage_.resize(std::min<std::size_t>(n, 4096));
    return {read_stage_.data(), read_stage_.size()};
}

void connection_machine::commit_read(std::size_t n, time_point now) {
    if (read_staged_) {
        feed(bytes_view(read_stage_.data(), std::min(n, read_stage_.size())), now);
        return;
    }
    if (accept_input(n, now)) decoder_.commit(n);
}

bool connection_machine::next_event(event& ev) {
    ev.kind = event_kind::none;
    ev.channel = 0;
    ev.body = {};
    ev.text = {};
    ev.body_refused = false;
    ev.body_size = 0;
    ev.fault = {};
    if (queued_.empty() && state_ != connection_state::closed && state_ != connection_state::idle && preamble_done_) {
        while (state_ != connection_state::closed) {
            if (take_delivery(ev)) return true;
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
            r.reply_text =
                "the broker closed the connection after connection.start-ok "
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
        r.reply_text = "nothing received from the broker for " + std::to_string(2 * heartbeat_) + " s (heartbeat " +
                       std::to_string(heartbeat_) + " s)";
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
    p.starts_confirms = is<confirm_select>(m);
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
    if (is<confirm_select>(m)) it->second.confirms.start();
    sent_something(from);
    return {};
}

error_code connection_machine::publish(std::uint16_t id, const basic_publish& m, const basic_properties& props,
                                       bytes_view body) {
    std::uint64_t seq = 0;
    return publish(id, m, props, body, seq);
}

error_code connection_machine::publish(std::uint16_t id, const basic_publish& m, const basic_properties& props,
                                       bytes_view body, std::uint64_t& seq) {
    seq = 0;
    if (!is_channel_open(id)) return client_error::not_open;
    if (body.size() > opts_.max_message_size) return client_error::message_too_large;
    const std::size_t from = out_.size();
    if (auto ec = append_message(out_, id, m, props, body, frame_max_)) return ec;
    seq = channels_.find(id)->second.confirms.on_publish();
    sent_something(from);
    return {};
}

void connection_machine::close(std::uint16_t code, std::string_view text) {
    switch (state_) {
        case connection_state::idle:
        case connection_state::closing:
        case connection_state::closed: return;
        case connection_state::awaiting_start: {
            // Nothing negotiated yet: there is no one to say goodbye to.
            close_reason r;
            r.code = client_error::operation_aborted;
            finish(std::move(r), true);
            return;
        }
        default: break;
    }
    append_method(0, connection_close{code, shortstr(text), 0, 0});
    state_ = connection_state::closing;
}

void connection_machine::send_next_sync(std::uint16_t id, channel_state& ch) {
    if (ch.sync.empty() || ch.front_sent) return;
    const auto& next = ch.sync.front();
    const std::size_t from = out_.size();
    out_.insert(out_.end(), next.frame.begin(), next.frame.end());
    ch.front_sent = true;
    if (next.starts_confirms) ch.confirms.start();
    if (next.reply_class == channel_close_ok::class_index && next.reply_method == channel_close_ok::method_index)
        ch.close_sent = true;
    sent_something(from);
    (void)id;
}

void connection_machine::close_channel_locally(std::uint16_t id, channel_state& ch, std::uint16_t code,
                                               std::string text, error_code ec, std::uint16_t class_id,
                                               std::uint16_t method_id) {
    append_method(id, channel_close{code, shortstr(text), class_id, method_id});
    report_lost_confirms(id, ch);
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
        r.reply_code = 0;  // nothing sent: before start-ok there is nobody to tell
        finish(std::move(r), true);
        return;
    }
    append_method(0, connection_close{r.reply_code, shortstr(r.reply_text), class_id, method_id});
    state_ = connection_state::closing;
    closed_reported_ = true;
    report_all_lost_confirms();
    channels_.clear();
    event e;
    e.kind = event_kind::closed;
    e.reason = std::move(r);
    queue_event(std::move(e));
}

void connection_machine::finish(close_reason reason, bool close_transport) {
    state_ = connection_state::closed;
    close_transport_ = close_transport_ || close_transport;
    if (!closed_reported_) report_all_lost_confirms();
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
