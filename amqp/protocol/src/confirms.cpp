// Publisher confirms in the connection machine: the broker's basic.ack / basic.nack settle the
// numbers confirm_tracker hands out to publishes, and a channel's or connection's end reports the
// rest as lost, so a transport can complete every waiting publish exactly once.
#include "machine_helpers.hpp"

#include <amqp/protocol/connection_machine.hpp>

#include <string>

namespace amqp::protocol {

namespace {

event confirm_event(std::uint16_t channel, confirm_range r, bool ack, bool multiple, bool lost) {
    event e;
    e.kind = event_kind::confirm;
    e.channel = channel;
    e.ack = ack;
    e.multiple = multiple;
    e.confirm_lost = lost;
    e.confirm_first = r.first;
    e.delivery_tag = r.last;
    return e;
}

}  // namespace

bool connection_machine::is_confirm_mode(std::uint16_t id) const noexcept {
    const auto it = channels_.find(id);
    return it != channels_.end() && it->second.confirms.active();
}

std::uint64_t connection_machine::unconfirmed(std::uint16_t id) const noexcept {
    const auto it = channels_.find(id);
    return it == channels_.end() ? 0 : it->second.confirms.waiting();
}

bool connection_machine::on_confirm(std::uint16_t id, channel_state& ch, std::uint64_t tag, bool multiple, bool ack,
                                    event& ev) {
    const std::uint16_t method_id = ack ? basic_ack::method_index : basic_nack::method_index;
    const char* name = ack ? "basic.ack" : "basic.nack";
    confirm_range r;
    if (!ch.confirms.active()) {
        // Nothing to confirm: the broker and we disagree about the channel. RabbitMQ answers a
        // client's ack it cannot match with a channel-level 406; do the same.
        close_channel_locally(
            id, ch, 406, std::string(name) + " on channel " + std::to_string(id) + ", which is not in confirm mode",
            reply_code::precondition_failed, basic_ack::class_index, method_id);
        return false;
    }
    if (!ch.confirms.settle(tag, multiple, r)) {
        close_channel_locally(id, ch, 406,
                              std::string(name) + ": unknown delivery tag " + std::to_string(tag) +
                                  " (not a publish waiting for a confirm)",
                              reply_code::precondition_failed, basic_ack::class_index, method_id);
        return false;
    }
    ev = confirm_event(id, r, ack, multiple, false);
    return true;
}

void connection_machine::report_lost_confirms(std::uint16_t id, channel_state& ch) {
    confirm_range r;
    if (!ch.confirms.settle_all(r)) return;
    queue_event(confirm_event(id, r, false, true, true));
}

// The broker closed the channel: its waiting publishes are lost, then the channel is gone.
void connection_machine::report_broker_close(std::uint16_t id, channel_state& ch, const channel_close& c) {
    report_lost_confirms(id, ch);
    event e;
    e.kind = event_kind::channel_closed;
    e.channel = id;
    e.reason = detail::broker_reason(c.reply_code, c.reply_text, c.class_id, c.method_id, client_error::channel_closed);
    queue_event(std::move(e));
}

void connection_machine::report_all_lost_confirms() {
    for (auto& [id, ch] : channels_) report_lost_confirms(id, ch);
}

}  // namespace amqp::protocol
