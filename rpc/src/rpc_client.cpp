#include <rpc/rpc_client.hpp>

#include <rpc/correlation_id.hpp>
#include <rpc/reply_format.hpp>

#include <amqp/connection.hpp>
#include <amqp/codec/printable.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace rpc {

namespace {
// cpp_int's string constructor reads a leading 0 as octal; replies are decimal.
big_int parse_decimal(std::string_view text) {
    bool negative = !text.empty() && text[0] == '-';
    if (negative) text.remove_prefix(1);
    while (text.size() > 1 && text[0] == '0') text.remove_prefix(1);
    big_int v(std::string(text).c_str());
    return negative ? big_int(-v) : v;
}

// The error text of an amqp operation that failed with `ec` on `conn`: the connection's own
// reason (the broker's close, "cannot connect to h:p (...)") when it has one.
std::string failure_text(const amqp::connection& conn, error_code ec) {
    const auto r = conn.last_close_reason();
    return r.code ? r.to_string() : ec.message();
}
// The server's error text, shown as the whole reason: amqp::printable's escaping and cap, without
// its quotes (a reason reads "n must be <= 45", not "\"n must be <= 45\"").
std::string unquoted_printable(std::string_view text) {
    std::string s = amqp::printable(text);
    constexpr std::string_view capped = "\"...";
    const bool was_capped = s.size() >= capped.size() + 1 && s.compare(s.size() - capped.size(), capped.size(), capped) == 0;
    s.erase(s.size() - (was_capped ? capped.size() : 1));
    s.erase(0, 1);
    if (was_capped) s += "...";
    return s;
}

// A channel is also closed when its connection ends; only a channel-level reply code (a broker's
// channel.close, or a channel fault we found) ends the channel alone.
bool closes_only_the_channel(const amqp::close_reason& r) {
    if (r.code == amqp::client_error::channel_closed) return true;
    return !r.from_broker && r.reply_code != 0 && !amqp::is_connection_error(r.reply_code);
}
}  // namespace

namespace detail {

using request_handler = boost::asio::any_completion_handler<void(error_code, reply)>;
using call_handler = boost::asio::any_completion_handler<void(error_code, big_int)>;
using clock = std::chrono::steady_clock;

/// One request waiting for its reply, its timeout or its end. Owned by the client's table of
/// pending calls; also linked, by deadline, into the list of the calls with the same timeout.
struct pending_call {
    pending_call(const generated_id& i, request_handler h, diagnostics* d) : id(i), handler(std::move(h)), diag(d) {}
    generated_id id;  // the correlation id, and its key in the client's table
    request_handler handler;
    diagnostics* diag;
    // Kept until published: a held request (blocked connection, reconnection) goes out later.
    std::string body;
    std::string content_type;
    std::chrono::milliseconds timeout{0};
    clock::time_point deadline;
    // Guarded by the client's mutex: the broker blocked the connection while this call waited.
    bool saw_block = false;
    bool held = false;  // set before it is shared, read by whoever publishes it
    // Guarded by the client's mutex: neighbours in the deadline list.
    pending_call* earlier = nullptr;
    pending_call* later = nullptr;
};

/// The pending calls that share one timeout, oldest first. Deadlines are taken under the
/// client's mutex from a monotonic clock, so appending keeps each list sorted: the earliest
/// deadline of all is at the front of one of the lists, and a call leaves its list in O(1)
/// wherever it is. This replaces a timer per call (a timer object, a strand post to arm it and
/// another to cancel it, and a timer-queue entry per call).
struct deadline_list {
    pending_call* first = nullptr;
    pending_call* last = nullptr;

    void push_back(pending_call& c) noexcept {
        c.earlier = last;
        c.later = nullptr;
        (last ? last->later : first) = &c;
        last = &c;
    }
    void remove(pending_call& c) noexcept {
        (c.earlier ? c.earlier->later : first) = c.later;
        (c.later ? c.later->earlier : last) = c.earlier;
        c.earlier = c.later = nullptr;
    }
    bool empty() const noexcept { return first == nullptr; }
};

// Complete `h` on its associated executor (default `ex`), never inline in a caller's lock.
template <class Handler, class... Args>
void complete_on(const boost::asio::any_io_executor& ex, Handler h, Args... args) {
    auto hex = boost::asio::get_associated_executor(h, ex);
    boost::asio::dispatch(hex, [h = std::move(h), t = std::make_tuple(std::move(args)...)]() mutable {
        std::apply(std::move(h), std::move(t));
    });
}

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    using start_handler = boost::asio::any_completion_handler<void(error_code)>;
    static constexpr const char* direct_reply_to_queue = "amq.rabbitmq.reply-to";
    using pending_table = std::unordered_map<std::uint64_t, std::shared_ptr<pending_call>>;

    client_impl(boost::asio::any_io_executor ex, amqp::connection_options conn, client_options opts)
        : executor_(ex), timer_strand_(boost::asio::make_strand(ex)), timer_(timer_strand_), reconnect_timer_(timer_strand_),
          conn_options_(reply_limits(std::move(conn))),
          conn_(std::make_shared<amqp::connection>(ex, conn_options_)), opts_(std::move(opts)) {}

    void start() {
        std::promise<error_code> done;
        auto result = done.get_future();
        start_async([&done](error_code ec) { done.set_value(ec); });
        if (const error_code ec = result.get()) throw call_error(ec, start_failure_);
    }

    // Connect, open a channel, declare the reply queue, consume: one chain of async operations,
    // shared by start() and by reconnection (`generation` > 0).
    void start_async(start_handler h) {
        auto self = shared_from_this();
        setup(conn_, 0, [self, h = std::move(h)](error_code ec, amqp::channel ch, std::string queue, std::string why) mutable {
            {
                std::lock_guard lock(self->mutex_);
                if (!ec) {
                    self->ch_ = std::move(ch);
                    self->reply_queue_ = std::move(queue);
                    self->running_ = self->stop_reason_.empty();  // the connection may already have failed
                    if (!self->running_) {
                        ec = errc::connection_lost;
                        why = self->stop_reason_;
                    }
                }
                self->start_failure_ = why;
            }
            complete_on(self->executor_, std::move(h), ec);
        });
    }

    void start_request(request_message req, diagnostics* diag, request_handler h) {
        const generated_id id = ids_.next_id();
        if (diag) diag->correlation_id = id.view();
        const auto timeout = req.timeout.count() > 0 ? req.timeout : opts_.default_timeout;
        if (req.body.size() > conn_options_.max_message_size) {
            complete(std::move(h), diag, errc::message_too_large,
                     "request body of " + std::to_string(req.body.size()) + " bytes is too large: max_message_size is " +
                         std::to_string(conn_options_.max_message_size) + " (the client's limit); not sent");
            return;
        }
        auto call = std::make_shared<pending_call>(id, std::move(h), diag);
        call->body = std::move(req.body);
        call->content_type = std::move(req.content_type);
        call->timeout = timeout;
        bool publish_now = false, begin_reconnect = false, arm_timer = false;
        amqp::channel ch;
        std::string reply_queue;
        {
            // Checked under the lock that fail_all takes: a call can not slip in after it.
            std::unique_lock lock(mutex_);
            if (running_ && !blocked_) {
                publish_now = true;
                // Copies: a reconnection may replace both while this call publishes.
                ch = ch_;
                reply_queue = reply_queue_;
            } else if (running_ || can_reconnect_locked()) {
                held_.push_back(id.key);
                call->held = true;
                call->saw_block = blocked_;
                if (!running_ && !reconnecting_) begin_reconnect = reconnecting_ = true;
            } else {
                const error_code ec = stop_reason_.empty() ? make_error_code(errc::not_started) : make_error_code(stop_code_);
                std::string why = stop_reason_.empty() ? "RPC client not started" : stop_reason_;
                lock.unlock();
                complete(std::move(call->handler), diag, ec, std::move(why));
                return;
            }
            // Under the lock, so that each deadline list stays in order.
            call->deadline = clock::now() + timeout;
            deadlines_[timeout].push_back(*call);
            if (call->deadline < timer_at_) {
                timer_at_ = call->deadline;
                arm_timer = true;
            }
            pending_.emplace(id.key, call);
        }
        if (arm_timer) boost::asio::post(timer_strand_, [weak = weak_from_this()] {
            if (auto self = weak.lock()) self->rearm_timer();
        });
        if (begin_reconnect) reconnect_when_due();
        if (publish_now) publish(*call, ch, reply_queue);
    }

    reply request(request_message req) {
        std::promise<std::pair<error_code, reply>> done;
        auto result = done.get_future();
        diagnostics diag;
        start_request(std::move(req), &diag, [&done](error_code ec, reply r) { done.set_value({ec, std::move(r)}); });
        auto [ec, r] = result.get();
        if (ec) throw call_error(ec, diag.message.empty() ? ec.message() : diag.message);
        return std::move(r);
    }

    // fib(n) over the generic request: "n" out, the reply decoded.
    void start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag, call_handler h) {
        request_message req;
        req.body = std::to_string(n);
        req.timeout = timeout;
        start_request(std::move(req), diag, [ex = executor_, diag, h = std::move(h)](error_code ec, reply r) mutable {
            if (ec) return complete_on(ex, std::move(h), ec, big_int(0));
            const decoded_reply d = decode_reply(r.body);
            switch (d.what) {
                case decoded_reply::kind::value: return complete_on(ex, std::move(h), error_code{}, parse_decimal(d.value));
                case decoded_reply::kind::error:
                    if (diag) diag->message = unquoted_printable(d.error);
                    return complete_on(ex, std::move(h), make_error_code(errc::remote_error), big_int(0));
                case decoded_reply::kind::malformed:
                    if (diag) diag->message = "malformed reply: " + d.error;
                    return complete_on(ex, std::move(h), make_error_code(errc::bad_reply), big_int(0));
            }
        });
    }

    big_int call(std::uint64_t n, std::chrono::milliseconds timeout) {
        std::promise<std::pair<error_code, big_int>> done;
        auto result = done.get_future();
        diagnostics diag;
        start_call(n, timeout, &diag, [&done](error_code ec, big_int v) { done.set_value({ec, std::move(v)}); });
        auto [ec, value] = result.get();
        if (ec) throw call_error(ec, diag.message.empty() ? ec.message() : diag.message);
        return value;
    }

    void close(std::optional<clock::time_point> deadline) {
        std::shared_ptr<amqp::connection> conn;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            conn = conn_;
        }
        fail_all(errc::connection_lost, "RPC client closed");
        // conn_ is replaced only by a reconnect, which closed_ now rules out. Called even when
        // the connection is no longer open: after a fault or the broker's close it returns once
        // our close 50x / close-ok has gone out and the socket is closed, so a program that
        // exits next does not cut that frame off.
        try {
            if (deadline) {
                conn->close(*deadline);
            } else {
                conn->close();
            }
        } catch (const amqp::error&) {
            // Already gone: nothing left to close.
        }
    }

    /// For the owner's destructor: fail what is pending; the connection's destructor then
    /// closes the socket without a handshake.
    void abandon() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        fail_all(errc::connection_lost, "RPC client closed");
    }

    std::string reply_queue() const {
        std::lock_guard lock(mutex_);
        return reply_queue_;
    }
    std::chrono::milliseconds default_timeout() const { return opts_.default_timeout; }
    std::size_t pending_calls() const {
        std::lock_guard lock(mutex_);
        return pending_.size();
    }
    std::size_t held_requests() const {
        std::lock_guard lock(mutex_);
        return held_.size();
    }
    client_stats stats() const {
        return {stats_.calls.load(), stats_.replies.load(), stats_.timeouts.load(), stats_.returned.load(),
                stats_.late_replies.load(), stats_.unknown_replies.load(), stats_.replies_without_id.load(),
                stats_.reconnects.load(), stats_.reconnect_attempts.load()};
    }
    bool is_running() const { return running_; }
    bool is_blocked() const {
        std::lock_guard lock(mutex_);
        return blocked_;
    }

private:
    // A reply above max_message_size fails its own call (on_reply), not the whole channel.
    static amqp::connection_options reply_limits(amqp::connection_options o) {
        o.deliver_oversized = true;
        return o;
    }

    using setup_handler = boost::asio::any_completion_handler<void(error_code, amqp::channel, std::string, std::string)>;

    // open → channel → reply queue → consume on `conn`, its handlers tagged with `generation`.
    void setup(std::shared_ptr<amqp::connection> conn, std::uint64_t generation, setup_handler done) {
        install_connection_handlers(*conn, generation);
        auto self = shared_from_this();
        auto fail = [conn](setup_handler& d, error_code ec, const char* step) {
            std::move(d)(ec, amqp::channel{}, std::string{}, std::string(step) + failure_text(*conn, ec));
        };
        conn->async_open([self, conn, generation, fail, done = std::move(done)](error_code ec) mutable {
            if (ec) return fail(done, ec, "");
            conn->async_open_channel([self, conn, generation, fail, done = std::move(done)](error_code ec, amqp::channel ch) mutable {
                if (ec) return fail(done, ec, "cannot open a channel: ");
                self->install_channel_handlers(ch, generation);
                auto consume = [self, conn, fail, ch](std::string queue, setup_handler done) mutable {
                    ch.async_consume(reply_consume_options(queue), self->reply_handler(),
                                     [conn, fail, ch, queue, done = std::move(done)](error_code ec, std::string) mutable {
                                         if (ec) return fail(done, ec, "cannot consume replies: ");
                                         std::move(done)(error_code{}, std::move(ch), std::move(queue), std::string{});
                                     });
                };
                if (self->opts_.direct_reply_to) return consume(direct_reply_to_queue, std::move(done));
                ch.async_declare_queue(reply_queue_options(), [fail, consume, done = std::move(done)](error_code ec, amqp::queue_info q) mutable {
                    if (ec) return fail(done, ec, "cannot declare the reply queue: ");
                    consume(std::move(q.name), std::move(done));
                });
            });
        });
    }

    // `generation`: which connection the handlers belong to; a replaced one's end is ignored.
    void install_connection_handlers(amqp::connection& conn, std::uint64_t generation) {
        std::weak_ptr<client_impl> weak = shared_from_this();
        conn.on_close([weak, generation](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(generation, errc::connection_lost, "connection lost: " + r.to_string());
        });
        conn.on_blocked([weak, generation](bool blocked, std::string_view reason) {
            if (auto self = weak.lock()) self->on_blocked(generation, blocked, reason);
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
                self->lost(generation, errc::message_too_large,
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
            if (auto self = weak.lock()) self->on_return(m);
        });
        ch.on_consumer_cancelled([weak, generation](std::string_view tag) {
            auto self = weak.lock();
            if (!self) return;
            self->lost(generation, errc::connection_lost,
                       "the broker cancelled the reply consumer " + amqp::printable(tag) + " (reply queue " +
                           amqp::printable(self->reply_queue()) + " deleted?): no reply can arrive");
        });
    }
    static amqp::queue_options reply_queue_options() {
        amqp::queue_options q;
        q.exclusive = true;  // server-named, gone with our connection
        return q;
    }
    static amqp::consume_options reply_consume_options(const std::string& queue) {
        amqp::consume_options c;
        c.queue = queue;
        c.no_ack = true;  // as the tutorial (auto_ack=True); required for direct reply-to
        return c;
    }
    amqp::delivery_handler reply_handler() {
        std::weak_ptr<client_impl> weak = shared_from_this();
        return [weak](const amqp::delivered_message& m) {
            if (auto self = weak.lock()) self->on_reply(m);
        };
    }

    void publish(pending_call& call, amqp::channel& ch, const std::string& reply_queue) {
        amqp::basic_properties props;
        props.reply_to = reply_queue;
        props.correlation_id = call.id.view();
        if (!call.content_type.empty()) props.content_type = call.content_type;
        // The broker drops a request nobody took within the caller's patience (what is left of
        // it, for a request that was held).
        auto ttl = call.timeout;
        if (call.held) ttl = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - clock::now()),
                                      std::chrono::milliseconds(1));
        const std::string expiration = std::to_string(ttl.count());
        props.expiration = expiration;
        amqp::publish_options where;
        where.routing_key = opts_.queue;
        where.mandatory = true;
        ++stats_.calls;
        const error_code ec = ch.publish(where, props, amqp::as_bytes(call.body));
        // The body's copy is in the write buffer now.
        std::string().swap(call.body);
        if (ec) {
            if (auto p = take(call.id.key)) finish(std::move(p), errc::connection_lost, "could not publish the request: " + ec.message());
        }
    }

    // Publish what was held, once the connection is running and not blocked.
    void flush_held() {
        std::vector<std::shared_ptr<pending_call>> calls;
        amqp::channel ch;
        std::string reply_queue;
        {
            std::lock_guard lock(mutex_);
            if (!running_ || blocked_) return;
            for (const auto key : held_)
                if (auto it = pending_.find(key); it != pending_.end()) calls.push_back(it->second);
            held_.clear();
            ch = ch_;
            reply_queue = reply_queue_;
        }
        for (auto& call : calls) publish(*call, ch, reply_queue);
    }

    bool can_reconnect_locked() const {
        return opts_.reconnect && !closed_ && !stop_reason_.empty() && stop_code_ != errc::not_started;
    }

    // The next attempt at once, or when the backoff after a failed one has passed (on the timer
    // strand's timer, so that a caller never waits for it).
    void reconnect_when_due() {
        clock::time_point due;
        {
            std::lock_guard lock(mutex_);
            due = next_attempt_at_;
        }
        if (clock::now() >= due) return reconnect();
        boost::asio::post(timer_strand_, [weak = weak_from_this(), due] {
            auto self = weak.lock();
            if (!self) return;
            self->reconnect_timer_.expires_at(due);
            self->reconnect_timer_.async_wait([weak](error_code ec) {
                if (ec) return;
                if (auto self = weak.lock()) self->reconnect();
            });
        });
    }

    // One attempt, in the background; held calls wait for it.
    void reconnect() {
        std::uint64_t generation = 0;
        {
            std::lock_guard lock(mutex_);
            generation = generation_ + 1;
        }
        ++stats_.reconnect_attempts;
        auto conn = std::make_shared<amqp::connection>(executor_, conn_options_);
        auto self = shared_from_this();
        setup(conn, generation, [self, conn, generation](error_code ec, amqp::channel ch, std::string queue, std::string why) mutable {
            self->reconnected(ec, std::move(conn), std::move(ch), std::move(queue), generation, std::move(why));
        });
    }

    void reconnected(error_code ec, std::shared_ptr<amqp::connection> conn, amqp::channel ch, std::string queue,
                     std::uint64_t generation, std::string why) {
        std::shared_ptr<amqp::connection> old;
        std::vector<std::shared_ptr<pending_call>> failed;
        {
            std::lock_guard lock(mutex_);
            reconnecting_ = false;
            if (!ec && !closed_ && !(conn->is_open() && ch.is_open())) {
                ec = errc::connection_lost;
                why = "connection lost again while reconnecting";
            }
            if (ec || closed_) {
                // The held calls fail; the next call tries again, not before the backoff.
                for (const auto key : held_)
                    if (auto it = pending_.find(key); it != pending_.end()) failed.push_back(erase_locked(it));
                held_.clear();
                old = std::move(conn);
                retry_delay_ = retry_delay_.count() == 0 ? opts_.reconnect_min : std::min(2 * retry_delay_, opts_.reconnect_max);
                next_attempt_at_ = clock::now() + retry_delay_;
            } else {
                retry_delay_ = std::chrono::milliseconds(0);
                next_attempt_at_ = clock::time_point::min();
                old = std::move(conn_);
                conn_ = std::move(conn);
                ch_ = std::move(ch);
                reply_queue_ = std::move(queue);
                generation_ = generation;
                stop_reason_.clear();
                stop_code_ = errc::not_started;
                blocked_ = false;
                running_ = true;
                ++stats_.reconnects;
            }
        }
        // A replaced connection may still be open (only its channel or consumer went): close
        // it with the handshake, kept alive until that is done.
        if (old && old->is_open()) old->async_close([old](error_code) {});
        for (auto& call : failed) finish(std::move(call), errc::connection_lost, "connection lost; reconnecting failed: " + why);
        flush_held();
    }

    void on_blocked(std::uint64_t generation, bool blocked, std::string_view reason) {
        {
            std::lock_guard lock(mutex_);
            if (generation != generation_) return;
            blocked_ = blocked;
            if (blocked) {
                blocked_reason_ = amqp::printable(reason);  // the broker's words, shown in timeout texts
                for (auto& [id, call] : pending_) call->saw_block = true;
            }
        }
        if (!blocked) flush_held();
    }

    // Runs on the connection's strand; the message's views die with this call.
    void on_reply(const amqp::delivered_message& m) {
        if (!m.properties.correlation_id) {
            ++stats_.replies_without_id;
            return;
        }
        const auto key = ids_.key_of(*m.properties.correlation_id);
        auto call = key ? take(*key) : nullptr;
        if (!call) {
            std::lock_guard lock(mutex_);
            ++(key && timed_out_.count(*key) ? stats_.late_replies : stats_.unknown_replies);
            return;
        }
        ++stats_.replies;
        if (m.body_refused) {
            // Only this call fails; the consumer and the other calls go on.
            finish(std::move(call), errc::message_too_large,
                   "reply body of " + std::to_string(m.body_size) + " bytes is too large: max_message_size is " +
                       std::to_string(conn_options_.max_message_size) + " (the client's limit); refused unread");
            return;
        }
        if (!m.fault.empty()) {
            // A reply whose header breaks our limits (e.g. headers nested too deep): its call
            // fails with the machine's text (ours, already printable); the consumer goes on.
            finish(std::move(call), errc::bad_reply, "reply refused unread: " + std::string(m.fault));
            return;
        }
        reply r;
        r.body = std::string(amqp::as_string_view(m.body));
        if (m.properties.content_type) r.content_type = std::string(*m.properties.content_type);
        finish(std::move(call), {}, {}, std::move(r));
    }

    void on_return(const amqp::returned_message& m) {
        if (!m.properties.correlation_id) return;
        const auto key = ids_.key_of(*m.properties.correlation_id);
        auto call = key ? take(*key) : nullptr;
        if (!call) return;
        ++stats_.returned;
        finish(std::move(call), errc::no_route,
               "request returned by the broker: " + std::to_string(m.method.reply_code) + " " +
                   unquoted_printable(m.method.reply_text) + " (no queue bound to routing key " +
                   amqp::printable(m.method.routing_key) + ")");
    }

    // On the timer strand: re-arm the one timer for the earliest deadline of all pending calls.
    void rearm_timer() {
        clock::time_point at;
        {
            std::lock_guard lock(mutex_);
            at = timer_at_ = earliest_deadline_locked();
        }
        if (at == clock::time_point::max()) return;  // nothing pending: a stale wait may still fire, harmlessly
        timer_.expires_at(at);  // cancels the wait for an older time
        timer_.async_wait([weak = weak_from_this()](error_code ec) {
            if (ec) return;  // re-armed or destroyed
            if (auto self = weak.lock()) self->expire_due();
        });
    }

    // Also drops the lists left empty. They are kept until here so that a run of sequential
    // calls does not create and erase the list of their timeout once per call.
    clock::time_point earliest_deadline_locked() {
        std::erase_if(deadlines_, [](const auto& kv) { return kv.second.empty(); });
        auto at = clock::time_point::max();
        for (const auto& [timeout, list] : deadlines_) at = std::min(at, list.first->deadline);
        return at;
    }

    // On the timer strand, when the timer fires: fail every call whose deadline has passed.
    void expire_due() {
        std::vector<std::pair<std::shared_ptr<pending_call>, std::string>> expired;
        {
            std::lock_guard lock(mutex_);
            const auto now = clock::now();
            for (auto& [timeout, list] : deadlines_)
                for (pending_call* c = list.first; c != nullptr && c->deadline <= now; c = list.first) {
                    auto call = erase_locked(pending_.find(c->id.key));  // also unlinks it from `list`
                    std::string why = timeout_reason_locked(*call);
                    expired.emplace_back(std::move(call), std::move(why));
                }
        }
        for (auto& [call, why] : expired) {
            ++stats_.timeouts;
            finish(std::move(call), errc::timeout, std::move(why));
        }
        rearm_timer();
    }

    // Why `call` timed out; it is remembered (a bounded number of them) to tell its late reply
    // from a stranger's.
    std::string timeout_reason_locked(const pending_call& call) {
        std::string why = timeout_message(call.timeout);
        const std::uint64_t key = call.id.key;
        timed_out_.insert(key);
        timed_out_order_.push_back(key);
        if (timed_out_order_.size() > max_remembered_timeouts) {
            timed_out_.erase(timed_out_order_.front());
            timed_out_order_.pop_front();
        }
        if (auto it = std::find(held_.begin(), held_.end(), key); it != held_.end()) {
            held_.erase(it);
            why += blocked_ || call.saw_block ? "; the request was never sent: the broker blocked the connection ("
                                                    + blocked_reason_ + ")"
                                              : "; the request was never sent: waiting for the reconnection";
        } else if (call.saw_block) {
            why += "; the broker blocked the connection meanwhile (" + blocked_reason_ + ")";
        }
        return why;
    }

    // Out of the table and out of its deadline list; whoever does this completes the call.
    std::shared_ptr<pending_call> erase_locked(pending_table::iterator it) {
        auto call = std::move(it->second);
        pending_.erase(it);
        if (auto d = deadlines_.find(call->timeout); d != deadlines_.end()) d->second.remove(*call);
        return call;
    }

    std::shared_ptr<pending_call> take(std::uint64_t key) {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(key);
        if (it == pending_.end()) return nullptr;
        return erase_locked(it);
    }

    void lost(std::uint64_t generation, errc code, const std::string& why) {
        {
            std::lock_guard lock(mutex_);
            // A connection's channel and the connection itself both report its end: the first
            // counts. Calls made since wait for a reconnection and must not fail by the second.
            if (generation != generation_ || !stop_reason_.empty()) return;
        }
        fail_all(code, why);
    }

    void fail_all(errc code, const std::string& why) {
        std::vector<std::shared_ptr<pending_call>> calls;
        {
            std::lock_guard lock(mutex_);
            if (stop_reason_.empty()) {
                stop_reason_ = why;
                // Only a lost connection is worth reconnecting; keep that as the stop code.
                stop_code_ = code == errc::message_too_large ? errc::connection_lost : code;
            }
            running_ = false;
            for (auto& [key, call] : pending_) calls.push_back(std::move(call));
            pending_.clear();
            deadlines_.clear();  // the timer finds nothing when it fires
            held_.clear();
        }
        for (auto& call : calls) finish(std::move(call), code, why);
    }

    // Whoever took the call out of pending_ completes it: exactly once.
    void finish(std::shared_ptr<pending_call> call, error_code ec, std::string why, reply r = {}) {
        complete(std::move(call->handler), call->diag, ec, std::move(why), std::move(r));
    }

    void complete(request_handler h, diagnostics* diag, error_code ec, std::string why, reply r = {}) {
        if (ec && diag) diag->message = std::move(why);
        complete_on(executor_, std::move(h), ec, std::move(r));
    }

    static constexpr std::size_t max_remembered_timeouts = 4096;

    boost::asio::any_io_executor executor_;
    boost::asio::strand<boost::asio::any_io_executor> timer_strand_;
    boost::asio::steady_timer timer_;  // one for all calls; used on timer_strand_ only
    boost::asio::steady_timer reconnect_timer_;  // a reconnection after the backoff; on timer_strand_ only
    amqp::connection_options conn_options_;
    std::shared_ptr<amqp::connection> conn_;  // replaced (under mutex_) by a reconnection
    amqp::channel ch_;
    client_options opts_;
    std::string reply_queue_;
    correlation_id_generator ids_;
    std::atomic<bool> running_{false};
    std::string start_failure_;

    mutable std::mutex mutex_;
    pending_table pending_;  // by correlation id key
    std::map<std::chrono::milliseconds, deadline_list> deadlines_;  // by timeout
    // When the timer is armed for (max: not armed, or about to be re-armed from deadlines_).
    clock::time_point timer_at_ = clock::time_point::max();
    // Ids of pending calls not yet published (blocked, or waiting for a reconnection), in order.
    std::deque<std::uint64_t> held_;
    std::unordered_set<std::uint64_t> timed_out_;
    std::deque<std::uint64_t> timed_out_order_;
    std::string stop_reason_;
    errc stop_code_ = errc::not_started;
    bool closed_ = false;          // close() or the destructor: never reconnect
    bool reconnecting_ = false;    // one attempt at a time, from its call until its end
    // After a failed attempt: the wait before the next one (doubling) and when that is.
    std::chrono::milliseconds retry_delay_{0};
    clock::time_point next_attempt_at_ = clock::time_point::min();
    bool blocked_ = false;         // connection.blocked from the current connection
    std::string blocked_reason_;
    std::uint64_t generation_ = 0;  // counts connections; handlers of older ones are ignored

    struct {
        std::atomic<std::uint64_t> calls{0}, replies{0}, timeouts{0}, returned{0}, late_replies{0},
            unknown_replies{0}, replies_without_id{0}, reconnects{0}, reconnect_attempts{0};
    } stats_;
};

}  // namespace detail

rpc_client::rpc_client(boost::asio::any_io_executor ex, amqp::connection_options conn, client_options opts)
    : impl_(std::make_shared<detail::client_impl>(std::move(ex), std::move(conn), std::move(opts))) {}

rpc_client::~rpc_client() { impl_->abandon(); }

void rpc_client::start() { impl_->start(); }

void rpc_client::start_async(boost::asio::any_completion_handler<void(error_code)> handler) {
    impl_->start_async(std::move(handler));
}

reply rpc_client::request(request_message req) { return impl_->request(std::move(req)); }

big_int rpc_client::call(std::uint64_t n, std::chrono::milliseconds timeout) { return impl_->call(n, timeout); }

big_int rpc_client::call(std::uint64_t n) { return impl_->call(n, impl_->default_timeout()); }

void rpc_client::close() { impl_->close(std::nullopt); }
void rpc_client::close(std::chrono::steady_clock::time_point deadline) { impl_->close(deadline); }
std::string rpc_client::reply_queue() const { return impl_->reply_queue(); }
std::size_t rpc_client::pending_calls() const { return impl_->pending_calls(); }
std::size_t rpc_client::held_requests() const { return impl_->held_requests(); }
client_stats rpc_client::stats() const { return impl_->stats(); }
bool rpc_client::is_running() const { return impl_->is_running(); }
bool rpc_client::is_blocked() const { return impl_->is_blocked(); }

void rpc_client::start_request(request_message req, diagnostics* diag,
                               boost::asio::any_completion_handler<void(error_code, reply)> handler) {
    impl_->start_request(std::move(req), diag, std::move(handler));
}

void rpc_client::start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag,
                            boost::asio::any_completion_handler<void(error_code, big_int)> handler) {
    impl_->start_call(n, timeout, diag, std::move(handler));
}

}  // namespace rpc
