// The machine's events, handed to whoever waits for them: the open and close callers, the
// channels' pending requests, consumers, and the user's long-lived handlers. Strand only; the
// user's handlers run here and may issue commands (pump() does not re-enter).
#include "connection_impl.hpp"

namespace amqp::detail {

std::shared_ptr<channel_impl> connection_impl::find_channel(std::uint16_t id) const {
    const auto it = channels_.find(id);
    return it == channels_.end() ? nullptr : it->second;
}

void connection_impl::handle(protocol::event& ev) {
    switch (ev.kind) {
        case protocol::event_kind::none:
        case protocol::event_kind::flow: break;
        case protocol::event_kind::confirm: on_confirm(ev); break;
        case protocol::event_kind::opened: on_opened(); break;
        case protocol::event_kind::reply: on_reply(ev); break;
        case protocol::event_kind::delivery: {
            const auto ch = find_channel(ev.channel);
            if (!ch) break;
            const auto c = ch->consumers.find(ev.deliver.consumer_tag);
            if (c == ch->consumers.end() || !c->second) break;
            c->second(delivered_message{ev.channel, ev.deliver, ev.properties, ev.body, ev.body_refused, ev.body_size,
                                        ev.fault});
            break;
        }
        case protocol::event_kind::returned: on_returned(ev); break;
        case protocol::event_kind::consumer_cancelled: {
            const auto ch = find_channel(ev.channel);
            if (!ch) break;
            if (const auto c = ch->consumers.find(ev.text); c != ch->consumers.end()) ch->consumers.erase(c);
            if (auto h = ch->on_cancelled) h(ev.text);
            break;
        }
        case protocol::event_kind::blocked:
        case protocol::event_kind::unblocked: {
            const bool b = ev.kind == protocol::event_kind::blocked;
            blocked_ = b;
            if (auto h = on_blocked_) h(b, ev.text);
            break;
        }
        case protocol::event_kind::channel_closed: on_channel_closed(ev); break;
        case protocol::event_kind::closed: on_closed(ev); break;
    }
}

void connection_impl::on_opened() {
    frame_max_ = machine_.frame_max();
    heartbeat_ = machine_.heartbeat();
    channel_max_ = machine_.channel_max();
    {
        std::lock_guard lk(snapshot_mu_);
        const auto props = machine_.server_properties();
        server_props_.assign(props.raw.begin(), props.raw.end());
    }
    status_ = status::open;
    open_by_.reset();
    if (open_handler_) {
        auto h = std::move(*open_handler_);
        open_handler_.reset();
        complete(std::move(h), error_code{});
    }
}

void connection_impl::on_returned(const protocol::event& ev) {
    const auto ch = find_channel(ev.channel);
    if (!ch) return;
    // Before its ack (which settles it as returned), and before on_return sees it.
    ch->confirms.on_returned(ev.returned, ev.body, !ev.body_refused && ev.fault.empty());
    if (!ch->on_return) return;
    auto h = ch->on_return;  // a copy: the handler may replace itself
    h(returned_message{ev.channel, ev.returned, ev.properties, ev.body, ev.body_refused, ev.body_size, ev.fault});
}

void connection_impl::on_confirm(const protocol::event& ev) {
    const auto ch = find_channel(ev.channel);
    if (!ch) return;
    const error_code ec = ev.ack            ? error_code{}
                          : ev.confirm_lost ? make_error_code(client_error::publish_unconfirmed)
                                            : make_error_code(client_error::publish_nacked);
    ch->confirms.settle(ev.confirm_first, ev.delivery_tag, ec, ex_);
}

void connection_impl::on_reply(protocol::event& ev) {
    const auto it = channels_.find(ev.channel);
    if (it == channels_.end()) return;
    const auto ch = it->second;
    // The machine forgot the channel with close-ok; its id may be reused at once.
    if (std::holds_alternative<channel_close_ok>(ev.reply)) {
        ch->open = false;
        channels_.erase(it);
        ch->confirms.fail_all(make_error_code(client_error::publish_unconfirmed), ex_);
    }
    if (ch->ops.empty()) return;
    auto op = std::move(ch->ops.front());
    ch->ops.pop_front();
    std::move(op)(error_code{}, &ev.reply);
}

void connection_impl::on_channel_closed(const protocol::event& ev) {
    const auto it = channels_.find(ev.channel);
    if (it == channels_.end()) return;
    const auto ch = it->second;
    channels_.erase(it);
    ch->open = false;
    ch->set_last_reason(ev.reason);
    auto ops = std::move(ch->ops);
    ch->ops.clear();
    for (auto& op : ops) std::move(op)(ev.reason.code, nullptr);
    ch->consumers.clear();
    ch->confirms.fail_all(make_error_code(client_error::publish_unconfirmed), ex_);
    if (auto h = ch->on_close) h(ev.reason);
}

void connection_impl::on_closed(const protocol::event& ev) {
    const bool was_open = status_ == status::open;
    status_ = status::closed;
    open_by_.reset();
    {
        std::lock_guard lk(snapshot_mu_);
        last_reason_ = ev.reason;
    }
    const error_code reason_ec = ev.reason.code ? ev.reason.code : make_error_code(client_error::operation_aborted);
    // After the user's own close, what was pending was abandoned by the user, not failed.
    const error_code op_ec = user_closed_ ? make_error_code(client_error::operation_aborted) : reason_ec;
    if (open_handler_) {
        auto h = std::move(*open_handler_);
        open_handler_.reset();
        complete(std::move(h), reason_ec);
    }
    auto channels = std::move(channels_);
    channels_.clear();
    for (auto& [id, ch] : channels) {
        ch->open = false;
        ch->set_last_reason(ev.reason);
    }
    for (auto& [id, ch] : channels) {
        auto ops = std::move(ch->ops);
        ch->ops.clear();
        for (auto& op : ops) std::move(op)(op_ec, nullptr);
        ch->consumers.clear();
        ch->confirms.fail_all(make_error_code(client_error::publish_unconfirmed), ex_);
    }
    if (!user_closed_ && was_open) {
        for (auto& [id, ch] : channels)
            if (auto h = ch->on_close) h(ev.reason);
        if (auto h = on_close_) h(ev.reason);
    }
    auto closers = std::move(close_handlers_);
    close_handlers_.clear();
    for (auto& h : closers) complete(std::move(h), error_code{});
}

}  // namespace amqp::detail
