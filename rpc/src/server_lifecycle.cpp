// The server's life cycle, all of it asynchronous on the server's executor: connect and consume
// every service's queue, reconnect after a loss on a timer (server_backoff), drain on stop
// (server_drain) and close. No thread of its own.
#include "server_impl.hpp"

#include <amqp/codec/printable.hpp>

#include <iostream>
#include <random>
#include <stdexcept>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace rpc::detail {

namespace {

// Complete `h` through its associated executor, never inside the caller (Asio's rule for
// initiating functions, and no lock of ours is held by then).
template <class Handler, class... Args>
void complete_later(const boost::asio::any_io_executor& ex, Handler h, Args... args) {
    auto slot = boost::asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    // post() runs it through its associated executor (ex when it has none).
    boost::asio::post(ex, boost::asio::append(std::move(h), args...));
}

std::string describe(const amqp::error_code& ec, const amqp::close_reason& channel, const amqp::close_reason& conn) {
    if (channel.code == ec) return channel.to_string();
    if (conn.code == ec) return conn.to_string();
    return ec.message();
}

}  // namespace

server_impl::server_impl(boost::asio::any_io_executor ex, broker_nodes nodes, server_options opts)
    : executor_(ex), opts_(std::move(opts)), drain_timer_(ex), reconnect_timer_(ex),
      backoff_(opts_.reconnect_min, opts_.reconnect_max) {
    if (nodes.nodes.empty()) throw std::invalid_argument("rpc_server: broker_nodes holds no node");
    for (const std::size_t i : node_order(nodes.nodes.size(), nodes.shuffle, std::random_device{}())) {
        auto& n = nodes_.emplace_back(std::move(nodes.nodes[i]));
        n.max_message_size = opts_.max_request_size;
        // A request above max_message_size still arrives (without its body), to be refused
        // below; otherwise the channel would close and the broker redeliver it forever.
        n.deliver_oversized = true;
    }
    if (opts_.workers > 0) pool_.emplace(opts_.workers);
}

std::string server_impl::node_name(std::size_t node) const { return rpc::node_name(nodes_[node]); }

std::string server_impl::next_node() {
    std::string old = node_name(node_);
    node_ = (node_ + 1) % nodes_.size();
    return old;
}

void server_impl::add_service(service s) {
    std::lock_guard lock(mutex_);
    if (started_) throw std::logic_error("rpc_server::add_service after start");
    for (const auto& other : services_)
        if (other->queue == s.queue)
            throw std::logic_error("rpc_server::add_service: queue '" + s.queue + "' is served already");
    services_.push_back(std::make_unique<service>(std::move(s)));
}

bool server_impl::on_executor_thread() const {
    namespace asio = boost::asio;
    if (auto* e = executor_.target<asio::io_context::executor_type>()) return e->running_in_this_thread();
    if (auto* e = executor_.target<asio::strand<asio::io_context::executor_type>>()) return e->running_in_this_thread();
    if (auto* e = executor_.target<asio::thread_pool::executor_type>()) return e->running_in_this_thread();
    if (auto* e = executor_.target<asio::strand<asio::any_io_executor>>()) return e->running_in_this_thread();
    return false;
}

// Open the connection, then for each service a channel: declare its queue, set its prefetch,
// consume. Each step starts when the previous one completes.
struct server_impl::connect_op : std::enable_shared_from_this<connect_op> {
    std::shared_ptr<server_impl> self;
    std::shared_ptr<session> s = std::make_shared<session>();
    std::function<void(amqp::error_code, std::shared_ptr<session>)> done;
    std::size_t next = 0;
    std::size_t node = 0;

    auto on_lost() {
        std::weak_ptr<server_impl> weak = self;
        std::weak_ptr<session> ws = s;
        // Only the current session's loss counts: a replaced one may still report its end.
        return [weak, ws](const amqp::close_reason& r) {
            if (auto server = weak.lock()) server->lost(ws.lock(), r);
        };
    }

    void begin() {
        s->node = node;
        s->conn = std::make_unique<amqp::connection>(self->executor_, self->nodes_[node]);
        s->conn->on_close(on_lost());
        s->conn->async_open([op = shared_from_this()](amqp::error_code ec) {
            if (ec) return op->fail(ec, nullptr);
            op->open_channel();
        });
    }

    void open_channel() {
        if (next == self->services_.size()) return finish({});
        s->conn->async_open_channel([op = shared_from_this()](amqp::error_code ec, amqp::channel ch) {
            if (ec) return op->fail(ec, nullptr);
            auto sc = std::make_unique<service_channel>();
            sc->svc = op->self->services_[op->next].get();
            sc->ch = ch;
            sc->ch.on_close(op->on_lost());
            op->s->channels.push_back(std::move(sc));
            op->declare(*op->s->channels.back());
        });
    }

    void declare(service_channel& sc) {
        amqp::queue_options q = queue_declaration(sc.svc->queue, sc.svc->opts.queue_type);
        sc.ch.async_declare_queue(std::move(q), [op = shared_from_this(), &sc](amqp::error_code ec, amqp::queue_info) {
            if (ec) return op->fail(ec, &sc, declare_hint(sc, op->s->conn->last_close_reason()));
            sc.ch.async_qos(sc.svc->opts.prefetch, [op, &sc](amqp::error_code ec2) {
                if (ec2) return op->fail(ec2, &sc);
                if (!op->self->opts_.confirm_replies) return op->consume(sc);
                // Before the first delivery: every reply on the channel is then confirmed.
                sc.ch.async_confirm_select([op, &sc](amqp::error_code ec3) {
                    if (ec3) return op->fail(ec3, &sc);
                    op->consume(sc);
                });
            });
        });
    }

    void consume(service_channel& sc) {
        amqp::consume_options c;
        c.queue = sc.svc->queue;
        std::weak_ptr<server_impl> weak = self;
        std::weak_ptr<session> ws = s;
        auto deliver = [weak, ws, &sc](const amqp::delivered_message& m) {
            auto server = weak.lock();
            auto sess = ws.lock();
            if (server && sess) server->on_request(sess, sc, m);
        };
        auto consuming = [op = shared_from_this(), &sc](amqp::error_code ec, std::string tag) {
            if (ec) return op->fail(ec, &sc);
            sc.consumer_tag = std::move(tag);
            ++op->next;
            op->open_channel();
        };
        sc.ch.async_consume(std::move(c), deliver, std::move(consuming));
    }

    // The fix for a refused declaration, when a setting is the fix: the channel's close, or the
    // connection's (RabbitMQ 4.3 closes the connection over a transient queue).
    static std::string declare_hint(service_channel& sc, const amqp::close_reason& conn) {
        const amqp::close_reason& ch = sc.ch.last_close_reason();
        const amqp::close_reason& r = ch.from_broker ? ch : conn;
        return declare_refusal_hint(sc.svc->queue, sc.svc->opts.queue_type, r);
    }

    void fail(amqp::error_code ec, service_channel* sc, const std::string& hint = {}) {
        std::string why = describe(ec, sc ? sc->ch.last_close_reason() : amqp::close_reason{},
                                   s->conn->last_close_reason());
        if (!hint.empty()) why += "; " + hint;
        {
            std::lock_guard lock(self->mutex_);
            // "cannot connect to h:p (...)" names the node already; other steps' reasons do not.
            const std::string name = self->node_name(node);
            self->last_error_ = why.find(name) == std::string::npos ? "node " + name + ": " + why : why;
        }
        // Destroyed later, not inside its own completion handler.
        boost::asio::post(self->executor_, [dead = std::move(s)] {});
        finish(ec);
    }

    void finish(amqp::error_code ec) {
        auto d = std::move(done);
        d(ec, ec ? nullptr : std::move(s));
    }
};

void server_impl::connect(std::function<void(amqp::error_code, std::shared_ptr<session>)> done) {
    auto op = std::make_shared<connect_op>();
    op->self = shared_from_this();
    op->done = std::move(done);
    {
        std::lock_guard lock(mutex_);
        op->node = node_;
    }
    op->begin();
}

// False if the session died before it was installed (its loss went unheard: it was not yet
// current), or the server is stopping.
bool server_impl::install(const std::shared_ptr<session>& s) {
    std::shared_ptr<session> old;
    bool alive = s->conn->is_open();
    for (const auto& sc : s->channels) alive = alive && sc->ch.is_open();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) alive = false;
        if (alive) {
            old = std::move(session_);
            session_ = s;
            lost_reported_ = false;  // from here on, lost() hears of its end
        }
    }
    if (!alive) close_session(s);
    // `old` (a dead connection) is destroyed later, outside its own callbacks.
    if (old) boost::asio::post(executor_, [dead = std::move(old)] {});
    return alive;
}

void server_impl::start(boost::asio::any_completion_handler<void(amqp::error_code)> handler) {
    {
        std::lock_guard lock(mutex_);
        if (started_ || stopping_) {
            return complete_later(executor_, std::move(handler),
                                  amqp::error_code(make_error_code(amqp::client_error::connection_closed)));
        }
        started_ = true;
    }
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    if (slot.is_connected()) {
        // The connection being opened is closed when it is installed (install refuses it).
        slot.assign([weak = weak_from_this(), cancelled](boost::asio::cancellation_type) {
            *cancelled = true;
            if (auto self = weak.lock()) {
                std::lock_guard lock(self->mutex_);
                self->stopping_ = true;
            }
        });
    }
    // std::function needs a copyable target: the handler is shared.
    auto h = std::make_shared<boost::asio::any_completion_handler<void(amqp::error_code)>>(std::move(handler));
    start_on(0, {}, std::move(h), std::move(cancelled));
}

void server_impl::start_on(std::size_t tried, std::string failures,
                           std::shared_ptr<boost::asio::any_completion_handler<void(amqp::error_code)>> h,
                           std::shared_ptr<std::atomic<bool>> cancelled) {
    connect([self = shared_from_this(), tried, failures = std::move(failures), h,
             cancelled](amqp::error_code ec, std::shared_ptr<session> s) mutable {
        if (ec && !*cancelled && self->nodes_.size() > 1) {
            std::unique_lock lock(self->mutex_);
            failures += (failures.empty() ? "" : "; ") + self->last_error_;
            if (tried + 1 < self->nodes_.size() && !self->stopping_) {
                self->next_node();
                lock.unlock();
                return self->start_on(tried + 1, std::move(failures), std::move(h), std::move(cancelled));
            }
            self->last_error_ = failures;
        }
        if (!ec && !self->install(s)) {
            if (*cancelled) {
                ec = boost::asio::error::operation_aborted;
                std::lock_guard lock(self->mutex_);
                self->last_error_ = "start cancelled";
            } else {
                // It died between its last step and install(), unheard (e.g. the broker closed it
                // over the first delivery): say why.
                amqp::close_reason r = s->conn->last_close_reason();
                for (const auto& sc : s->channels)
                    if (!sc->ch.is_open() && sc->ch.last_close_reason().code) r = sc->ch.last_close_reason();
                ec = r.code ? r.code : make_error_code(amqp::client_error::connection_closed);
                std::lock_guard lock(self->mutex_);
                self->last_error_ = "connection lost during start: " + r.to_string();
            }
        } else if (ec && *cancelled) {
            ec = boost::asio::error::operation_aborted;
        }
        complete_later(self->executor_, std::move(*h), ec);
    });
}

void server_impl::lost(const std::shared_ptr<session>& s, const amqp::close_reason& r) {
    std::function<void(const amqp::close_reason&)> h;
    std::string lost_node, to;
    {
        std::lock_guard lock(mutex_);
        if (!s || s != session_ || lost_reported_ || stopping_) return;
        lost_reported_ = true;
        h = on_lost_;
        if (opts_.reconnect) {
            h = nullptr;
            lost_node = next_node();
            to = node_name(node_);
            schedule_reconnect();
        }
    }
    if (opts_.reconnect) log("connection lost (node " + lost_node + "): " + r.to_string() + "; reconnecting to " + to);
    if (h) h(r);
}

// With mutex_ held.
void server_impl::schedule_reconnect() {
    reconnect_timer_.expires_after(backoff_.next());
    reconnect_timer_.async_wait([weak = weak_from_this()](const amqp::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->connect([self](amqp::error_code e, std::shared_ptr<session> s) {
            if (e) {
                std::string failed, next;
                {
                    std::lock_guard lock(self->mutex_);
                    failed = self->next_node();
                    next = self->node_name(self->node_);
                }
                self->log("reconnect to " + failed + " failed: " + self->last_error() + "; next: " + next);
            } else if (self->install(s)) {
                ++self->stats_.reconnects;
                std::string queues;
                for (const auto& svc : self->services_)
                    queues += (queues.empty() ? "" : ", ") + amqp::printable(svc->queue);
                {
                    std::lock_guard lock(self->mutex_);
                    self->backoff_.reset();
                }
                self->log("reconnected to " + self->node_name(s->node) + "; consuming " + queues + " again");
                return;
            } else {
                std::string failed;
                {
                    std::lock_guard lock(self->mutex_);
                    failed = self->next_node();
                }
                self->log("reconnect to " + failed + " failed: the new connection closed at once");
            }
            std::lock_guard lock(self->mutex_);
            if (!self->stopping_) self->schedule_reconnect();
        });
    });
}

void server_impl::stop(boost::asio::any_completion_handler<void(bool)> handler) {
    std::shared_ptr<session> s;
    bool finished_now = false;
    {
        std::lock_guard lock(mutex_);
        if (stop_result_) return complete_later(executor_, std::move(handler), *stop_result_);
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([weak = weak_from_this()](boost::asio::cancellation_type) {
                if (auto self = weak.lock()) self->halt();
            });
        }
        stop_handlers_.push_back(std::move(handler));
        if (stopping_ && drain_.draining()) return;
        stopping_ = true;
        reconnect_timer_.cancel();
        s = session_;
        if (s)
            for (const auto& sc : s->channels)
                if (sc->ch.is_open() && !sc->consumer_tag.empty()) drain_.cancelling(1);
        finished_now = drain_.begin(std::chrono::steady_clock::now(), opts_.drain_timeout);
        if (!finished_now) {
            drain_timer_.expires_at(drain_.deadline());
            drain_timer_.async_wait([weak = weak_from_this()](const amqp::error_code& ec) {
                auto self = weak.lock();
                if (ec || !self) return;
                bool ended = false;
                {
                    std::lock_guard l(self->mutex_);
                    ended = self->drain_.expired(std::chrono::steady_clock::now());
                }
                if (ended) self->finish_stop();
            });
        }
    }
    // No more deliveries: those in transit still come and are answered within the drain.
    if (s) {
        for (const auto& sc : s->channels)
            if (sc->ch.is_open() && !sc->consumer_tag.empty())
                sc->ch.async_cancel(sc->consumer_tag, [self = shared_from_this()](amqp::error_code ec) {
                    // Aborted or closed: the drain ended first and the connection closed, which
                    // cancels every consumer anyway.
                    const bool closing = ec == amqp::client_error::operation_aborted ||
                                         ec == amqp::client_error::connection_closed ||
                                         ec == amqp::client_error::channel_closed;
                    if (ec && !closing)
                        self->log("could not cancel the consumer: " + ec.message());
                    bool ended = false;
                    {
                        std::lock_guard l(self->mutex_);
                        ended = self->drain_.cancelled();
                    }
                    if (ended) self->finish_stop();
                });
    }
    if (finished_now) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

void server_impl::halt() {
    bool ended = false;
    {
        std::lock_guard lock(mutex_);
        ended = drain_.halt();
    }
    if (ended) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

void server_impl::settled(std::size_t n) {
    if (n == 0) return;
    bool ended = false;
    {
        std::lock_guard lock(mutex_);
        ended = drain_.settled(n);
    }
    // Posted: the last ack is on its way out; close behind it, not from inside the ack path.
    if (ended) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

// The drain ended: close, then complete every stop.
void server_impl::finish_stop() {
    std::shared_ptr<session> s;
    std::size_t unfinished = 0;
    bool graceful = false;
    {
        std::lock_guard lock(mutex_);
        if (stop_result_ || !drain_.finished()) return;
        stop_result_ = drain_.complete();
        unfinished = drain_.in_flight();
        graceful = !drain_.cut_short();
        drain_timer_.cancel();
        s = session_;
    }
    if (unfinished > 0) {
        log("stopping with " + std::to_string(unfinished) + " request(s) unfinished; the broker will redeliver them");
        // Requests still queued for a worker are not run: closing the connection releases them.
        if (pool_) pool_->stop();
    }
    auto complete = [self = shared_from_this()] {
        std::vector<boost::asio::any_completion_handler<void(bool)>> handlers;
        bool result = false;
        {
            std::lock_guard lock(self->mutex_);
            handlers.swap(self->stop_handlers_);
            result = *self->stop_result_;
        }
        for (auto& h : handlers) complete_later(self->executor_, std::move(h), result);
    };
    if (!s || !s->conn->is_open()) return complete();
    auto close_connection = [self = shared_from_this(), s, complete] {
        s->conn->async_close([self, s, complete](amqp::error_code ec) {
            if (ec && ec != amqp::client_error::connection_closed) self->log("close: " + ec.message());
            complete();
        });
    };
    // A drain cut short (halt, deadline: the broker may be frozen) closes the connection at once,
    // which closes its channels and returns their unacked deliveries to the queue. A drain that
    // ended by itself first closes each channel (channel.close, close-ok), then the connection.
    std::vector<amqp::channel*> open;
    if (graceful)
        for (const auto& sc : s->channels)
            if (sc->ch.is_open()) open.push_back(&sc->ch);
    if (open.empty()) return close_connection();
    auto left = std::make_shared<std::size_t>(open.size());
    for (amqp::channel* ch : open)
        ch->async_close([left, close_connection](amqp::error_code) {
            if (--*left == 0) close_connection();
        });
}

void server_impl::close_session(const std::shared_ptr<session>& s) {
    if (s && s->conn && s->conn->is_open()) s->conn->async_close([s](amqp::error_code) {});
}

void server_impl::abandon() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        reconnect_timer_.cancel();
        drain_timer_.cancel();
    }
    if (pool_) {
        pool_->stop();
        pool_->join();
    }
}

void server_impl::on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
    std::lock_guard lock(mutex_);
    on_lost_ = std::move(h);
}

void server_impl::on_log(std::function<void(std::string_view)> h) {
    std::lock_guard lock(mutex_);
    on_log_ = std::move(h);
}

server_stats server_impl::stats() const {
    return {stats_.requests.load(),         stats_.replies.load(),          stats_.no_reply_to.load(),
            stats_.handler_failures.load(), stats_.publish_failures.load(), stats_.reconnects.load(),
            stats_.rejected.load(),         stats_.acks.load(),             stats_.replies_returned.load(),
            stats_.replies_unconfirmed.load(), stats_.expired_dropped.load()};
}

std::size_t server_impl::in_flight() const {
    std::lock_guard lock(mutex_);
    return drain_.in_flight();
}

std::string server_impl::last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

// Never with mutex_ or an ack_mutex held (it takes mutex_, and the owner's handler may call
// in_flight()).
void server_impl::log(const std::string& text) {
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

}  // namespace rpc::detail
