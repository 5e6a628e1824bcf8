// Internal: the state behind rpc_server. The request path (server_requests.cpp: take a delivery,
// run the handler, publish the reply, ack) and the life cycle (server_lifecycle.cpp: connect,
// reconnect on a timer, drain and close) share it.
#pragma once

#include <rpc/ack_window.hpp>
#include <rpc/reply_strikes.hpp>
#include <rpc/rpc_server.hpp>
#include <rpc/server_backoff.hpp>
#include <rpc/server_drain.hpp>

#include <amqp/connection.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

namespace rpc::detail {

// Complete `h` through its associated executor, never inside the caller (Asio's rule for
// initiating functions, and no lock of ours is held by then).
template <class Handler, class... Args>
void complete_later(const boost::asio::any_io_executor& ex, Handler h, Args... args) {
    auto slot = boost::asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    // post() runs it through its associated executor (ex when it has none).
    boost::asio::post(ex, boost::asio::append(std::move(h), args...));
}

/// One service as added: its queue and handler (exactly one of the three kinds).
struct service {
    std::string queue;
    service_options opts;
    request_handler sync;
    async_request_handler async;
    owning_request_handler owning;  // synchronous, may move the request's buffers out
};

/// One service's channel on one connection: delivery tags and acks belong to their channel.
struct service_channel {
    const service* svc = nullptr;
    amqp::channel ch;
    std::string consumer_tag;
    // Held while an ack is sent too: two acks with multiple=true must reach the connection in
    // the order they were taken (the later one first would make the earlier an unknown tag).
    std::mutex ack_mutex;
    ack_window acks;            // guarded by ack_mutex
    bool flush_posted = false;  // guarded by ack_mutex
};

/// A probe's reply waiting for the probe before it to come back (reply_strikes).
struct waiting_probe {
    service_channel* sc = nullptr;
    std::string reply_to;
    std::optional<std::string> correlation_id;
    std::uint64_t tag = 0;
    reply r;
};

/// One connection's worth of state; replaced whole on reconnection.
struct session {
    std::unique_ptr<amqp::connection> conn;
    std::vector<std::unique_ptr<service_channel>> channels;
    std::size_t node = 0;  // index in server_impl::nodes_

    // Probes (rpc/reply_strikes.hpp): the redelivered requests to a direct reply-to address, the
    // reply_to of the one whose reply is out, and those waiting their turn. Under probe_mutex;
    // probe_count (the size of probe_tags) is read without it on every reply.
    std::mutex probe_mutex;
    std::atomic<std::size_t> probe_count{0};
    std::vector<std::pair<const service_channel*, std::uint64_t>> probe_tags;
    std::optional<std::string> probing;
    std::deque<waiting_probe> probes_waiting;
};

class server_impl;

/// Where one request's reply goes, and what settles it once published.
struct reply_state {
    std::shared_ptr<server_impl> server;
    std::shared_ptr<session> s;
    service_channel* sc = nullptr;
    std::string reply_to;
    std::optional<std::string> correlation_id;
    std::uint64_t delivery_tag = 0;
    std::atomic<bool> answered{false};

    /// Publish and ack once; false if already done.
    bool answer(reply r);
    ~reply_state();
};

class server_impl : public std::enable_shared_from_this<server_impl> {
    friend struct reply_state;
    friend class rpc::reply_sender;

public:
    server_impl(boost::asio::any_io_executor ex, broker_nodes nodes, server_options opts);
    void add_service(service s);
    /// For the owner's destructor: no draining; requests in flight stay unacked (redelivered).
    void abandon();

    void start(boost::asio::any_completion_handler<void(amqp::error_code)> handler);
    void stop(boost::asio::any_completion_handler<void(bool)> handler);
    void halt();

    void on_connection_lost(std::function<void(const amqp::close_reason&)> h);
    void on_log(std::function<void(std::string_view)> h);
    server_stats stats() const;
    std::size_t in_flight() const;
    std::string last_error() const;
    /// True if the calling thread runs the executor (for the executor types Asio can tell).
    bool on_executor_thread() const;

    const boost::asio::any_io_executor& executor() const noexcept { return executor_; }

    // --- the request path (server_requests.cpp) ---
    void on_request(const std::shared_ptr<session>& s, service_channel& sc, const amqp::delivered_message& m);
    /// Publish `r` (or an error reply in its place when too large) for a request that has a
    /// reply_to, then settle it.
    void complete(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                  const std::optional<std::string>& correlation_id, std::uint64_t tag, const reply& r);
    void log(const std::string& text);

private:
    // server_requests.cpp
    void run_async(const std::shared_ptr<session>& s, service_channel& sc, const amqp::delivered_message& m);
    bool cheap(const service& svc, const amqp::delivered_message& m) const noexcept;
    void reject(service_channel& sc, const amqp::delivered_message& m);
    /// `req` is left as the handler leaves it (an owning handler may have moved its fields out).
    reply run_handler(const service& svc, request& req);
    void finished(const std::shared_ptr<session>& s, service_channel& sc, std::uint64_t tag);

    // server_replies.cpp
    /// Publish the reply to request `tag`, then settle the request: acked once the reply is
    /// handed to the connection, or (confirm_replies) once the broker confirmed or returned it.
    void respond(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                 const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r);
    void publish_checked(amqp::channel& ch, std::string_view reply_to, const std::optional<std::string_view>& cid,
                         const reply& r);
    amqp::error_code publish_reply(amqp::channel& ch, std::string_view reply_to,
                                   const std::optional<std::string_view>& correlation_id, const reply& r);
    struct confirmed_reply;
    void publish_confirmed(std::shared_ptr<confirmed_reply> c, const reply& r);
    void reply_settled(const std::shared_ptr<confirmed_reply>& c, amqp::error_code ec);
    void release(service_channel& sc, std::uint64_t tag);
    /// The reply to request `tag`, published and settled (respond() without the probe's turn).
    void send_reply(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                    const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r);
    /// A redelivered request to a direct reply-to address (reply_strikes): true if `tag` is one
    /// (it is one no longer).
    bool take_probe(session& s, const service_channel& sc, std::uint64_t tag);
    void send_probe(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                    const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r);
    void probe_out(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                   const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r);
    void probe_back(const std::shared_ptr<session>& s, const std::string& reply_to, amqp::error_code ec);
    /// A request to a condemned address: rejected without requeue, not answered.
    void drop_unreachable(service_channel& sc, const amqp::delivered_message& m);
    bool condemned(std::string_view reply_to);
    void send_acks(service_channel& sc, std::unique_lock<std::mutex>& lock);
    void settled(std::size_t n);

    // server_lifecycle.cpp
    struct connect_op;
    void connect(std::function<void(amqp::error_code, std::shared_ptr<session>)> done);
    // start(): connect to node_, then to each next node until one is set up.
    void start_on(std::size_t tried, std::string failures,
                  std::shared_ptr<boost::asio::any_completion_handler<void(amqp::error_code)>> h,
                  std::shared_ptr<std::atomic<bool>> cancelled);
    // node_ moves on to the next node; returns the old node's name. With mutex_ held.
    std::string next_node();
    std::string node_name(std::size_t node) const;
    bool install(const std::shared_ptr<session>& s);
    void lost(const std::shared_ptr<session>& s, const amqp::close_reason& r);
    std::string strike_probe(session& s, const amqp::close_reason& r);
    void schedule_reconnect();
    void finish_stop();
    void close_session(const std::shared_ptr<session>& s);

    boost::asio::any_io_executor executor_;
    std::vector<amqp::connection_options> nodes_;  // in the order they are tried
    std::size_t node_ = 0;                         // of the current or next connection (mutex_)
    server_options opts_;
    std::vector<std::unique_ptr<service>> services_;
    std::optional<boost::asio::thread_pool> pool_;  // only with workers > 0
    request inline_request_;                        // inline requests: reused (strand only)

    mutable std::mutex mutex_;
    bool started_ = false;
    bool stopping_ = false;
    server_drain drain_;
    std::optional<bool> stop_result_;
    std::vector<boost::asio::any_completion_handler<void(bool)>> stop_handlers_;
    std::shared_ptr<session> session_;
    bool lost_reported_ = false;
    boost::asio::steady_timer drain_timer_;
    boost::asio::steady_timer reconnect_timer_;
    server_backoff backoff_;
    reply_strikes strikes_;                   // mutex_
    std::atomic<bool> any_condemned_{false};  // strikes_.any_condemned(), read without mutex_
    std::string last_error_;
    std::function<void(const amqp::close_reason&)> on_lost_;
    std::function<void(std::string_view)> on_log_;

    struct {
        std::atomic<std::uint64_t> requests{0}, replies{0}, no_reply_to{0}, handler_failures{0}, publish_failures{0},
            reconnects{0}, rejected{0}, acks{0}, replies_returned{0}, replies_unconfirmed{0}, expired_dropped{0},
            unreachable_dropped{0};
    } stats_;
};

}  // namespace rpc::detail
