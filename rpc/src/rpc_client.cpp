#include <rpc/rpc_client.hpp>

#include <rpc/correlation_id.hpp>
#include <rpc/reply_format.hpp>

#include <amqp/connection.hpp>

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
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
}  // namespace

namespace detail {

using call_handler = boost::asio::any_completion_handler<void(error_code, big_int)>;

/// One call waiting for its reply. Its timer is touched only on the client's timer strand
/// (steady_timer is not thread-safe, and replies arrive on the connection's strand).
struct pending_call {
    pending_call(const boost::asio::strand<boost::asio::any_io_executor>& s, call_handler h, diagnostics* d)
        : timer(s), handler(std::move(h)), diag(d) {}
    boost::asio::steady_timer timer;
    call_handler handler;
    diagnostics* diag;
};

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    using start_handler = boost::asio::any_completion_handler<void(error_code)>;
    static constexpr const char* direct_reply_to_queue = "amq.rabbitmq.reply-to";

    client_impl(boost::asio::any_io_executor ex, amqp::connection_options conn, client_options opts)
        : executor_(ex), timer_strand_(boost::asio::make_strand(ex)), conn_options_(std::move(conn)),
          conn_(std::make_unique<amqp::connection>(ex, conn_options_)), opts_(std::move(opts)) {}

    void start() {
        install_connection_handlers(*conn_, 0);
        try {
            conn_->open();
            ch_ = conn_->open_channel();
            install_channel_handlers(ch_, 0);
            if (opts_.direct_reply_to) {
                reply_queue_ = direct_reply_to_queue;
            } else {
                reply_queue_ = ch_.declare_queue(reply_queue_options()).name;
            }
            ch_.consume(reply_consume_options(), reply_handler());
        } catch (const amqp::error& e) {
            throw call_error(e.code(), describe(e));
        }
        std::lock_guard lock(mutex_);
        running_ = stop_reason_.empty();  // the connection may already have failed
    }

    // The same steps as start(), chained through the connection's async operations.
    void start_async(start_handler h) {
        install_connection_handlers(*conn_, 0);
        auto self = shared_from_this();
        conn_->async_open([self, h = std::move(h)](error_code ec) mutable {
            if (ec) return self->start_done(std::move(h), ec);
            self->conn_->async_open_channel([self, h = std::move(h)](error_code ec, amqp::channel ch) mutable {
                if (ec) return self->start_done(std::move(h), ec);
                self->ch_ = std::move(ch);
                self->install_channel_handlers(self->ch_, 0);
                if (self->opts_.direct_reply_to) {
                    self->reply_queue_ = direct_reply_to_queue;
                    return self->consume_replies(std::move(h));
                }
                self->ch_.async_declare_queue(self->reply_queue_options(),
                                              [self, h = std::move(h)](error_code ec, amqp::queue_info q) mutable {
                                                  if (ec) return self->start_done(std::move(h), ec);
                                                  self->reply_queue_ = std::move(q.name);
                                                  self->consume_replies(std::move(h));
                                              });
            });
        });
    }

    void start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag, call_handler h) {
        const std::string id = ids_.next();
        if (diag) diag->correlation_id = id;
        auto call = std::make_shared<pending_call>(timer_strand_, std::move(h), diag);
        amqp::channel ch;
        std::string reply_queue;
        {
            // Checked under the lock that fail_all takes: a call can not slip in after it.
            std::unique_lock lock(mutex_);
            if (!running_) {
                const error_code ec = stop_reason_.empty() ? make_error_code(errc::not_started) : make_error_code(stop_code_);
                std::string why = stop_reason_.empty() ? "RPC client not started" : stop_reason_;
                lock.unlock();
                complete(std::move(call->handler), diag, ec, std::move(why));
                return;
            }
            pending_.emplace(id, call);
            // Copies: a reconnection may replace both while this call publishes.
            ch = ch_;
            reply_queue = reply_queue_;
        }
        std::weak_ptr<client_impl> weak = shared_from_this();
        boost::asio::post(timer_strand_, [weak, call, id, timeout] {
            call->timer.expires_after(timeout);
            call->timer.async_wait([weak, id, timeout](error_code ec) {
                if (ec) return;  // cancelled: the call completed some other way
                if (auto self = weak.lock()) self->on_timeout(id, timeout);
            });
        });

        const std::string body = std::to_string(n);
        const std::string expiration = std::to_string(timeout.count());
        amqp::basic_properties props;
        props.reply_to = reply_queue;
        props.correlation_id = id;
        // The broker drops a request nobody took within the caller's patience.
        props.expiration = expiration;
        amqp::publish_options where;
        where.routing_key = opts_.queue;
        where.mandatory = true;
        ++stats_.calls;
        if (error_code ec = ch.publish(where, props, amqp::as_bytes(body))) {
            if (auto p = take(id)) finish(std::move(p), errc::connection_lost, "could not publish the request: " + ec.message());
        }
    }

    big_int call(std::uint64_t n, std::chrono::milliseconds timeout) {
        if (opts_.reconnect) reconnect_if_lost();
        std::promise<std::pair<error_code, big_int>> done;
        auto result = done.get_future();
        diagnostics diag;
        start_call(n, timeout, &diag, [&done](error_code ec, big_int v) { done.set_value({ec, std::move(v)}); });
        auto [ec, value] = result.get();
        if (ec) throw call_error(ec, diag.message.empty() ? ec.message() : diag.message);
        return value;
    }

    void close() {
        amqp::connection* conn = nullptr;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            conn = conn_.get();
        }
        fail_all(errc::connection_lost, "RPC client closed");
        // conn_ is replaced only by a reconnect, which closed_ now rules out. Called even when
        // the connection is no longer open: after a fault or the broker's close it returns once
        // our close 50x / close-ok has gone out and the socket is closed, so a program that
        // exits next does not cut that frame off.
        try {
            conn->close();
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

    std::string reply_queue() const { return reply_queue_; }
    std::chrono::milliseconds default_timeout() const { return opts_.default_timeout; }
    std::size_t pending_calls() const {
        std::lock_guard lock(mutex_);
        return pending_.size();
    }
    client_stats stats() const {
        return {stats_.calls.load(), stats_.replies.load(), stats_.timeouts.load(), stats_.returned.load(),
                stats_.late_replies.load(), stats_.unknown_replies.load(), stats_.replies_without_id.load(),
                stats_.reconnects.load()};
    }
    bool is_running() const { return running_; }
    bool is_blocked() const {
        std::lock_guard lock(mutex_);
        return conn_->is_blocked();
    }

private:

    // `generation`: which connection the handlers belong to; a replaced one's end is ignored.
    void install_connection_handlers(amqp::connection& conn, std::uint64_t generation) {
        std::weak_ptr<client_impl> weak = shared_from_this();
        conn.on_close([weak, generation](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(generation, "connection lost: " + r.to_string());
        });
    }
    void install_channel_handlers(amqp::channel& ch, std::uint64_t generation) {
        std::weak_ptr<client_impl> weak = shared_from_this();
        ch.on_close([weak, generation](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(generation, "channel closed: " + r.to_string());
        });
        ch.on_return([weak](const amqp::returned_message& m) {
            if (auto self = weak.lock()) self->on_return(m);
        });
    }
    static amqp::queue_options reply_queue_options() {
        amqp::queue_options q;
        q.exclusive = true;  // server-named, gone with our connection
        return q;
    }
    amqp::consume_options reply_consume_options() const { return reply_consume_options(reply_queue_); }
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
    void consume_replies(start_handler h) {
        auto self = shared_from_this();
        ch_.async_consume(reply_consume_options(), reply_handler(),
                          [self, h = std::move(h)](error_code ec, std::string) mutable { self->start_done(std::move(h), ec); });
    }
    void start_done(start_handler h, error_code ec) {
        if (!ec) {
            std::lock_guard lock(mutex_);
            running_ = stop_reason_.empty();
            if (!running_) ec = errc::connection_lost;
        }
        auto ex = boost::asio::get_associated_executor(h, executor_);
        boost::asio::dispatch(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
    }

    // Runs on the connection's strand; the message's views die with this call.
    void on_reply(const amqp::delivered_message& m) {
        if (!m.properties.correlation_id) {
            ++stats_.replies_without_id;
            return;
        }
        const std::string id(*m.properties.correlation_id);
        auto call = take(id);
        if (!call) {
            std::lock_guard lock(mutex_);
            ++(timed_out_.count(id) ? stats_.late_replies : stats_.unknown_replies);
            return;
        }
        ++stats_.replies;
        const decoded_reply r = decode_reply(amqp::as_string_view(m.body));
        switch (r.what) {
            case decoded_reply::kind::value: finish(std::move(call), {}, {}, parse_decimal(r.value)); break;
            case decoded_reply::kind::error: finish(std::move(call), errc::remote_error, r.error); break;
            case decoded_reply::kind::malformed: finish(std::move(call), errc::bad_reply, "malformed reply: " + r.error); break;
        }
    }

    void on_return(const amqp::returned_message& m) {
        if (!m.properties.correlation_id) return;
        auto call = take(std::string(*m.properties.correlation_id));
        if (!call) return;
        ++stats_.returned;
        finish(std::move(call), errc::no_route,
               "request returned by the broker: " + std::to_string(m.method.reply_code) + " " +
                   std::string(m.method.reply_text) + " (no queue bound to routing key '" +
                   std::string(m.method.routing_key) + "')");
    }

    void on_timeout(const std::string& id, std::chrono::milliseconds timeout) {
        auto call = take(id);
        if (!call) return;
        ++stats_.timeouts;
        {
            std::lock_guard lock(mutex_);
            // Remember a bounded number of timed-out ids, to tell late replies from strangers.
            timed_out_.insert(id);
            timed_out_order_.push_back(id);
            if (timed_out_order_.size() > max_remembered_timeouts) {
                timed_out_.erase(timed_out_order_.front());
                timed_out_order_.pop_front();
            }
        }
        finish(std::move(call), errc::timeout, timeout_message(timeout));
    }

    std::shared_ptr<pending_call> take(const std::string& id) {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return nullptr;
        auto call = std::move(it->second);
        pending_.erase(it);
        return call;
    }

    void lost(std::uint64_t generation, const std::string& why) {
        {
            std::lock_guard lock(mutex_);
            if (generation != generation_) return;
        }
        fail_all(errc::connection_lost, why);
    }

    // One attempt, on the caller's thread (call() is never run on the executor).
    void reconnect_if_lost() {
        std::lock_guard one_at_a_time(reconnect_mutex_);
        std::uint64_t generation = 0;
        {
            std::lock_guard lock(mutex_);
            if (running_ || closed_ || stop_reason_.empty() || stop_code_ != errc::connection_lost) return;
            generation = generation_ + 1;
        }
        auto conn = std::make_unique<amqp::connection>(executor_, conn_options_);
        install_connection_handlers(*conn, generation);
        amqp::channel ch;
        std::string queue;
        try {
            conn->open();
            ch = conn->open_channel();
            install_channel_handlers(ch, generation);
            queue = opts_.direct_reply_to ? std::string(direct_reply_to_queue) : ch.declare_queue(reply_queue_options()).name;
            ch.consume(reply_consume_options(queue), reply_handler());
        } catch (const amqp::error& e) {
            throw call_error(e.code(), "connection lost; reconnecting failed: " + describe(e));
        }
        std::unique_ptr<amqp::connection> old;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;  // close() meanwhile: `conn` dies with this scope
            if (!conn->is_open()) throw call_error(errc::connection_lost, "connection lost again while reconnecting");
            old = std::move(conn_);
            conn_ = std::move(conn);
            ch_ = std::move(ch);
            reply_queue_ = std::move(queue);
            generation_ = generation;
            stop_reason_.clear();
            stop_code_ = errc::not_started;
            running_ = true;
        }
        ++stats_.reconnects;
    }

    void fail_all(errc code, const std::string& why) {
        std::vector<std::shared_ptr<pending_call>> calls;
        {
            std::lock_guard lock(mutex_);
            if (stop_reason_.empty()) {
                stop_reason_ = why;
                stop_code_ = code;
            }
            running_ = false;
            for (auto& [id, call] : pending_) calls.push_back(std::move(call));
            pending_.clear();
        }
        for (auto& call : calls) finish(std::move(call), code, why);
    }

    // Whoever took the call out of pending_ completes it: exactly once.
    void finish(std::shared_ptr<pending_call> call, error_code ec, std::string why, big_int value = 0) {
        boost::asio::post(timer_strand_, [call] { call->timer.cancel(); });
        complete(std::move(call->handler), call->diag, ec, std::move(why), std::move(value));
    }

    void complete(call_handler h, diagnostics* diag, error_code ec, std::string why, big_int value = 0) {
        if (ec && diag) diag->message = std::move(why);
        auto ex = boost::asio::get_associated_executor(h, executor_);
        boost::asio::dispatch(ex, [h = std::move(h), ec, v = std::move(value)]() mutable { std::move(h)(ec, std::move(v)); });
    }

    static constexpr std::size_t max_remembered_timeouts = 4096;

    boost::asio::any_io_executor executor_;
    boost::asio::strand<boost::asio::any_io_executor> timer_strand_;
    amqp::connection_options conn_options_;
    std::unique_ptr<amqp::connection> conn_;  // replaced (under mutex_) by a reconnection
    amqp::channel ch_;
    client_options opts_;
    std::string reply_queue_;
    correlation_id_generator ids_;
    std::atomic<bool> running_{false};

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<pending_call>> pending_;
    std::unordered_set<std::string> timed_out_;
    std::deque<std::string> timed_out_order_;
    std::string stop_reason_;
    errc stop_code_ = errc::not_started;
    bool closed_ = false;              // close() or the destructor: never reconnect
    std::uint64_t generation_ = 0;     // counts connections; handlers of older ones are ignored
    std::mutex reconnect_mutex_;

    struct {
        std::atomic<std::uint64_t> calls{0}, replies{0}, timeouts{0}, returned{0}, late_replies{0},
            unknown_replies{0}, replies_without_id{0}, reconnects{0};
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

big_int rpc_client::call(std::uint64_t n, std::chrono::milliseconds timeout) { return impl_->call(n, timeout); }

big_int rpc_client::call(std::uint64_t n) { return impl_->call(n, impl_->default_timeout()); }

void rpc_client::close() { impl_->close(); }
std::string rpc_client::reply_queue() const { return impl_->reply_queue(); }
std::size_t rpc_client::pending_calls() const { return impl_->pending_calls(); }
client_stats rpc_client::stats() const { return impl_->stats(); }
bool rpc_client::is_running() const { return impl_->is_running(); }
bool rpc_client::is_blocked() const { return impl_->is_blocked(); }

void rpc_client::start_call(std::uint64_t n, std::chrono::milliseconds timeout, diagnostics* diag,
                            boost::asio::any_completion_handler<void(error_code, big_int)> handler) {
    impl_->start_call(n, timeout, diag, std::move(handler));
}

}  // namespace rpc
