#include <rpc/rpc_server.hpp>

#include <rpc/ack_window.hpp>

#include <amqp/connection.hpp>
#include <amqp/printable.hpp>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace rpc {
namespace detail {

// The inline request's body buffer is reused up to this capacity, released above it.
constexpr std::size_t reused_body_max = 64 * 1024;

class server_impl : public std::enable_shared_from_this<server_impl> {
public:
    server_impl(boost::asio::any_io_executor ex, amqp::connection_options conn, server_options opts,
                request_handler handler)
        : executor_(ex), conn_options_(std::move(conn)), opts_(std::move(opts)), handler_(std::move(handler)),
          inline_(opts_.workers == 0) {
        if (!inline_) pool_.emplace(opts_.workers);
        conn_options_.max_message_size = opts_.max_request_size;
        // A request above max_message_size still arrives (without its body), to be refused
        // below; otherwise the channel would close and the broker redeliver it forever.
        conn_options_.deliver_oversized = true;
    }

    /// For the owner's destructor: no draining; queued requests stay unacked (redelivered).
    void abandon() {
        stopping_ = true;
        end_reconnect();
        if (pool_) {
            pool_->stop();
            pool_->join();
        }
    }

    void start() {
        const std::shared_ptr<session> s = connect();
        if (install(s)) return;
        // It died between its last step and install(), unheard (e.g. the broker closed it over
        // the first delivery): say why.
        const amqp::close_reason r = s->conn->is_open() ? s->ch.last_close_reason() : s->conn->last_close_reason();
        throw amqp::error(r.code ? r.code : make_error_code(amqp::client_error::connection_closed),
                          "connection lost during start: " + r.to_string());
    }

    bool stop() {
        if (stopping_.exchange(true)) {
            std::unique_lock lock(mutex_);
            stopped_.wait(lock, [this] { return stop_result_.has_value(); });
            return *stop_result_;
        }
        end_reconnect();
        const std::shared_ptr<session> s = current();
        if (s && s->ch.is_open() && !s->consumer_tag.empty()) {
            try {
                s->ch.cancel(s->consumer_tag);
            } catch (const amqp::error& e) {
                log(std::string("could not cancel the consumer: ") + e.what());
            }
        }
        std::size_t unfinished = 0;
        {
            std::unique_lock lock(mutex_);
            idle_.wait_for(lock, opts_.drain_timeout, [this] { return in_flight_ == 0 || halted_; });
            unfinished = in_flight_;
        }
        // Every log() and callback runs with no lock held: log() takes mutex_ itself, and the
        // owner's handler may call in_flight().
        if (unfinished > 0) {
            log("stopping with " + std::to_string(unfinished) +
                " request(s) unfinished; the broker will redeliver them");
            // Requests still queued for a worker are not run: closing the channel releases them.
            if (pool_) pool_->stop();
        }
        try {
            // Closing the channel returns its unacked deliveries to the queue.
            if (s && s->ch.is_open()) s->ch.close();
            if (s && s->conn->is_open()) s->conn->close();
        } catch (const amqp::error& e) {
            log(std::string("close: ") + e.what());
        }
        // A handler cut short may compute for long yet: the destructor waits for it, not stop().
        if (pool_ && unfinished == 0) pool_->join();
        {
            std::lock_guard lock(mutex_);
            stop_result_ = unfinished == 0;
        }
        stopped_.notify_all();
        return unfinished == 0;
    }

    void halt() {
        {
            std::lock_guard lock(mutex_);
            halted_ = true;
        }
        idle_.notify_all();
    }

    void on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
        std::lock_guard lock(mutex_);
        on_lost_ = std::move(h);
    }
    void on_log(std::function<void(std::string_view)> h) {
        std::lock_guard lock(mutex_);
        on_log_ = std::move(h);
    }
    server_stats stats() const {
        return {stats_.requests.load(),         stats_.replies.load(),          stats_.no_reply_to.load(),
                stats_.handler_failures.load(), stats_.publish_failures.load(), stats_.reconnects.load(),
                stats_.rejected.load(),         stats_.acks.load()};
    }
    std::size_t in_flight() const {
        std::lock_guard lock(mutex_);
        return in_flight_;
    }

private:
    /// One connection's worth of state; replaced whole on reconnection. A request is answered
    /// and acked on the channel it came from (delivery tags belong to their channel).
    struct session {
        std::unique_ptr<amqp::connection> conn;
        amqp::channel ch;
        std::string consumer_tag;

        // Held while an ack is sent too: two acks with multiple=true must reach the connection in
        // the order they were taken (the later one first would make the earlier an unknown tag).
        std::mutex ack_mutex;
        ack_window acks;         // guarded by ack_mutex
        bool flush_posted = false;  // guarded by ack_mutex
    };

    struct job {
        std::shared_ptr<session> s;
        request req;
        std::string reply_to;
        bool has_reply_to = false;
        bool has_correlation_id = false;
        std::uint64_t delivery_tag = 0;
    };

    // On the connection's strand.
    void on_request(const std::shared_ptr<session>& s, const amqp::delivered_message& m) {
        ++stats_.requests;
        // Settled here and now, before any later delivery arrives: so it never enters the ack
        // window, and no multiple=true ack (always for a later tag) can name it.
        if (m.body_refused || !m.fault.empty()) return reject(s->ch, m);
        {
            std::lock_guard lock(mutex_);
            ++in_flight_;
        }
        if (opts_.batch_acks) {
            bool in_order = false;
            {
                std::lock_guard lock(s->ack_mutex);
                in_order = s->acks.taken(m.method.delivery_tag);
            }
            if (!in_order)
                log("delivery tag " + std::to_string(m.method.delivery_tag) + " out of order; acks may fail");
        }
        if (inline_ || cheap(m)) {
            // The views stay valid for the whole handler: copy only what the handler's request
            // owns, into buffers reused from one request to the next.
            request& req = inline_request_;
            req.body.assign(amqp::as_string_view(m.body));
            const bool has_cid = m.properties.correlation_id.has_value();
            if (has_cid)
                req.correlation_id.assign(*m.properties.correlation_id);
            else
                req.correlation_id.clear();
            req.redelivered = m.method.redelivered;
            const bool has_reply_to = m.properties.reply_to.has_value() && !m.properties.reply_to->empty();
            answer(s->ch, req, has_cid, has_reply_to ? *m.properties.reply_to : std::string_view{}, has_reply_to);
            finished(s, m.method.delivery_tag);
            // Reused, the copy would keep the largest request's size for good.
            if (req.body.capacity() > reused_body_max) std::string().swap(req.body);
            return;
        }
        // Leave the strand at once: copy what the views show.
        job j;
        j.s = s;
        j.req.body.assign(amqp::as_string_view(m.body));
        j.has_correlation_id = m.properties.correlation_id.has_value();
        if (j.has_correlation_id) j.req.correlation_id.assign(*m.properties.correlation_id);
        j.req.redelivered = m.method.redelivered;
        j.has_reply_to = m.properties.reply_to.has_value() && !m.properties.reply_to->empty();
        if (j.has_reply_to) j.reply_to.assign(*m.properties.reply_to);
        j.delivery_tag = m.method.delivery_tag;
        boost::asio::post(*pool_, [self = shared_from_this(), j = std::move(j)]() mutable {
            self->answer(j.s->ch, j.req, j.has_correlation_id, j.reply_to, j.has_reply_to);
            self->finished(j.s, j.delivery_tag);
        });
    }

    // server_options::runs_inline: a request the owner says is cheap skips the pool.
    bool cheap(const amqp::delivered_message& m) const noexcept {
        if (!opts_.runs_inline) return false;
        try {
            return opts_.runs_inline(amqp::as_string_view(m.body));
        } catch (...) {
            return false;
        }
    }

    // A delivery the handler cannot be given (a body above max_request_size, never read; a content
    // header our limits refuse): requeued, it would come back to this server or another forever.
    // Rejected without requeue instead (a dead-letter exchange, if the queue has one, keeps it),
    // and the caller told why.
    void reject(amqp::channel& ch, const amqp::delivered_message& m) {
        ++stats_.rejected;
        const std::string why =
            m.body_refused ? "request body of " + std::to_string(m.body_size) +
                                 " bytes is too large: the server's max_request_size is " +
                                 std::to_string(opts_.max_request_size)
                           : "request refused: " + std::string(m.fault);
        std::string line = amqp::printable(why) + " rejected (correlation_id " +
                            amqp::printable(m.properties.correlation_id.value_or("")) + ")";
        // The error reply is queued before the reject, as a reply before its ack: a connection lost
        // between the two leaves the request to be redelivered and answered again, never settled
        // with its answer lost.
        const bool has_reply_to = m.properties.reply_to && !m.properties.reply_to->empty();
        if (!has_reply_to) {
            line += "; no reply_to, not answered";
        } else if (!m.properties.correlation_id) {
            line += "; no correlation_id, not answered";
        } else if (amqp::error_code ec =
                       publish_reply(ch, *m.properties.reply_to, m.properties.correlation_id, make_error_reply(why))) {
            line += "; could not publish the error reply: " + ec.message();
        }
        if (amqp::error_code ec = ch.reject(m.method.delivery_tag, false); ec)
            line += "; could not reject it: " + ec.message();
        log(line);
    }

    // Run the handler and publish its reply (inline on the strand, or on a worker thread).
    void answer(amqp::channel& ch, const request& req, bool has_correlation_id, std::string_view reply_to,
                bool has_reply_to) {
        if (!has_reply_to) {
            ++stats_.no_reply_to;
            log("request without reply_to acked and dropped (correlation_id " + amqp::printable(req.correlation_id) +
                ")");
            return;
        }
        reply r;
        try {
            r = handler_(req);
        } catch (const std::exception& e) {
            ++stats_.handler_failures;
            r = make_error_reply(e.what());
        } catch (...) {
            ++stats_.handler_failures;
            r = make_error_reply("internal error: the handler threw a non-standard exception");
        }
        const std::optional<std::string_view> cid =
            has_correlation_id ? std::optional<std::string_view>(req.correlation_id) : std::nullopt;
        amqp::error_code ec = publish_reply(ch, reply_to, cid, r);
        if (ec == amqp::client_error::message_too_large) {
            // The connection's one size limit caps replies too: the caller still gets an answer.
            ec = publish_reply(ch, reply_to, cid,
                               make_error_reply("the reply of " + std::to_string(r.body.size()) +
                                                " bytes is too large: the server's max_request_size, which caps "
                                                "replies too, is " + std::to_string(opts_.max_request_size)));
        }
        if (ec) log("could not publish the reply: " + ec.message());
    }

    // The reply goes to the default exchange, whose routing key names the queue. Counted.
    amqp::error_code publish_reply(amqp::channel& ch, std::string_view reply_to,
                                   const std::optional<std::string_view>& correlation_id, const reply& r) {
        amqp::basic_properties props;
        props.correlation_id = correlation_id;
        if (r.content_type) props.content_type = *r.content_type;
        amqp::publish_options where;
        where.routing_key = reply_to;
        const amqp::error_code ec = ch.publish(where, props, amqp::as_bytes(r.body));
        if (ec)
            ++stats_.publish_failures;
        else
            ++stats_.replies;
        return ec;
    }

    // The request's reply is published (queued ahead of anything sent later): it may be acked.
    // The ack goes out from a flush posted to the I/O thread: everything finished by the time it
    // runs shares its frames. Inline, the flush runs after the strand's handler returns and before
    // the write the replies started (that write is posted behind it), so one write carries a
    // read's replies and a single ack. On workers, requests finished meanwhile by the others join
    // it (a traced rpc_bench run, 16 in flight, 4 workers: 0.3 ack frames per request, against
    // 0.74 when acks waited for the oldest and 1.0 acked from each worker). Never held behind an
    // older request still running: that starves the prefetch window (the broker stops delivering
    // until the ack), and one slow request held every later one (78 of 100 calls timed out).
    void finished(const std::shared_ptr<session>& s, std::uint64_t tag) {
        std::unique_lock lock(s->ack_mutex);
        if (!opts_.batch_acks) {
            // The tutorial's way: this request alone, whatever finished before or after it.
            lock.unlock();
            ++stats_.acks;
            if (amqp::error_code ec = s->ch.ack(tag); ec) log("could not ack the request: " + ec.message());
            done(1);
            return;
        }
        s->acks.finished(tag);
        // With the prefetch used up no further delivery can join the batch before an ack (always
        // so with prefetch 1): ack now, without the posted flush and its trip through the loop.
        if (opts_.prefetch == 0 || s->acks.outstanding() < opts_.prefetch) {
            if (s->flush_posted) return;
            s->flush_posted = true;
            lock.unlock();
            boost::asio::post(executor_, [self = shared_from_this(), s] {
                std::unique_lock l(s->ack_mutex);
                s->flush_posted = false;
                self->send_acks(*s, l);
            });
            return;
        }
        send_acks(*s, lock);
    }

    // Every finished request of the window: the front run in one frame, each one finished behind
    // a running request in its own (held back, it would keep its place in the prefetch window).
    // With s.ack_mutex held, released before returning (and before logging).
    void send_acks(session& s, std::unique_lock<std::mutex>& lock) {
        std::size_t settled = 0;
        amqp::error_code ec;
        for (ack_window::ack a = s.acks.take_ack(); a.count > 0; a = s.acks.take_ack()) {
            settled += a.count;
            ++stats_.acks;
            if (amqp::error_code e = s.ch.ack(a.tag, a.multiple()); e && !ec) ec = e;
        }
        lock.unlock();
        if (ec) log("could not ack the request(s): " + ec.message());
        done(settled);
    }

    void done(std::size_t acked) {
        if (acked == 0) return;
        std::lock_guard lock(mutex_);
        in_flight_ -= acked;
        if (in_flight_ == 0) idle_.notify_all();
    }

    // Connect, declare, set the prefetch, consume: the whole session, or amqp::error.
    std::shared_ptr<session> connect() {
        auto s = std::make_shared<session>();
        s->conn = std::make_unique<amqp::connection>(executor_, conn_options_);
        std::weak_ptr<server_impl> weak = shared_from_this();
        std::weak_ptr<session> ws = s;
        // Only the current session's loss counts: a replaced one may still report its end.
        auto on_lost = [weak, ws](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(ws.lock(), r);
        };
        s->conn->on_close(on_lost);
        s->conn->open();
        s->ch = s->conn->open_channel();
        s->ch.on_close(on_lost);
        amqp::queue_options q;
        q.name = opts_.queue;
        s->ch.declare_queue(std::move(q));
        s->ch.qos(opts_.prefetch);
        amqp::consume_options c;
        c.queue = opts_.queue;
        s->consumer_tag = s->ch.consume(std::move(c), [weak, ws](const amqp::delivered_message& m) {
            auto self = weak.lock();
            auto sess = ws.lock();
            if (self && sess) self->on_request(sess, m);
        });
        return s;
    }

    // False if the session died before it was installed: its loss went unheard (it was not yet
    // current), so the caller must keep reconnecting.
    bool install(std::shared_ptr<session> s) {
        std::shared_ptr<session> old;
        bool alive = false;
        {
            std::lock_guard lock(mutex_);
            old = std::move(session_);
            session_ = s;
            alive = s->conn->is_open() && s->ch.is_open();
            if (alive) lost_reported_ = false;  // from here on, lost() hears of its end
        }
        // `old` (a dead connection) is destroyed here, outside the lock.
        return alive;
    }

    std::shared_ptr<session> current() const {
        std::lock_guard lock(mutex_);
        return session_;
    }

    void lost(const std::shared_ptr<session>& s, const amqp::close_reason& r) {
        std::function<void(const amqp::close_reason&)> h;
        {
            std::lock_guard lock(mutex_);
            if (!s || s != session_ || lost_reported_ || stopping_) return;
            lost_reported_ = true;
            h = on_lost_;
            if (opts_.reconnect) {
                h = nullptr;
                // The previous loop has ended (it installed the session that was just lost).
                if (reconnect_thread_.joinable()) reconnect_thread_.detach();
                reconnect_thread_ = std::thread([self = shared_from_this()] { self->reconnect_loop(); });
            }
        }
        if (opts_.reconnect) log("connection lost: " + r.to_string() + "; reconnecting");
        if (h) h(r);
    }

    // On its own thread (the blocking connect must not run on the connection's executor).
    void reconnect_loop() {
        std::minstd_rand rng(std::random_device{}());
        auto delay = opts_.reconnect_min;
        for (;;) {
            const auto jitter = std::chrono::milliseconds(
                std::uniform_int_distribution<long long>(0, std::max<long long>(delay.count() / 4, 1))(rng));
            {
                std::unique_lock lock(mutex_);
                if (wake_.wait_for(lock, delay + jitter, [this] { return stopping_.load(); })) return;
            }
            try {
                auto s = connect();
                if (stopping_) return;
                if (install(std::move(s))) {
                    ++stats_.reconnects;
                    log("reconnected; consuming " + amqp::printable(opts_.queue) + " again");
                    return;
                }
                log("reconnect failed: the new connection closed at once");
            } catch (const std::exception& e) {
                log(std::string("reconnect failed: ") + e.what());
            }
            delay = std::min(delay * 2, opts_.reconnect_max);
        }
    }

    void end_reconnect() {
        std::thread t;
        {
            std::lock_guard lock(mutex_);
            t = std::move(reconnect_thread_);
        }
        wake_.notify_all();
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
        else if (t.joinable()) t.detach();
    }

    // Never with mutex_ or an ack_mutex held (it takes mutex_, and the owner's handler may call
    // in_flight()).
    void log(const std::string& text) {
        std::function<void(std::string_view)> h;
        {
            std::lock_guard lock(mutex_);
            h = on_log_;
        }
        if (h)
            h(text);
        else
            std::cerr << " [!] " << text << std::endl;
    }

    boost::asio::any_io_executor executor_;
    amqp::connection_options conn_options_;
    server_options opts_;
    request_handler handler_;
    const bool inline_;
    std::optional<boost::asio::thread_pool> pool_;  // none when handlers run inline
    request inline_request_;                         // inline requests: reused (strand only)
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    std::condition_variable idle_;
    std::condition_variable wake_;  // interrupts a reconnect delay on stop
    std::condition_variable stopped_;  // a second stop() waits for the first one's result
    bool halted_ = false;
    std::optional<bool> stop_result_;
    std::shared_ptr<session> session_;
    std::thread reconnect_thread_;
    std::size_t in_flight_ = 0;
    bool lost_reported_ = false;
    std::function<void(const amqp::close_reason&)> on_lost_;
    std::function<void(std::string_view)> on_log_;

    struct {
        std::atomic<std::uint64_t> requests{0}, replies{0}, no_reply_to{0}, handler_failures{0}, publish_failures{0},
            reconnects{0}, rejected{0}, acks{0};
    } stats_;
};

}  // namespace detail

rpc_server::rpc_server(boost::asio::any_io_executor ex, amqp::connection_options conn, server_options opts,
                       request_handler handler)
    : impl_(std::make_shared<detail::server_impl>(std::move(ex), std::move(conn), std::move(opts), std::move(handler))) {}

rpc_server::~rpc_server() { impl_->abandon(); }

void rpc_server::start() { impl_->start(); }
bool rpc_server::stop() { return impl_->stop(); }
void rpc_server::halt() { impl_->halt(); }
void rpc_server::on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
    impl_->on_connection_lost(std::move(h));
}
void rpc_server::on_log(std::function<void(std::string_view)> h) { impl_->on_log(std::move(h)); }
server_stats rpc_server::stats() const { return impl_->stats(); }
std::size_t rpc_server::in_flight() const { return impl_->in_flight(); }

}  // namespace rpc
