#include <rpc/rpc_server.hpp>

#include <amqp/connection.hpp>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace rpc {
namespace detail {

class server_impl : public std::enable_shared_from_this<server_impl> {
public:
    server_impl(boost::asio::any_io_executor ex, amqp::connection_options conn, server_options opts,
                request_handler handler)
        : conn_(ex, std::move(conn)), opts_(std::move(opts)), handler_(std::move(handler)),
          pool_(opts_.workers == 0 ? 1 : opts_.workers) {}

    /// For the owner's destructor: no draining; queued requests stay unacked (redelivered).
    void abandon() {
        stopping_ = true;
        pool_.stop();
        pool_.join();
    }

    void start() {
        std::weak_ptr<server_impl> weak = shared_from_this();
        conn_.on_close([weak](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(r);
        });
        conn_.open();
        ch_ = conn_.open_channel();
        have_channel_ = true;
        ch_.on_close([weak](const amqp::close_reason& r) {
            if (auto self = weak.lock()) self->lost(r);
        });
        amqp::queue_options q;
        q.name = opts_.queue;
        ch_.declare_queue(std::move(q));
        ch_.qos(opts_.prefetch);
        amqp::consume_options c;
        c.queue = opts_.queue;
        consumer_tag_ = ch_.consume(std::move(c), [weak](const amqp::delivered_message& m) {
            if (auto self = weak.lock()) self->on_request(m);
        });
    }

    void stop() {
        if (stopping_.exchange(true)) return;
        if (have_channel_ && ch_.is_open() && !consumer_tag_.empty()) {
            try {
                ch_.cancel(consumer_tag_);
            } catch (const amqp::error& e) {
                log(std::string("could not cancel the consumer: ") + e.what());
            }
        }
        {
            std::unique_lock lock(mutex_);
            if (!idle_.wait_for(lock, opts_.drain_timeout, [this] { return in_flight_ == 0; }))
                log("stopping with " + std::to_string(in_flight_) + " request(s) unfinished; the broker will redeliver them");
        }
        try {
            if (have_channel_ && ch_.is_open()) ch_.close();
            if (conn_.is_open()) conn_.close();
        } catch (const amqp::error& e) {
            log(std::string("close: ") + e.what());
        }
        pool_.join();
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
        return {stats_.requests.load(), stats_.replies.load(), stats_.no_reply_to.load(),
                stats_.handler_failures.load(), stats_.publish_failures.load()};
    }
    std::size_t in_flight() const {
        std::lock_guard lock(mutex_);
        return in_flight_;
    }

private:
    struct job {
        request req;
        std::string reply_to;
        bool has_reply_to = false;
        bool has_correlation_id = false;
        std::uint64_t delivery_tag = 0;
    };

    // On the connection's strand: copy what the views show, then leave the strand at once.
    void on_request(const amqp::delivered_message& m) {
        ++stats_.requests;
        job j;
        j.req.body.assign(amqp::as_string_view(m.body));
        j.has_correlation_id = m.properties.correlation_id.has_value();
        if (j.has_correlation_id) j.req.correlation_id.assign(*m.properties.correlation_id);
        j.req.redelivered = m.method.redelivered;
        j.has_reply_to = m.properties.reply_to.has_value() && !m.properties.reply_to->empty();
        if (j.has_reply_to) j.reply_to.assign(*m.properties.reply_to);
        j.delivery_tag = m.method.delivery_tag;
        {
            std::lock_guard lock(mutex_);
            ++in_flight_;
        }
        boost::asio::post(pool_, [self = shared_from_this(), j = std::move(j)] { self->serve(j); });
    }

    // On a worker thread.
    void serve(const job& j) {
        if (!j.has_reply_to) {
            ++stats_.no_reply_to;
            log("request without reply_to acked and dropped (correlation_id '" + j.req.correlation_id + "')");
        } else {
            reply r;
            try {
                r = handler_(j.req);
            } catch (const std::exception& e) {
                ++stats_.handler_failures;
                r = make_error_reply(e.what());
            } catch (...) {
                ++stats_.handler_failures;
                r = make_error_reply("internal error: the handler threw a non-standard exception");
            }
            amqp::basic_properties props;
            if (j.has_correlation_id) props.correlation_id = j.req.correlation_id;
            if (r.content_type) props.content_type = *r.content_type;
            amqp::publish_options where;
            where.routing_key = j.reply_to;  // default exchange: the routing key names the queue
            if (amqp::error_code ec = ch_.publish(where, props, amqp::as_bytes(r.body))) {
                ++stats_.publish_failures;
                log("could not publish the reply: " + ec.message());
            } else {
                ++stats_.replies;
            }
        }
        // After the reply: a crash before this line means redelivery, not a lost request.
        if (amqp::error_code ec = ch_.ack(j.delivery_tag); ec) log("could not ack the request: " + ec.message());
        std::lock_guard lock(mutex_);
        if (--in_flight_ == 0) idle_.notify_all();
    }

    void lost(const amqp::close_reason& r) {
        std::function<void(const amqp::close_reason&)> h;
        {
            std::lock_guard lock(mutex_);
            if (lost_reported_ || stopping_) return;
            lost_reported_ = true;
            h = on_lost_;
        }
        if (h) h(r);
    }

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

    amqp::connection conn_;
    amqp::channel ch_;
    bool have_channel_ = false;  // a default channel handle has no state to ask is_open()
    server_options opts_;
    request_handler handler_;
    std::string consumer_tag_;
    boost::asio::thread_pool pool_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    std::condition_variable idle_;
    std::size_t in_flight_ = 0;
    bool lost_reported_ = false;
    std::function<void(const amqp::close_reason&)> on_lost_;
    std::function<void(std::string_view)> on_log_;

    struct {
        std::atomic<std::uint64_t> requests{0}, replies{0}, no_reply_to{0}, handler_failures{0}, publish_failures{0};
    } stats_;
};

}  // namespace detail

rpc_server::rpc_server(boost::asio::any_io_executor ex, amqp::connection_options conn, server_options opts,
                       request_handler handler)
    : impl_(std::make_shared<detail::server_impl>(std::move(ex), std::move(conn), std::move(opts), std::move(handler))) {}

rpc_server::~rpc_server() { impl_->abandon(); }

void rpc_server::start() { impl_->start(); }
void rpc_server::stop() { impl_->stop(); }
void rpc_server::on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
    impl_->on_connection_lost(std::move(h));
}
void rpc_server::on_log(std::function<void(std::string_view)> h) { impl_->on_log(std::move(h)); }
server_stats rpc_server::stats() const { return impl_->stats(); }
std::size_t rpc_server::in_flight() const { return impl_->in_flight(); }

}  // namespace rpc
