// The client's call path: start, requests, cancellation, close, and the core's actions carried
// out with the amqp API (see client_impl.hpp).

#include "client_impl.hpp"

#include <rpc/request_deadline.hpp>

#include <amqp/codec/field_table.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <charconv>
#include <random>
#include <stdexcept>

namespace rpc::detail {

namespace asio = boost::asio;

namespace {
// The nodes in the order they are tried, each set up for replies.
std::vector<amqp::connection_options> ordered_nodes(broker_nodes b) {
    if (b.nodes.empty()) throw std::invalid_argument("rpc_client: broker_nodes holds no node");
    std::vector<amqp::connection_options> out;
    for (const std::size_t i : node_order(b.nodes.size(), b.shuffle, std::random_device{}())) {
        out.push_back(std::move(b.nodes[i]));
        out.back().deliver_oversized = true;  // a reply above max_message_size fails its own call, not the channel
    }
    return out;
}

// {deadline_header: millis} as encode_table writes it (a shortstr name, 'l', a big-endian int64),
// without building a field_table for it on every request.
void append_deadline_entry(amqp::byte_buffer& out, std::int64_t millis) {
    static_assert(deadline_header.size() < 256);
    out.push_back(static_cast<std::uint8_t>(deadline_header.size()));
    out.insert(out.end(), deadline_header.begin(), deadline_header.end());
    out.push_back(static_cast<std::uint8_t>('l'));
    const auto v = static_cast<std::uint64_t>(millis);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

client_core_options core_options(const client_options& o, const std::vector<amqp::connection_options>& nodes) {
    client_core_options c;
    c.default_timeout = o.default_timeout;
    c.reconnect = o.reconnect;
    c.reconnect_min = o.reconnect_min;
    c.reconnect_max = o.reconnect_max;
    c.max_message_size = nodes.front().max_message_size;
    c.node_count = nodes.size();
    c.confirm_requests = o.confirm_requests;
    return c;
}
}  // namespace

client_impl::client_impl(asio::any_io_executor ex, broker_nodes nodes, client_options opts)
    : executor_(ex),
      strand_(asio::make_strand(ex)),
      timer_(strand_),
      nodes_(ordered_nodes(std::move(nodes))),
      opts_(std::move(opts)),
      core_(core_options(opts_, nodes_)),
      conn_(std::make_shared<amqp::connection>(strand_, nodes_.front())) {}

// True on a thread that runs the user's executor or our strand: a blocking call there could
// wait for itself. The common executor types are recognised; others are trusted.
bool client_impl::on_executor_thread() const {
    if (strand_.running_in_this_thread()) return true;
    if (auto* e = executor_.target<asio::io_context::executor_type>()) return e->running_in_this_thread();
    if (auto* e = executor_.target<asio::strand<asio::io_context::executor_type>>())
        return e->get_inner_executor().running_in_this_thread();
    if (auto* e = executor_.target<asio::thread_pool::executor_type>()) return e->running_in_this_thread();
    if (auto* e = executor_.target<asio::strand<asio::any_io_executor>>()) return e->running_in_this_thread();
    return false;
}

void client_impl::refuse_blocking_on_executor(const char* what) const {
    if (on_executor_thread())
        throw call_error(errc::would_deadlock, std::string(what) +
                                                   " called on a thread that runs the client's executor: it would wait "
                                                   "for itself; use the async_ form there");
}

client_stats client_impl::stats() const noexcept {
    std::array<std::uint64_t, stat_count> v{};
    for (std::size_t i = 0; i < stat_count; ++i) v[i] = stats_[i].load(std::memory_order_relaxed);
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]};
}

void client_impl::start(start_handler h) {
    if (core_.current_state() != client_core::state::not_started || starting_) {
        const bool ok = core_.current_state() == client_core::state::running;
        return complete(std::move(h), ok ? error_code{} : make_error_code(errc::not_started));
    }
    starting_ = true;
    start_on(0, {}, std::move(h));
}

// The nodes in order until one is set up; a failed attempt's connection is dropped (its late
// events ignored: see lost()).
void client_impl::start_on(std::size_t node, std::string failures, start_handler h) {
    if (node > 0) conn_ = std::make_shared<amqp::connection>(strand_, nodes_[node]);
    node_ = node;
    set_up(
        conn_, link{conn_.get(), 0, node},
        [self = shared_from_this(), node, failures = std::move(failures), h = std::move(h)](setup_result r) mutable {
            if (!r.ec && !self->core_.connection_up(0, clock::now(), node)) {
                r.ec = errc::connection_lost;
                r.why = self->core_.lost_reason();
            }
            if (r.ec) {
                if (!failures.empty()) failures += "; ";
                failures += self->nodes_.size() > 1 ? self->attempt_failure(node, r.why) : r.why;
                if (node + 1 < self->nodes_.size() && self->core_.current_state() == client_core::state::not_started) {
                    self->core_.start_attempt_failed();
                    if (self->conn_->is_open()) self->conn_->async_close([c = self->conn_](error_code) {});
                    return self->start_on(node + 1, std::move(failures), std::move(h));
                }
                r.why = std::move(failures);
            }
            self->starting_ = false;
            if (!r.ec) self->adopt(std::move(r.channel), std::move(r.reply_queue));
            self->start_failure_.store(std::make_shared<const std::string>(std::move(r.why)));
            self->run_actions();
            self->complete(std::move(h), r.ec);
        });
}

void client_impl::submit(const generated_id& id, request_message req, std::unique_ptr<request_context> ctx) {
    core_.submit(id, std::move(req), std::move(ctx), clock::now());
    run_actions();
}

// A request made from inside the strand (a completion handler that makes the next request,
// dispatched inline by run_actions): it enters the core at once, saving a post per request.
// Whatever completes meanwhile is posted, never run inside the initiating function.
bool client_impl::try_submit_inline(const generated_id& id, request_message& req,
                                    std::unique_ptr<request_context>& ctx) {
    if (!strand_.running_in_this_thread()) return false;
    const bool outer = initiating_;
    initiating_ = true;
    submit(id, std::move(req), std::move(ctx));
    initiating_ = outer;
    return true;
}

void client_impl::cancel(std::uint64_t key, asio::cancellation_type_t type) {
    core_.cancel(key, static_cast<unsigned>(type));
    run_actions();
}

void client_impl::close(std::optional<clock::time_point> deadline, start_handler h) {
    core_.close();
    timer_.cancel();
    run_actions();
    if (attempt_) attempt_->async_close([keep = attempt_](error_code) {});
    attempt_.reset();
    // Called even when the connection is no longer open: after a fault or the broker's close
    // it returns once our close 50x / close-ok has gone out and the socket is closed, so a
    // program that exits next does not cut that frame off.
    auto done = [conn = conn_, self = shared_from_this(), h = std::move(h)](error_code) mutable {
        self->complete(std::move(h), error_code{});
    };
    if (deadline) return conn_->async_close(*deadline, std::move(done));
    conn_->async_close(std::move(done));
}

// The handle is gone: fail what is pending; the connection's destructor then closes the
// socket without a handshake.
void client_impl::abandon() {
    core_.close();
    timer_.cancel();
    run_actions();
    attempt_.reset();
    conn_.reset();
}

// Carry out what the core asked for, in order. An action may feed the core again (a failed
// publish); what that adds is carried out in the next round.
void client_impl::run_actions() {
    if (running_actions_) return;
    running_actions_ = true;
    while (!core_.actions().empty()) {
        batch_.swap(core_.actions());
        // Completion handlers (the only code of the user's run here) see the counters as they are.
        if (std::any_of(batch_.begin(), batch_.end(),
                        [](const client_action& a) { return a.what == client_action::kind::complete; }))
            refresh_snapshot();
        for (auto& a : batch_) execute(a);
        batch_.clear();
    }
    refresh_snapshot();
    running_actions_ = false;
}

void client_impl::execute(client_action& a) {
    switch (a.what) {
        case client_action::kind::publish: return publish(a);
        case client_action::kind::complete: return finish(a);
        case client_action::kind::arm_timer:
            timer_.expires_at(a.at);  // cancels the wait for an older time
            return timer_.async_wait([weak = weak_from_this()](error_code ec) {
                if (ec) return;  // re-armed, closed or destroyed
                if (auto self = weak.lock()) {
                    self->core_.timer_fired(clock::now());
                    self->run_actions();
                }
            });
        case client_action::kind::reconnect: return reconnect(a.generation, a.node);
    }
}

void client_impl::publish(client_action& a) {
    amqp::basic_properties props;
    props.reply_to = reply_queue_name_;
    props.correlation_id = a.id.view();
    if (!a.request.content_type.empty()) props.content_type = a.request.content_type;
    char expiration[24];  // the broker drops what nobody took in time
    const auto ttl_end = std::to_chars(expiration, expiration + sizeof expiration, a.ttl.count()).ptr;
    props.expiration = std::string_view(expiration, static_cast<std::size_t>(ttl_end - expiration));
    if (opts_.persistent) props.delivery_mode = 2;  // written to disk by a durable queue
    // The call's own deadline for the server (rpc/request_deadline.hpp): `ttl` is what is left of
    // the timeout, so a re-send carries the deadline the first send did. First in the table, so
    // that it is the one a server reads even if the caller's headers name one too. Two tables'
    // entries, one after the other, are one table.
    headers_scratch_.clear();
    append_deadline_entry(headers_scratch_, epoch_millis(std::chrono::system_clock::now() + a.ttl));
    if (!a.request.headers.empty())
        if (const error_code ec = amqp::encode_table(a.request.headers, headers_scratch_))
            return core_.publish_failed(a.key, ec);
    props.headers = amqp::table_view{amqp::bytes_view(headers_scratch_.data(), headers_scratch_.size())};
    amqp::publish_options where;
    where.routing_key = opts_.queue;
    where.mandatory = true;
    if (!opts_.confirm_requests) {
        if (const error_code ec = ch_.publish(where, props, amqp::as_bytes(a.request.body)))
            core_.publish_failed(a.key, ec);
        return;
    }
    auto settled = [weak = weak_from_this(), key = a.key, generation = core_.generation()](error_code ec) {
        auto self = weak.lock();
        if (!self) return;
        if (!ec) {
            self->core_.publish_confirmed(key, generation);
        } else if (ec == amqp::client_error::publish_nacked) {
            self->core_.publish_nacked(key, generation, "basic.nack", clock::now());
        } else if (ec != amqp::client_error::publish_returned && ec != amqp::client_error::publish_unconfirmed) {
            // returned: on_return tells the call; unconfirmed: the loss does (connection_lost).
            self->core_.publish_failed(key, ec);
        }
        self->run_actions();
    };
    ch_.async_publish(where, props, amqp::as_bytes(a.request.body), asio::bind_executor(strand_, std::move(settled)));
}

void client_impl::finish(client_action& a) {
    auto& ctx = static_cast<request_context&>(*a.context);
    if (a.ec && ctx.diag) ctx.diag->message = std::move(a.message);
    auto h = std::move(ctx.handler);
    asio::get_associated_cancellation_slot(h).clear();
    // key 0: a request refused before it entered the table, still in its initiating function
    // when it came inline.
    if (initiating_ || a.key == 0) return asio::post(executor_, asio::append(std::move(h), a.ec, std::move(a.reply)));
    // What dispatch does for a handler on an io_context this thread runs, without its type-erased
    // executor (an allocation per call), work counting and wrappers.
    if (ctx.direct && ctx.direct->get_executor().running_in_this_thread())
        return std::move(h)(a.ec, std::move(a.reply));
    const auto ex = asio::get_associated_executor(h, executor_);
    asio::dispatch(ex, asio::append(std::move(h), a.ec, std::move(a.reply)));
}

void client_impl::complete(start_handler h, error_code ec) {
    const auto ex = asio::get_associated_executor(h, executor_);
    asio::dispatch(ex, asio::append(std::move(h), ec));
}

void client_impl::refresh_snapshot() noexcept {
    pending_.store(core_.pending_calls(), std::memory_order_relaxed);
    held_.store(core_.held_requests(), std::memory_order_relaxed);
    running_.store(core_.current_state() == client_core::state::running, std::memory_order_relaxed);
    blocked_.store(core_.is_blocked(), std::memory_order_relaxed);
    const client_stats& s = core_.stats();
    const std::uint64_t v[stat_count] = {s.calls,
                                         s.replies,
                                         s.timeouts,
                                         s.returned,
                                         s.late_replies,
                                         s.unknown_replies,
                                         s.replies_without_id,
                                         s.reconnects,
                                         s.reconnect_attempts,
                                         s.cancelled,
                                         s.resent,
                                         s.duplicate_replies};
    for (std::size_t i = 0; i < stat_count; ++i) stats_[i].store(v[i], std::memory_order_relaxed);
}

void client_impl::adopt(amqp::channel ch, std::string queue) {
    ch_ = std::move(ch);
    reply_queue_name_ = std::move(queue);
    reply_queue_.store(std::make_shared<const std::string>(reply_queue_name_));
}

}  // namespace rpc::detail
