// The server's life cycle, all of it asynchronous on the server's executor: connect and consume
// every service's queue, reconnect after a loss on a timer (server_backoff). The stop (drain and
// close) is server_stop.cpp's. No thread of its own.
#include "server_impl.hpp"
#include "setup_deadline.hpp"

#include <amqp/codec/printable.hpp>

#include <iostream>
#include <random>
#include <stdexcept>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

namespace rpc::detail {

namespace {

std::string describe(const amqp::error_code& ec, const amqp::close_reason& channel, const amqp::close_reason& conn) {
    if (channel.code == ec) return channel.to_string();
    if (conn.code == ec) return conn.to_string();
    return ec.message();
}

}  // namespace

server_impl::server_impl(boost::asio::any_io_executor ex, broker_nodes nodes, server_options opts)
    : executor_(ex),
      opts_(std::move(opts)),
      drain_timer_(ex),
      reconnect_timer_(ex),
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
    std::optional<setup_deadline> deadline;  // the steps after the open

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
            op->deadline.emplace(op->self->executor_);
            op->deadline->arm(*op->s->conn, op);
            op->open_channel();
        });
    }

    void open_channel() {
        if (next == self->services_.size()) return finish({});
        deadline->step("channel.open");
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
        deadline->step("queue.declare");
        sc.ch.async_declare_queue(std::move(q), [op = shared_from_this(), &sc](amqp::error_code ec, amqp::queue_info) {
            if (ec) return op->fail(ec, &sc, declare_hint(sc, op->s->conn->last_close_reason()));
            op->deadline->step("basic.qos");
            sc.ch.async_qos(sc.svc->opts.prefetch, [op, &sc](amqp::error_code ec2) {
                if (ec2) return op->fail(ec2, &sc);
                if (!op->self->opts_.confirm_replies) return op->consume(sc);
                // Before the first delivery: every reply on the channel is then confirmed.
                op->deadline->step("confirm.select");
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
        deadline->step("basic.consume");
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
        std::string why;
        if (deadline && deadline->expired()) {
            ec = setup_deadline::error();
            why = deadline->why();
        } else {
            why = describe(ec, sc ? sc->ch.last_close_reason() : amqp::close_reason{}, s->conn->last_close_reason());
            if (!hint.empty()) why += "; " + hint;
        }
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
        if (deadline) deadline->cancel();
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
    connect([self = shared_from_this(), tried, failures = std::move(failures), h, cancelled](
                amqp::error_code ec, std::shared_ptr<session> s) mutable {
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
    std::string lost_node, to, strike;
    {
        std::lock_guard lock(mutex_);
        if (!s || s != session_ || lost_reported_ || stopping_) return;
        lost_reported_ = true;
        strike = strike_probe(*s, r);
        h = on_lost_;
        if (opts_.reconnect) {
            h = nullptr;
            lost_node = next_node();
            to = node_name(node_);
            schedule_reconnect();
        }
    }
    if (!strike.empty()) log(strike);
    if (opts_.reconnect) log("connection lost (node " + lost_node + "): " + r.to_string() + "; reconnecting to " + to);
    if (h) h(r);
}

// The broker closed the connection with 541 INTERNAL_ERROR while a probe was out: a strike
// against its reply_to (rpc/reply_strikes.hpp). Returns the line to log, empty if none. With
// mutex_ held.
std::string server_impl::strike_probe(session& s, const amqp::close_reason& r) {
    if (!r.from_broker || r.reply_code != 541) return {};
    std::string address;
    {
        std::lock_guard lock(s.probe_mutex);
        if (!s.probing) return {};
        address = *s.probing;
    }
    const unsigned n = strikes_.strike(address);
    any_condemned_ = strikes_.any_condemned();
    std::string line = "the broker closed the connection (541) while a reply to " + amqp::printable(address) +
                       " was out alone: strike " + std::to_string(n) + " of " +
                       std::to_string(reply_strikes::strikes_to_condemn);
    if (n >= reply_strikes::strikes_to_condemn)
        line += "; its requests are rejected unanswered from now on (its node is likely gone)";
    return line;
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

void server_impl::on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
    std::lock_guard lock(mutex_);
    on_lost_ = std::move(h);
}

void server_impl::on_log(std::function<void(std::string_view)> h) {
    std::lock_guard lock(mutex_);
    on_log_ = std::move(h);
}

server_stats server_impl::stats() const {
    return {stats_.requests.load(),         stats_.replies.load(),
            stats_.no_reply_to.load(),      stats_.handler_failures.load(),
            stats_.publish_failures.load(), stats_.reconnects.load(),
            stats_.rejected.load(),         stats_.acks.load(),
            stats_.replies_returned.load(), stats_.replies_unconfirmed.load(),
            stats_.expired_dropped.load(),  stats_.unreachable_dropped.load()};
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
    if (h) h(text);
    else std::cerr << " [!] " << text << std::endl;
}

}  // namespace rpc::detail
