// The client's Asio shell: it feeds the core (client_core.hpp) the connection's events and the
// time, and carries out the core's actions with the amqp API and one timer. Everything runs on
// one strand: the client's connections are created on it, so the connection's own strand (and
// with it every delivery, return and close notification) runs inside it too. No mutex: other
// threads reach the core by posting to the strand, and read its counters from atomics the strand
// refreshes before it runs completion handlers and after each event.
//
// Private to the client: client_impl.cpp carries out the calls (start, submit, the core's
// actions), client_connection.cpp sets up connections and turns their events into the core's.
#pragma once

#include <rpc/broker_nodes.hpp>
#include <rpc/client_core.hpp>
#include <rpc/rpc_client.hpp>

#include <amqp/connection.hpp>

#include "client_setup.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace rpc::detail {

// What the core keeps for a request: its handler, where its text goes, and the io_context the
// handler may be called directly on (launch_request's `direct`).
struct request_context final : call_context {
    request_context(request_handler h, diagnostics* d, boost::asio::io_context* io)
        : handler(std::move(h)), diag(d), direct(io) {}
    request_handler handler;
    diagnostics* diag;
    boost::asio::io_context* direct;
};

class client_impl : public std::enable_shared_from_this<client_impl> {
public:
    using clock = std::chrono::steady_clock;

    client_impl(boost::asio::any_io_executor ex, broker_nodes nodes, client_options opts);

    const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
    correlation_id_generator& ids() noexcept { return core_.ids(); }  // thread-safe
    std::chrono::milliseconds default_timeout() const noexcept { return opts_.default_timeout; }

    template <class F>
    void on_strand(F&& f) {
        boost::asio::post(strand_, std::forward<F>(f));
    }

    // Throws call_error(would_deadlock) on a thread that runs the user's executor or our strand.
    void refuse_blocking_on_executor(const char* what) const;

    // ---- on the strand ----------------------------------------------------------------------
    void start(start_handler h);
    // The start's attempt on node `node`; `failures` says why the nodes before it failed.
    void start_on(std::size_t node, std::string failures, start_handler h);
    void submit(const generated_id& id, request_message req, std::unique_ptr<request_context> ctx);
    // A request made from inside the strand (a completion handler that makes the next request,
    // dispatched inline by run_actions): it enters the core at once, saving a post per request.
    // Whatever completes meanwhile is posted, never run inside the initiating function.
    bool try_submit_inline(const generated_id& id, request_message& req, std::unique_ptr<request_context>& ctx);
    void cancel(std::uint64_t key, boost::asio::cancellation_type_t type);
    void close(std::optional<clock::time_point> deadline, start_handler h);
    // The handle is gone: fail what is pending; the connection's destructor then closes the
    // socket without a handshake.
    void abandon();

    // ---- snapshots, any thread --------------------------------------------------------------
    std::string reply_queue() const { return *reply_queue_.load(); }
    std::string start_failure() const { return *start_failure_.load(); }
    std::size_t pending_calls() const noexcept { return pending_.load(std::memory_order_relaxed); }
    std::size_t held_requests() const noexcept { return held_.load(std::memory_order_relaxed); }
    bool is_running() const noexcept { return running_.load(std::memory_order_relaxed); }
    bool is_blocked() const noexcept { return blocked_.load(std::memory_order_relaxed); }
    client_stats stats() const noexcept;

private:
    static constexpr std::size_t stat_count = 12;

    bool on_executor_thread() const;

    // ---- the core's actions (client_impl.cpp) -----------------------------------------------
    // Carry out what the core asked for, in order. An action may feed the core again (a failed
    // publish); what that adds is carried out in the next round.
    void run_actions();
    void execute(client_action& a);
    void publish(client_action& a);
    void finish(client_action& a);
    void complete(start_handler h, error_code ec);
    void refresh_snapshot() noexcept;
    void adopt(amqp::channel ch, std::string queue);

    // ---- connections (client_connection.cpp) ------------------------------------------------
    // Whose events a handler reports: a replaced connection's (older generation) and a failed start
    // attempt's (not conn_) are ignored.
    struct link {
        const amqp::connection* conn;
        std::uint64_t generation;
        std::size_t node;
    };
    void set_up(std::shared_ptr<amqp::connection> conn, link l, setup_handler done);
    // One attempt, in the background; held requests wait for it.
    void reconnect(std::uint64_t generation, std::size_t node);
    void install_connection_handlers(amqp::connection& conn, link l);
    void install_channel_handlers(amqp::channel& ch, link l);
    // The connection of `l` ended: `why`, naming its node, goes to every pending call.
    void lost(const link& l, errc code, const std::string& why);
    // "host:port" of node `node` (index in nodes_).
    std::string node_name(std::size_t node) const;
    std::string attempt_failure(std::size_t node, const std::string& why) const;
    // On the connection's strand, inside ours; the message's views die with this call.
    void on_reply(const amqp::delivered_message& m);

    boost::asio::any_io_executor executor_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::steady_timer timer_;              // the core's one timer
    std::vector<amqp::connection_options> nodes_;  // in the order they are tried
    client_options opts_;
    client_core core_;
    std::shared_ptr<amqp::connection> conn_;     // replaced by a reconnection
    std::shared_ptr<amqp::connection> attempt_;  // a reconnection under way
    std::size_t node_ = 0;                       // of conn_ (index in nodes_)
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

}  // namespace rpc::detail
