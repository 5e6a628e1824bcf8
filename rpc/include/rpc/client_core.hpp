// The RPC client's state as a plain object (sans-IO): the table of calls keyed by correlation id,
// their deadlines, the requests held while the broker blocks the connection or a reconnection is
// awaited, the reconnection backoff and the counters. It owns no socket, no timer, no thread and
// no clock: it is fed events together with the time they happened at, and answers with actions
// for its owner to carry out (publish, complete, arm the timer, reconnect). The Asio client
// (rpc_client.hpp) is one such owner; unit tests are another.
#pragma once

#include <rpc/client_reply.hpp>
#include <rpc/correlation_id.hpp>
#include <rpc/error.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace rpc {

/// What the owner keeps with a call until it completes (its handler, say). The core hands it
/// back, untouched, in the call's one `complete` action.
struct call_context {
    virtual ~call_context() = default;
};

/// How a cancellation reached a call (the values of boost::asio::cancellation_type, so that the
/// core needs no Asio): a call not yet published accepts all three; one on the wire accepts
/// terminal and partial only (its request cannot be taken back).
namespace cancel_kind {
inline constexpr unsigned terminal = 1, partial = 2, total = 4;
}

/// The core's settings: client_options' timing and the connection's size limit.
struct client_core_options {
    std::chrono::milliseconds default_timeout{30000};
    bool reconnect = false;
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
    std::size_t max_message_size = 128 * 1024 * 1024;
    /// How many broker nodes the owner can connect to (broker_nodes, in the order it tries them).
    /// A lost connection reconnects to the next node; a failed attempt moves on to the next one
    /// after the backoff, held calls waiting, until every node failed once in a row: then the
    /// held calls fail.
    std::size_t node_count = 1;
    /// client_options::confirm_requests: the owner publishes on a confirm-mode channel and reports
    /// each request's nack (publish_nacked); a nacked call is re-sent when idempotent (at most
    /// max_resends times, after reconnect_min doubling with each re-send, at most reconnect_max),
    /// else fails with not_confirmed.
    bool confirm_requests = false;
    /// Six re-sends wait 100 ms to 3.2 s with the default reconnect_min: long enough for a quorum
    /// queue to elect a new leader (it nacks meanwhile), bounded by the call's own timeout anyway.
    unsigned max_resends = 6;
};

/// One thing the owner must do, in the order given.
struct client_action {
    enum class kind : unsigned char;
    explicit client_action(kind k) noexcept : what(k) {}

    enum class kind : unsigned char {
        publish,    ///< send `request` with correlation id `id`, expiration `ttl`; report a failure by
                    ///< publish_failed(key)
        complete,   ///< complete `context` with `ec` (text in `message`) or with `reply`
        arm_timer,  ///< (re)arm the one timer for `at` (it replaces any earlier arming); call timer_fired then
        reconnect,  ///< start a reconnection attempt now for connection `generation`, to node `node`
    } what;
    std::uint64_t key = 0;
    generated_id id;
    request_message request;
    std::chrono::milliseconds ttl{0};
    std::unique_ptr<call_context> context;
    error_code ec;
    std::string message;
    reply_message reply;
    std::chrono::steady_clock::time_point at;
    std::uint64_t generation = 0;
    std::size_t node = 0;
};

/// A reply as the connection delivered it: the views live only for the event's call.
struct incoming_reply {
    std::optional<std::string_view> correlation_id;
    std::string_view body;
    std::optional<std::string_view> content_type;
    const amqp::field_table* headers = nullptr;  ///< decoded headers, when the reply had any
    bool body_refused = false;                   ///< declared size above max_message_size: not read
    std::uint64_t body_size = 0;                 ///< the declared size
    std::string_view fault;                      ///< the reply broke a limit of ours (printable text); not read
};

/// The core. Single-threaded: the owner calls it from one thread or strand at a time; only
/// `ids()` may be used from any thread. Every event appends its actions to `actions()`, which the
/// owner drains and carries out before the next event.
class client_core {
public:
    using clock = std::chrono::steady_clock;
    enum class state { not_started, running, lost, closed };

    explicit client_core(client_core_options opts);
    /// Fixed id seeds, for tests (see correlation_id_generator).
    client_core(client_core_options opts, std::uint64_t counter_seed, std::uint64_t client_part);

    /// The generator of correlation ids (thread-safe): the owner may take a call's id before it
    /// reaches the core, to show it to the caller at once.
    correlation_id_generator& ids() noexcept { return ids_; }

    // ---- events -----------------------------------------------------------------------------
    /// A new call with its id (from ids()). Published at once when running and not blocked;
    /// held when blocked or when a reconnection may bring the connection back (which this call
    /// then starts, now or once the backoff has passed); failed at once otherwise (not_started,
    /// the loss's code, message_too_large).
    void submit(const generated_id& id, request_message req, std::unique_ptr<call_context> ctx, clock::time_point now);
    /// A reply arrived on the reply consumer.
    void reply_received(const incoming_reply& r);
    /// The broker returned a request (basic.return, e.g. 312 NO_ROUTE).
    void returned(std::optional<std::string_view> correlation_id, std::uint16_t reply_code, std::string_view reply_text,
                  std::string_view routing_key);
    /// The publish of call `key` failed locally (the channel closed meanwhile...).
    void publish_failed(std::uint64_t key, const error_code& ec);
    /// The broker confirmed call `key`'s request, published on connection `generation`.
    void publish_confirmed(std::uint64_t key, std::uint64_t generation);
    /// The broker nacked call `key`'s request (published on `generation`): an idempotent call
    /// is published again, another fails with not_confirmed. (A publish left unconfirmed by a
    /// lost connection is the loss's business: connection_lost.)
    void publish_nacked(std::uint64_t key, std::uint64_t generation, std::string_view why, clock::time_point now);
    /// The timer armed by the last arm_timer action fired (or a stale arming: harmless).
    void timer_fired(clock::time_point now);
    /// The connection of `generation` is set up (first start: generation 0), to node `node`.
    /// Returns false when it was lost meanwhile (then nothing changes but `lost_reason()` explains).
    bool connection_up(std::uint64_t generation, clock::time_point now, std::size_t node = 0);
    /// start(): the attempt on one node failed before connection_up; the owner tries the next
    /// node with generation 0 again, so the failed attempt's loss is forgotten.
    void start_attempt_failed();
    /// A reconnection attempt for `generation` (to the node its action named) failed with text `why`.
    void reconnect_failed(std::uint64_t generation, const std::string& why, clock::time_point now);
    /// The connection of `generation` (or its channel or reply consumer) ended: every pending
    /// call fails with `code` and `why`, except, when a reconnection is possible, idempotent
    /// calls, which are held and published again after it (their reply queue died with the
    /// connection); with confirm_requests a non-idempotent call not yet confirmed fails with
    /// not_confirmed. Events of an older generation, and all but the first loss of one
    /// generation, are ignored.
    void connection_lost(std::uint64_t generation, errc code, const std::string& why,
                         clock::time_point now = clock::time_point::min());
    /// connection.blocked (true, with the broker's reason) / connection.unblocked (false).
    void blocked(std::uint64_t generation, bool is_blocked, std::string_view reason, clock::time_point now);
    /// The caller cancelled call `key` with the cancellation types in `kinds` (cancel_kind):
    /// completed with operation_aborted when the call's state accepts one of them.
    void cancel(std::uint64_t key, unsigned kinds);
    /// close(): every call fails (connection_lost, "RPC client closed"); the core is closed for good.
    void close();

    // ---- state ------------------------------------------------------------------------------
    std::vector<client_action>& actions() noexcept { return actions_; }
    state current_state() const noexcept { return state_; }
    bool is_blocked() const noexcept { return blocked_; }
    std::uint64_t generation() const noexcept { return generation_; }
    bool reconnecting() const noexcept { return reconnecting_; }
    /// The node of the connection in use (or last in use).
    std::size_t node() const noexcept { return node_; }
    const std::string& lost_reason() const noexcept { return stop_reason_; }
    std::size_t pending_calls() const noexcept { return calls_.size(); }
    std::size_t held_requests() const noexcept { return held_.size(); }
    const client_stats& stats() const noexcept { return stats_; }
    /// The time the last arm_timer asked for (max: none).
    clock::time_point timer_at() const noexcept { return timer_at_; }

private:
    /// One call from submit to its completion, in the table (whose nodes never move) and linked,
    /// by deadline, into the list of the calls that share its timeout.
    struct call {
        generated_id id;
        std::unique_ptr<call_context> context;
        request_message request;  // until published: a held request goes out later
        std::chrono::milliseconds timeout{0};
        clock::time_point deadline;
        bool held = false;
        bool saw_block = false;  // the broker blocked the connection while this call waited
        bool idempotent = false;
        bool confirmed = false;
        unsigned resends = 0;
        std::uint64_t seq = 0;         // submit order
        std::uint64_t generation = 0;  // of the connection it was last published on
        request_message copy;          // idempotent: what a re-send publishes
        call* earlier = nullptr;
        call* later = nullptr;
    };
    struct deadline_list {
        call* first = nullptr;
        call* last = nullptr;
        void push_back(call& c) noexcept;
        void remove(call& c) noexcept;
        bool empty() const noexcept { return first == nullptr; }
    };
    using call_table = std::unordered_map<std::uint64_t, call>;

    void publish(call& c, std::chrono::milliseconds ttl);
    void flush_held(clock::time_point now);
    void complete(call_table::iterator it, error_code ec, std::string why);
    // The same, returning the action (a reply is built in it, in place).
    client_action& complete_action(call_table::iterator it, error_code ec, std::string why);
    void fail_now(std::unique_ptr<call_context> ctx, error_code ec, std::string why);
    void fail_all(errc code, const std::string& why, bool keep_idempotent = false);
    void hold_for_resend(call& c);
    static void remember(std::unordered_set<std::uint64_t>& set, std::deque<std::uint64_t>& order, std::uint64_t key);
    void forget(std::uint64_t key);
    void remove_held(std::uint64_t key);
    std::string timeout_reason(const call& c);
    void start_reconnect_when_due(clock::time_point now);
    void push_reconnect();
    void rearm(bool after_fire);
    bool can_reconnect() const noexcept;

    client_core_options opts_;
    correlation_id_generator ids_;
    std::vector<client_action> actions_;
    call_table calls_;
    std::map<std::chrono::milliseconds, deadline_list> deadlines_;  // by timeout: each list in deadline order
    std::deque<std::uint64_t> held_;                                // keys not yet published, in order
    std::unordered_set<std::uint64_t> abandoned_;  // timed out or cancelled: a late reply is no stranger
    std::deque<std::uint64_t> abandoned_order_;
    std::unordered_set<std::uint64_t> resent_done_;  // re-sent calls answered: a second reply is a duplicate
    std::deque<std::uint64_t> resent_done_order_;
    std::uint64_t next_seq_ = 0;
    clock::time_point timer_at_ = clock::time_point::max();
    state state_ = state::not_started;
    std::string stop_reason_;
    errc stop_code_ = errc::not_started;
    bool blocked_ = false;
    std::string blocked_reason_;
    std::uint64_t generation_ = 0;
    bool reconnecting_ = false;                 // an attempt is under way, or due
    std::chrono::milliseconds retry_delay_{0};  // after a failed attempt: doubling
    clock::time_point next_attempt_at_ = clock::time_point::min();
    bool attempt_waiting_ = false;                            // an attempt waits for next_attempt_at_
    clock::time_point resend_at_ = clock::time_point::max();  // nacked calls held until then
    bool started_ = false;                                    // connection_up(0) succeeded once
    std::size_t node_ = 0;                                    // of the connection in use
    std::size_t next_node_ = 0;                               // where the next attempt goes
    std::size_t failed_in_a_row_ = 0;  // attempts failed since the last connection: a round ends at node_count
    client_stats stats_;
};

}  // namespace rpc
