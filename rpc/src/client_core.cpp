#include <rpc/client_core.hpp>

#include <rpc/client_error_reply.hpp>

#include <amqp/codec/printable.hpp>

#include <algorithm>
#include <cerrno>

namespace rpc {

// Deadlines come from a clock that never goes back, so appending keeps each list sorted, the
// earliest deadline of all is at the front of one of the lists, and a call leaves its list in O(1)
// wherever it is: one timer for every call instead of one per call.
void client_core::deadline_list::push_back(call& c) noexcept {
    c.earlier = last;
    c.later = nullptr;
    (last ? last->later : first) = &c;
    last = &c;
}

void client_core::deadline_list::remove(call& c) noexcept {
    (c.earlier ? c.earlier->later : first) = c.later;
    (c.later ? c.later->earlier : last) = c.earlier;
    c.earlier = c.later = nullptr;
}

namespace {
constexpr std::size_t max_remembered_abandoned = 4096;

// asio::error::operation_aborted on POSIX, without including Asio in the core.
error_code operation_aborted() noexcept { return {ECANCELED, boost::system::system_category()}; }
}  // namespace

client_core::client_core(client_core_options opts) : opts_(std::move(opts)) {}

client_core::client_core(client_core_options opts, std::uint64_t counter_seed, std::uint64_t client_part)
    : opts_(std::move(opts)), ids_(counter_seed, client_part) {}

void client_core::submit(const generated_id& id, request_message req, std::unique_ptr<call_context> ctx,
                         clock::time_point now) {
    if (req.body.size() > opts_.max_message_size) {
        return fail_now(std::move(ctx), errc::message_too_large,
                        "request body of " + std::to_string(req.body.size()) +
                            " bytes is too large: max_message_size is " + std::to_string(opts_.max_message_size) +
                            " (the client's limit); not sent");
    }
    const bool publish_now = state_ == state::running && !blocked_;
    if (!publish_now && state_ != state::running && !can_reconnect()) {
        if (stop_reason_.empty()) return fail_now(std::move(ctx), errc::not_started, "RPC client not started");
        return fail_now(std::move(ctx), stop_code_, stop_reason_);
    }
    const auto timeout = req.timeout.count() > 0 ? req.timeout : opts_.default_timeout;
    auto [it, inserted] = calls_.try_emplace(id.key);
    if (!inserted)
        return fail_now(std::move(ctx), errc::bad_reply, "duplicate correlation id");  // a foreign generator's id
    call& c = it->second;
    c.id = id;
    c.context = std::move(ctx);
    c.seq = next_seq_++;
    c.idempotent = req.idempotent;
    if (c.idempotent) c.copy = req;
    c.request = std::move(req);
    c.timeout = timeout;
    c.deadline = now + timeout;
    deadlines_[timeout].push_back(c);
    if (publish_now) {
        publish(c, timeout);
    } else {
        c.held = true;
        c.saw_block = blocked_;
        held_.push_back(id.key);
        if (state_ != state::running && !reconnecting_) start_reconnect_when_due(now);
    }
    rearm(false);
}

void client_core::publish(call& c, std::chrono::milliseconds ttl) {
    c.held = false;
    c.confirmed = false;
    c.generation = generation_;
    ++stats_.calls;
    client_action& a = actions_.emplace_back(client_action::kind::publish);
    a.key = c.id.key;
    a.id = c.id;
    a.request = std::move(c.request);
    a.ttl = ttl;
}

void client_core::flush_held(clock::time_point now) {
    if (state_ != state::running || blocked_) return;
    for (const auto key : held_) {
        auto it = calls_.find(key);
        if (it == calls_.end()) continue;
        // The broker drops a request nobody took within the caller's patience: what is left of it.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now);
        publish(it->second, std::max(left, std::chrono::milliseconds(1)));
    }
    held_.clear();
}

void client_core::reply_received(const incoming_reply& r) {
    if (!r.correlation_id) {
        ++stats_.replies_without_id;
        return;
    }
    const auto key = ids_.key_of(*r.correlation_id);
    auto it = key ? calls_.find(*key) : calls_.end();
    if (it == calls_.end()) {
        if (key && resent_done_.count(*key)) ++stats_.duplicate_replies;
        else ++(key && abandoned_.count(*key) ? stats_.late_replies : stats_.unknown_replies);
        return;
    }
    ++stats_.replies;
    if (r.body_refused) {
        // Only this call fails; the consumer and the other calls go on.
        return complete(it, errc::message_too_large,
                        "reply body of " + std::to_string(r.body_size) + " bytes is too large: max_message_size is " +
                            std::to_string(opts_.max_message_size) + " (the client's limit); refused unread");
    }
    if (!r.fault.empty()) return complete(it, errc::bad_reply, "reply refused unread: " + std::string(r.fault));
    const std::string_view content_type = r.content_type.value_or(std::string_view{});
    if (auto error = error_reply_text(r.body, content_type))
        return complete(it, errc::remote_error, printable_reason(*error));
    // Built in its action, where the caller's handler takes it from.
    reply_message& m = complete_action(it, {}, {}).reply;
    m.body.assign(r.body);
    m.content_type.assign(content_type);
    if (r.headers) m.headers = *r.headers;
}

void client_core::returned(std::optional<std::string_view> correlation_id, std::uint16_t reply_code,
                           std::string_view reply_text, std::string_view routing_key) {
    if (!correlation_id) return;
    const auto key = ids_.key_of(*correlation_id);
    auto it = key ? calls_.find(*key) : calls_.end();
    if (it == calls_.end()) return;
    ++stats_.returned;
    complete(it, errc::no_route,
             "request returned by the broker: " + std::to_string(reply_code) + " " + printable_reason(reply_text) +
                 " (no queue bound to routing key " + amqp::printable(routing_key) + ")");
}

void client_core::publish_failed(std::uint64_t key, const error_code& ec) {
    auto it = calls_.find(key);
    if (it != calls_.end()) complete(it, errc::connection_lost, "could not publish the request: " + ec.message());
}

void client_core::publish_confirmed(std::uint64_t key, std::uint64_t generation) {
    auto it = calls_.find(key);
    if (it != calls_.end() && !it->second.held && it->second.generation == generation) it->second.confirmed = true;
}

void client_core::publish_nacked(std::uint64_t key, std::uint64_t generation, std::string_view why,
                                 clock::time_point now) {
    auto it = calls_.find(key);
    if (it == calls_.end() || it->second.held || it->second.generation != generation) return;
    call& c = it->second;
    const std::string reason = "the broker nacked it: " + printable_reason(why);
    if (!c.idempotent)
        return complete(
            it, errc::not_confirmed,
            "the request may not have reached the queue (" + reason + "); not re-sent: the call is not idempotent");
    if (c.resends >= opts_.max_resends)
        return complete(it, errc::not_confirmed,
                        "the request may not have reached the queue (" + reason + "); not re-sent again after " +
                            std::to_string(c.resends) + " re-sends");
    hold_for_resend(c);
    // Not at once: a broker nacks while it cannot take the message (a quorum queue electing its
    // leader), so the re-send waits reconnect_min, doubling with each re-send of this call.
    const auto wait = std::min<clock::duration>(opts_.reconnect_min * (1u << std::min(c.resends - 1, 16u)),
                                                opts_.reconnect_max);
    resend_at_ = std::min(resend_at_, now + wait);
    rearm(false);
}

void client_core::timer_fired(clock::time_point now) {
    timer_at_ = clock::time_point::max();
    for (auto& [timeout, list] : deadlines_)
        while (list.first != nullptr && list.first->deadline <= now) {
            auto it = calls_.find(list.first->id.key);
            ++stats_.timeouts;
            std::string why = timeout_reason(it->second);
            complete(it, errc::timeout, std::move(why));
        }
    if (attempt_waiting_ && now >= next_attempt_at_) {
        attempt_waiting_ = false;
        push_reconnect();
    }
    if (now >= resend_at_) {
        resend_at_ = clock::time_point::max();
        flush_held(now);
    }
    rearm(true);
}

// Why `c` timed out. It is remembered (a bounded number of them) to tell its late reply from a
// stranger's.
std::string client_core::timeout_reason(const call& c) {
    std::string why = timeout_message(c.timeout);
    forget(c.id.key);
    if (c.held) {
        why += blocked_ || c.saw_block
                   ? "; the request was never sent: the broker blocked the connection (" + blocked_reason_ + ")"
                   : "; the request was never sent: waiting for the reconnection";
    } else if (c.saw_block) {
        why += "; the broker blocked the connection meanwhile (" + blocked_reason_ + ")";
    }
    return why;
}

void client_core::forget(std::uint64_t key) { remember(abandoned_, abandoned_order_, key); }

bool client_core::connection_up(std::uint64_t generation, clock::time_point now, std::size_t node) {
    const std::size_t nodes = std::max<std::size_t>(opts_.node_count, 1);
    if (generation == 0) {
        // start(): the connection may have failed between its set-up and this event.
        if (state_ != state::not_started || !stop_reason_.empty()) return false;
        state_ = state::running;
        started_ = true;
        node_ = node % nodes;
        next_node_ = (node_ + 1) % nodes;
        return true;
    }
    reconnecting_ = false;
    if (state_ == state::closed) return false;
    node_ = node % nodes;
    next_node_ = (node_ + 1) % nodes;  // the node after the one that dies next
    failed_in_a_row_ = 0;
    retry_delay_ = std::chrono::milliseconds(0);
    next_attempt_at_ = clock::time_point::min();
    generation_ = generation;
    stop_reason_.clear();
    stop_code_ = errc::not_started;
    blocked_ = false;
    state_ = state::running;
    ++stats_.reconnects;
    flush_held(now);
    return true;
}

void client_core::start_attempt_failed() {
    if (started_ || state_ == state::closed) return;
    state_ = state::not_started;
    stop_reason_.clear();
    stop_code_ = errc::not_started;
}

void client_core::reconnect_failed(std::uint64_t /*generation*/, const std::string& why, clock::time_point now) {
    reconnecting_ = false;
    retry_delay_ = retry_delay_.count() == 0 ? opts_.reconnect_min : std::min(2 * retry_delay_, opts_.reconnect_max);
    next_attempt_at_ = now + retry_delay_;
    const std::size_t nodes = std::max<std::size_t>(opts_.node_count, 1);
    next_node_ = (next_node_ + 1) % nodes;
    // Another node not tried in this round: the held calls wait for it (each bounded by its
    // own timeout), after the backoff.
    if (++failed_in_a_row_ < nodes && !held_.empty() && state_ == state::lost) {
        start_reconnect_when_due(now);
        return rearm(false);
    }
    failed_in_a_row_ = 0;
    // Every node failed: the held calls fail; the next call tries again, not before the backoff.
    while (!held_.empty()) {
        auto it = calls_.find(held_.front());
        if (it == calls_.end()) {
            held_.pop_front();
            continue;
        }
        complete(it, errc::connection_lost, "connection lost; reconnecting failed: " + why);
    }
}

void client_core::connection_lost(std::uint64_t generation, errc code, const std::string& why, clock::time_point now) {
    // A connection's channel and the connection itself both report its end: the first counts.
    // Calls made since wait for a reconnection and must not fail by the second.
    if (generation != generation_ || !stop_reason_.empty()) return;
    const bool failover = opts_.reconnect && code == errc::connection_lost && state_ == state::running;
    fail_all(code, why, failover);
    // Idempotent calls kept for a re-send: the reconnection starts now, not with the next call.
    if (!held_.empty() && can_reconnect() && !reconnecting_) start_reconnect_when_due(now);
    rearm(false);
}

void client_core::blocked(std::uint64_t generation, bool is_blocked, std::string_view reason, clock::time_point now) {
    if (generation != generation_) return;
    blocked_ = is_blocked;
    if (!is_blocked) return flush_held(now);
    blocked_reason_ = amqp::printable(reason);  // the broker's words, shown in timeout texts
    for (auto& [key, c] : calls_) c.saw_block = true;
}

void client_core::cancel(std::uint64_t key, unsigned kinds) {
    auto it = calls_.find(key);
    if (it == calls_.end()) return;
    // A request on the wire cannot be taken back: "total" (nothing happened) is out of reach.
    const unsigned accepted = it->second.held ? (cancel_kind::terminal | cancel_kind::partial | cancel_kind::total)
                                              : (cancel_kind::terminal | cancel_kind::partial);
    if ((kinds & accepted) == 0) return;
    if (!it->second.held) forget(key);
    ++stats_.cancelled;
    complete(it, operation_aborted(), "RPC call cancelled");
}

void client_core::close() {
    fail_all(errc::connection_lost, "RPC client closed");
    state_ = state::closed;
    attempt_waiting_ = false;
    reconnecting_ = false;
}

void client_core::fail_all(errc code, const std::string& why, bool keep_idempotent) {
    if (stop_reason_.empty()) {
        stop_reason_ = why;
        // Only a lost connection is worth reconnecting; keep that as the stop code.
        stop_code_ = code == errc::message_too_large ? errc::connection_lost : code;
    }
    if (state_ != state::closed) state_ = state::lost;
    if (!keep_idempotent) {
        for (auto& [key, c] : calls_) {
            client_action& a = actions_.emplace_back(client_action::kind::complete);
            a.key = key;
            a.context = std::move(c.context);
            a.ec = code;
            a.message = why;
        }
        calls_.clear();
        deadlines_.clear();
        held_.clear();
        return;
    }
    // Failover: an idempotent call is published again after the reconnection (its reply queue,
    // or its request, may have died with the node); any other ends now.
    std::vector<std::uint64_t> ending, resending;
    for (auto& [key, c] : calls_) (!c.idempotent || c.resends >= opts_.max_resends ? ending : resending).push_back(key);
    // In the order they were made in.
    std::sort(resending.begin(), resending.end(),
              [this](std::uint64_t a, std::uint64_t b) { return calls_.at(a).seq < calls_.at(b).seq; });
    for (const auto key : resending)
        if (call& c = calls_.at(key); !c.held) hold_for_resend(c);
    for (const auto key : ending) {
        auto it = calls_.find(key);
        const call& c = it->second;
        if (opts_.confirm_requests && !c.held && !c.confirmed)
            complete(
                it, errc::not_confirmed,
                "the request may not have reached the queue (" + why + "); not re-sent: the call is not idempotent");
        else complete(it, code, why);
    }
}

void client_core::hold_for_resend(call& c) {
    c.request = c.copy;
    c.held = true;
    c.confirmed = false;
    ++c.resends;
    ++stats_.resent;
    held_.push_back(c.id.key);
}

void client_core::remember(std::unordered_set<std::uint64_t>& set, std::deque<std::uint64_t>& order,
                           std::uint64_t key) {
    set.insert(key);
    order.push_back(key);
    if (order.size() > max_remembered_abandoned) {
        set.erase(order.front());
        order.pop_front();
    }
}

void client_core::remove_held(std::uint64_t key) {
    if (auto h = std::find(held_.begin(), held_.end(), key); h != held_.end()) held_.erase(h);
}

void client_core::complete(call_table::iterator it, error_code ec, std::string why) {
    complete_action(it, ec, std::move(why));
}

client_action& client_core::complete_action(call_table::iterator it, error_code ec, std::string why) {
    call& c = it->second;
    if (auto d = deadlines_.find(c.timeout); d != deadlines_.end()) d->second.remove(c);
    if (c.held) remove_held(it->first);
    if (c.resends > 0) remember(resent_done_, resent_done_order_, it->first);
    client_action& a = actions_.emplace_back(client_action::kind::complete);
    a.key = it->first;
    a.context = std::move(c.context);
    a.ec = ec;
    a.message = std::move(why);
    calls_.erase(it);
    return a;
}

void client_core::fail_now(std::unique_ptr<call_context> ctx, error_code ec, std::string why) {
    client_action& a = actions_.emplace_back(client_action::kind::complete);
    a.context = std::move(ctx);
    a.ec = ec;
    a.message = std::move(why);
}

bool client_core::can_reconnect() const noexcept {
    return opts_.reconnect && state_ == state::lost && !stop_reason_.empty() && stop_code_ != errc::not_started;
}

// The next attempt at once, or when the backoff after a failed one has passed (the core's one
// timer), so that a caller never waits for it.
void client_core::start_reconnect_when_due(clock::time_point now) {
    reconnecting_ = true;
    if (now >= next_attempt_at_) {
        push_reconnect();
    } else {
        attempt_waiting_ = true;
    }
}

void client_core::push_reconnect() {
    ++stats_.reconnect_attempts;
    client_action& a = actions_.emplace_back(client_action::kind::reconnect);
    a.generation = generation_ + 1;
    a.node = next_node_;
}

// Arm the timer for the earliest deadline (or due attempt) when it is earlier than the arming in
// force. An arming for a deadline that went away meanwhile fires harmlessly and re-arms.
void client_core::rearm(bool after_fire) {
    if (after_fire) std::erase_if(deadlines_, [](const auto& kv) { return kv.second.empty(); });
    auto at = std::min(attempt_waiting_ ? next_attempt_at_ : clock::time_point::max(), resend_at_);
    for (const auto& [timeout, list] : deadlines_)
        if (!list.empty()) at = std::min(at, list.first->deadline);
    if (at >= timer_at_) return;
    timer_at_ = at;
    client_action& a = actions_.emplace_back(client_action::kind::arm_timer);
    a.at = at;
}

}  // namespace rpc
