// The client's Asio shell: it feeds the core (client_core.hpp) the connection's events and the
// time, and carries out the core's actions with the amqp API and one timer. Everything runs on
// one strand: the client's connections are created on it, so the connection's own strand (and
// with it every delivery, return and close notification) runs inside it too. No mutex: other
// threads reach the core by posting to the strand, and read its counters from atomics the strand
// refreshes before it carries out each batch of actions.

#include <rpc/rpc_client.hpp>

#include <rpc/client_core.hpp>

#include <amqp/connection.hpp>
#include <amqp/codec/printable.hpp>
#include "client_setup.hpp"
#include <amqp/codec/field_table.hpp>

#include <array>
#include <atomic>
#include <future>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

namespace rpc {
namespace detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {
// A channel is also closed when its connection ends; only a channel-level reply code (a broker's
// channel.close, or a channel fault we found) ends the channel alone.
bool closes_only_the_channel(const amqp::close_reason& r) {
    if (r.code == amqp::client_error::channel_closed) return true;
    return !r.from_broker && r.reply_code != 0 && !amqp::is_connection_error(r.reply_code);
}

// What the core keeps for a request: its handler and where its text goes.
struct request_context final : call_context {
    request_context(request_handler h, diagnostics* d) : handler(std::move(h)), diag(d) {}
    request_handler handler;
    diagnostics* diag;
};

amqp::connection_options with_reply_limits(amqp::connection_options o) {
    o.deliver_oversized = true;  // a reply above max_message_size fails its own call, not the channel
    return o;
}

client_core_options core_options(const client_options& o, const amqp::connection_options& conn) {
    client_core_options c;
    c.default_timeout = o.default_timeout;
    c.reconnect = o.reconnect;
    c.reconnect_min = o.reconnect_min;
    c.reconnect_max = o.reconnect_max;
    c.max_message_size = conn.max_message_size;
    return c;
}
}  // namespace

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    client_impl(asio::any_io_executor ex, amqp::connection_options conn, client_options opts)
        : executor_(ex),
          strand_(asio::make_strand(ex)),
          timer_(strand_),
          conn_options_(with_reply_limits(std::move(conn))),
          opts_(std::move(opts)),
          core_(core_options(opts_, conn_options_)),
          conn_(std::make_shared<amqp::connection>(strand_, conn_options_)) {}

    asio::any_io_executor executor() const noexcept { return executor_; }
    correlation_id_generator& ids() noexcept { return core_.ids(); }  // thread-safe
    std::chrono::milliseconds default_timeout() const noexcept { return opts_.default_timeout; }

    template <class F>
    void on_strand(F&& f) {
        asio::post(strand_, std::forward<F>(f));
    }

    // True on a thread that runs the user's executor or our strand: a blocking call there could
    // wait for itself. The common executor types are recognised; others are trusted.
    bool on_executor_thread() const {
        if (strand_.running_in_this_thread()) return true;
        if (auto* e = executor_.target<asio::io_context::executor_type>()) return e->running_in_this_thread();
        if (auto* e = executor_.target<asio::strand<asio::io_context::executor_type>>())
            return e->get_inner_executor().running_in_this_thread();
        if (auto* e = executor_.target<asio::thread_pool::executor_type>()) return e->running_in_this_thread();
        if (auto* e = executor_.target<asio::strand<asio::any_io_executor>>()) return e->running_in_this_thread();
        return false;
    }
    void refuse_blocking_on_executor(const char* what) const {
        if (on_executor_thread())
            throw call_error(errc::would_deadlock,
                             std::string(what) +
                                 " called on a thread that runs the client's executor: it would wait "
                                 "for itself; use the async_ form there");
    }

    // ---- on the strand ----------------------------------------------------------------------
    void start(start_handler h) {
        if (core_.current_state() != client_core::state::not_started || starting_) {
            const bool ok = core_.current_state() == client_core::state::running;
            return complete(std::move(h), ok ? error_code{} : make_error_code(errc::not_started));
        }
        starting_ = true;
        set_up(conn_, 0, [self = shared_from_this(), h = std::move(h)](setup_result r) mutable {
            self->starting_ = false;
            if (!r.ec && !self->core_.connection_up(0, clock::now())) {
                r.ec = errc::connection_lost;
                r.why = self->core_.lost_reason();
            }
            if (!r.ec) self->adopt(std::move(r.channel), std::move(r.reply_queue));
            self->start_failure_.store(std::make_shared<const std::string>(std::move(r.why)));
            self->run_actions();
            self->complete(std::move(h), r.ec);
        });
    }

    void submit(const generated_id& id, request_message req, std::unique_ptr<request_context> ctx) {
        core_.submit(id, std::move(req), std::move(ctx), clock::now());
        run_actions();
    }

    // A request made from inside the strand (a completion handler that makes the next request,
    // dispatched inline by run_actions): it enters the core at once, saving a post per request.
    // Whatever completes meanwhile is posted, never run inside the initiating function.
    bool try_submit_inline(const generated_id& id, request_message& req, std::unique_ptr<request_context>& ctx) {
        if (!strand_.running_in_this_thread()) return false;
        const bool outer = initiating_;
        initiating_ = true;
        submit(id, std::move(req), std::move(ctx));
        initiating_ = outer;
        return true;
    }

    void cancel(std::uint64_t key, asio::cancellation_type_t type) {
        core_.cancel(key, static_cast<unsigned>(type));
        run_actions();
    }

    void close(std::optional<clock::time_point> deadline, start_handler h) {
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
    void abandon() {
        core_.close();
        timer_.cancel();
        run_actions();
        attempt_.reset();
        conn_.reset();
    }

    // ---- snapshots, any thread --------------------------------------------------------------
    std::string reply_queue() const { return *reply_queue_.load(); }
    std::string start_failure() const { return *start_failure_.load(); }
    std::size_t pending_calls() const noexcept { return pending_.load(std::memory_order_relaxed); }
    std::size_t held_requests() const noexcept { return held_.load(std::memory_order_relaxed); }
    bool is_running() const noexcept { return running_.load(std::memory_order_relaxed); }
    bool is_blocked() const noexcept { return blocked_.load(std::memory_order_relaxed); }
    client_stats stats() const noexcept {
        std::array<std::uint64_t, stat_count> v{};
        for (std::size_t i = 0; i < stat_count; ++i) v[i] = stats_[i].load(std::memory_order_relaxed);
        return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
    }

private:
    static constexpr std::size_t stat_count = 10;

    // Carry out what the core asked for, in order. An action may feed the core again (a failed
    // publish); what that adds is carried out in the next round.
    void run_actions() {
        if (running_actions_) return;
        running_actions_ = true;
        while (!core_.actions().empty()) {
            batch_.swap(core_.actions());
            refresh_snapshot();
            for (auto& a : batch_) execute(a);
            batch_.clear();
        }
        refresh_snapshot();
        running_actions_ = false;
    }

    void execute(client_action& a) {
        switch (a.what) {
            case client_action::kind::publish:
                return publish(a);
            case client_action::kind::complete:
                return finish(a);
            case client_action::kind::arm_timer:
                timer_.expires_at(a.at);  // cancels the wait for an older time
                return timer_.async_wait([weak = weak_from_this()](error_code ec) {
                    if (ec) return;  // re-armed, closed or destroyed
                    if (auto self = weak.lock()) {
                        self->core_.timer_fired(clock::now());
                        self->run_actions();
                    }
                });
            case client_action::kind::reconnect:
                return reconnect(a.generation);
        }
    }

    void publish(client_action& a) {
        amqp::basic_properties props;
        props.reply_to = reply_queue_name_;
        props.correlation_id = a.id.view();
        if (!a.request.content_type.empty()) props.content_type = a.request.content_type;
        const std::string expiration = std::to_string(a.ttl.count());  // the broker drops what nobody took in time
        props.expiration = expiration;
        if (opts_.persistent) props.delivery_mode = 2;  // written to disk by a durable queue
        if (!a.request.headers.empty()) {
            headers_scratch_.clear();
            if (const error_code ec = amqp::encode_table(a.request.headers, headers_scratch_))
                return core_.publish_failed(a.key, ec);
            props.headers = amqp::table_view{amqp::bytes_view(headers_scratch_.data(), headers_scratch_.size())};
        }
        amqp::publish_options where;
        where.routing_key = opts_.queue;
        where.mandatory = true;
        if (const error_code ec = ch_.publish(where, props, amqp::as_bytes(a.request.body)))
            core_.publish_failed(a.key, ec);
    }

    void finish(client_action& a) {
        auto& ctx = static_cast<request_context&>(*a.context);
        if (a.ec && ctx.diag) ctx.diag->message = std::move(a.message);
        auto h = std::move(ctx.handler);
        asio::get_associated_cancellation_slot(h).clear();
        const auto ex = asio::get_associated_executor(h, executor_);
        // key 0: a request refused before it entered the table, still in its initiating function
        // when it came inline.
        if (initiating_ || a.key == 0)
            return asio::post(executor_, asio::append(std::move(h), a.ec, std::move(a.reply)));
        asio::dispatch(ex, asio::append(std::move(h), a.ec, std::move(a.reply)));
    }

    void complete(start_handler h, error_code ec) {
        const auto ex = asio::get_associated_executor(h, executor_);
        asio::dispatch(ex, asio::append(std::move(h), ec));
    }

    void refresh_snapshot() noexcept {
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
                                             s.cancelled};
        for (std::size_t i = 0; i < stat_count; ++i) stats_[i].store(v[i], std::memory_order_relaxed);
    }

    void adopt(amqp::channel ch, std::string queue) {
        ch_ = std::move(ch);
        reply_queue_name_ = std::move(queue);
        reply_queue_.store(std::make_shared<const std::string>(reply_queue_name_));
    }

    // ---- connections ------------------------------------------------------------------------
    void set_up(std::shared_ptr<amqp::connection> conn, std::uint64_t generation, setup_handler done) {
        install_connection_handlers(*conn, generation);
        std::weak_ptr<client_impl> weak = shared_from_this();
        setup_hooks hooks;
        hooks.direct_reply_to = opts_.direct_reply_to;
        hooks.prepare_channel = [weak, generation](amqp::channel& ch) {
            if (auto self = weak.lock()) self->install_channel_handlers(ch, generation);
        };
        hooks.on_reply = [weak](const amqp::delivered_message& m) {
            if (auto self = weak.lock()) self->on_reply(m);
        };
        detail::set_up(std::move(conn), std::move(hooks), std::move(done));
    }

    // One attempt, in the background; held requests wait for it.
    void reconnect(std::uint64_t generation) {
        auto conn = std::make_shared<amqp::connection>(strand_, conn_options_);
        attempt_ = conn;
        set_up(conn, generation, [self = shared_from_this(), conn, generation](setup_result r) mutable {
            if (self->attempt_ == conn) self->attempt_.reset();
            if (!r.ec && !(conn->is_open() && r.channel.is_open())) {
                r.ec = errc::connection_lost;
                r.why = "connection lost again while reconnecting";
            }
            if (r.ec || !self->core_.connection_up(generation, clock::now())) {
                if (r.ec) self->core_.reconnect_failed(generation, r.why, clock::now());
                if (conn->is_open()) conn->async_close([conn](error_code) {});
                return self->run_actions();
            }
            // A replaced connection may still be open (only its channel or consumer went): close
            // it with the handshake, kept alive until that is done.
            auto old = std::exchange(self->conn_, std::move(conn));
            self->adopt(std::move(r.channel), std::move(r.reply_queue));
            if (old->is_open()) old->async_close([old](error_code) {});
            self->run_actions();
        });
    }

    // `generation`: which connection the handlers belong to; a replaced one's events are ignored.
    void install_connection_handlers(amqp::connection& conn, std::uint64_t generation) {
        std::weak_ptr<client_impl> weak = shared_from_this();
        conn.on_close([weak, generation](const amqp::close_reason& r) {
            if (auto self = weak.lock())
                self->lost(generation, errc::connection_lost, "connection lost: " + r.to_string());
        });
        conn.on_blocked([weak, generation](bool blocked, std::string_view reason) {
            if (auto self = weak.lock()) {
                self->core_.blocked(generation, blocked, reason, clock::now());
                self->run_actions();
            }
        });
    }

    void install_channel_handlers(amqp::channel& ch, std::uint64_t generation) {
        std::weak_ptr<client_impl> weak = shared_from_this();
        ch.on_close([weak, generation](const amqp::close_reason& r) {
            auto self = weak.lock();
            if (!self) return;
            if (r.code == amqp::client_error::message_too_large) {
                // Our connection layer refused a reply by its declared size; which call it
                // answered is unknown, and the consumer is gone with the channel.
                self->lost(
                    generation, errc::message_too_large,
                    "a reply was refused: " + r.reply_text + " (the client's limit); the reply channel was closed");
            } else if (closes_only_the_channel(r)) {
                std::string why = r.to_string();
                if (why.rfind("channel closed", 0) != 0) why = "channel closed: " + why;
                self->lost(generation, errc::connection_lost, why);
            } else {
                // The channel went with its connection (missed heartbeats, lost socket, the
                // broker's connection.close): say it as the connection's end, as on_close does.
                self->lost(generation, errc::connection_lost, "connection lost: " + r.to_string());
            }
        });
        ch.on_return([weak](const amqp::returned_message& m) {
            if (auto self = weak.lock()) {
                self->core_.returned(m.properties.correlation_id, m.method.reply_code, m.method.reply_text,
                                     m.method.routing_key);
                self->run_actions();
            }
        });
        ch.on_consumer_cancelled([weak, generation](std::string_view tag) {
            auto self = weak.lock();
            if (!self) return;
            self->lost(generation, errc::connection_lost,
                       "the broker cancelled the reply consumer " + amqp::printable(tag) + " (reply queue " +
                           amqp::printable(self->reply_queue_name_) + " deleted?): no reply can arrive");
        });
    }

    void lost(std::uint64_t generation, errc code, const std::string& why) {
        core_.connection_lost(generation, code, why);
        run_actions();
    }

    // On the connection's strand, inside ours; the message's views die with this call.
    void on_reply(const amqp::delivered_message& m) {
        incoming_reply r;
        r.correlation_id = m.properties.correlation_id;
        r.body = amqp::as_string_view(m.body);
        r.content_type = m.properties.content_type;
        r.body_refused = m.body_refused;
        r.body_size = m.body_size;
        r.fault = m.fault;
        amqp::field_table headers;
        if (m.properties.headers && !m.properties.headers->empty()) {
            amqp::diagnostics diag;
            if (!amqp::decode_table(*m.properties.headers, headers, diag)) r.headers = &headers;
        }
        core_.reply_received(r);
        run_actions();
    }

    asio::any_io_executor executor_;
    asio::strand<asio::any_io_executor> strand_;
    asio::steady_timer timer_;  // the core's one timer
    amqp::connection_options conn_options_;
    client_options opts_;
    client_core core_;
    std::shared_ptr<amqp::connection> conn_;     // replaced by a reconnection
    std::shared_ptr<amqp::connection> attempt_;  // a reconnection under way
    amqp::channel ch_;
    std::string reply_queue_name_;
    amqp::byte_buffer headers_scratch_;
    std::vector<client_action> batch_;
    bool running_actions_ = false;
    bool initiating_ = false;  // inside an initiating function (try_submit_inline)
    bool starting_ = false;

    // Read from any thread.
    std::atomic<std::shared_ptr<const std::string>> reply_queue_{std::make_shared<const std::string>()};
    std::atomic<std::shared_ptr<const std::string>> start_failure_{std::make_shared<const std::string>()};
    std::atomic<std::size_t> pending_{0}, held_{0};
    std::atomic<bool> running_{false}, blocked_{false};
    std::array<std::atomic<std::uint64_t>, stat_count> stats_{};
};

namespace {
// Installed in a request's cancellation slot: the cancellation reaches the core on the strand.
struct request_canceller {
    // A constructor, not an aggregate: the slot constructs it with parentheses, which clang 14
    // does not accept for aggregates (C++20's parenthesised aggregate initialisation).
    request_canceller(std::weak_ptr<client_impl> i, std::uint64_t k) : impl(std::move(i)), key(k) {}
    std::weak_ptr<client_impl> impl;
    std::uint64_t key;
    void operator()(asio::cancellation_type_t type) const {
        if (auto self = impl.lock()) self->on_strand([self, key = key, type] { self->cancel(key, type); });
    }
};
}  // namespace

void launch_start(const std::shared_ptr<client_impl>& impl, start_handler h) {
    impl->on_strand([impl, h = std::move(h)]() mutable { impl->start(std::move(h)); });
}

void launch_request(const std::shared_ptr<client_impl>& impl, request_message req, diagnostics* diag,
                    request_handler h) {
    const generated_id id = impl->ids().next_id();
    if (diag) diag->correlation_id = id.view();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.template emplace<request_canceller>(impl, id.key);
    auto ctx = std::make_unique<request_context>(std::move(h), diag);
    if (impl->try_submit_inline(id, req, ctx)) return;
    impl->on_strand([impl, id, req = std::move(req), ctx = std::move(ctx)]() mutable {
        impl->submit(id, std::move(req), std::move(ctx));
    });
}

void launch_close(const std::shared_ptr<client_impl>& impl, std::optional<clock::time_point> deadline,
                  start_handler h) {
    impl->on_strand([impl, deadline, h = std::move(h)]() mutable { impl->close(deadline, std::move(h)); });
}

}  // namespace detail

namespace asio = boost::asio;

rpc_client::rpc_client(executor_type ex, amqp::connection_options conn, client_options opts)
    : impl_(std::make_shared<detail::client_impl>(std::move(ex), std::move(conn), std::move(opts))) {}

rpc_client::~rpc_client() {
    impl_->on_strand([impl = impl_] { impl->abandon(); });
}

rpc_client::executor_type rpc_client::get_executor() const noexcept { return impl_->executor(); }

void rpc_client::start() {
    impl_->refuse_blocking_on_executor("rpc_client::start");
    std::promise<error_code> done;
    auto result = done.get_future();
    detail::launch_start(impl_, [&done](error_code ec) { done.set_value(ec); });
    if (const error_code ec = result.get()) throw call_error(ec, impl_->start_failure());
}

std::string rpc_client::start_failure() const { return impl_->start_failure(); }

reply_message rpc_client::request(request_message req) {
    impl_->refuse_blocking_on_executor("rpc_client::request");
    std::promise<std::pair<error_code, reply_message>> done;
    auto result = done.get_future();
    diagnostics diag;
    detail::launch_request(impl_, std::move(req), &diag, [&done](error_code ec, reply_message r) {
        done.set_value({ec, std::move(r)});
    });
    auto [ec, r] = result.get();
    if (ec) throw call_error(ec, diag.message.empty() ? ec.message() : diag.message);
    return std::move(r);
}

void rpc_client::close() {
    impl_->refuse_blocking_on_executor("rpc_client::close");
    std::promise<void> done;
    detail::launch_close(impl_, std::nullopt, [&done](error_code) { done.set_value(); });
    done.get_future().wait();
}

void rpc_client::close(std::chrono::steady_clock::time_point deadline) {
    impl_->refuse_blocking_on_executor("rpc_client::close");
    std::promise<void> done;
    detail::launch_close(impl_, deadline, [&done](error_code) { done.set_value(); });
    done.get_future().wait();
}

std::string rpc_client::reply_queue() const { return impl_->reply_queue(); }
std::size_t rpc_client::pending_calls() const { return impl_->pending_calls(); }
std::size_t rpc_client::held_requests() const { return impl_->held_requests(); }
client_stats rpc_client::stats() const { return impl_->stats(); }
bool rpc_client::is_running() const { return impl_->is_running(); }
bool rpc_client::is_blocked() const { return impl_->is_blocked(); }
std::chrono::milliseconds rpc_client::default_timeout() const { return impl_->default_timeout(); }

}  // namespace rpc
