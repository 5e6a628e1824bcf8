// The cluster tests' load client: keeps K Fibonacci calls in flight on one rpc_client until N are
// answered, checks every answer, and prints a line per answer with its time (CLOCK_MONOTONIC, the
// clock of Python's time.monotonic) so that the driver (rpc_failover_test.py) knows when to kill a
// node and how long the calls took to come back after it. rpc_bench measures; this one observes.
//
//   cluster_load [--url URL]... [--shuffle-nodes] [--queue Q] [--queue-type T] [--confirms]
//                [--requests N] [--inflight K] [--n N] [--timeout S] [--interval-ms MS] [--not-idempotent]
// Output: "answered <count> <seconds>" per correct answer, then "stats ..." (the client's counters).
// Exit 0 when all N were answered correctly; 1 at the first failed or wrong call, with its text.
// SIGTERM or SIGINT: start no more calls, finish those in flight, exit as above.
// --not-idempotent: the calls go through rpc_client::async_request as plain requests, which the
// client must not re-send (only fibonacci_client marks its calls idempotent).
#include <fibonacci/fibonacci_client.hpp>
#include <programs/cli.hpp>
#include <rpc/rpc_client.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

namespace {

constexpr std::string_view usage =
    "usage: cluster_load [--url URL]... [--shuffle-nodes] [--queue Q] [--queue-type T] [--confirms]\n"
    "                    [--requests N] [--inflight K] [--n N] [--timeout S] [--interval-ms MS] [--not-idempotent]\n"
    "                    [--direct-reply-to]\n";

const rpc::cli::option_group own_options{
    {{"requests", true},
     {"inflight", true},
     {"n", true},
     {"timeout", true},
     {"interval-ms", true},
     {"not-idempotent", false}},
    "  --requests N         calls in all (default 300)\n"
    "  --inflight K         calls outstanding at once (default 16)\n"
    "  --n N                the Fibonacci argument (default 20)\n"
    "  --timeout S          per-call timeout (default 60)\n"
    "  --interval-ms MS     pause between a slot's answer and its next call (default 0)\n"
    "  --not-idempotent     plain requests, which the client must not re-send\n"};

double monotonic_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct plan {
    std::uint64_t requests = 300;
    std::uint64_t inflight = 16;
    std::uint64_t n = 20;
    std::chrono::milliseconds timeout{60000};
    std::chrono::milliseconds interval{0};
    bool idempotent = true;
};

/// K slots, each: call, check, pause `interval`, call again, until `requests` calls were made or
/// stop() was called. Handlers hold the object (shared), so none outlives it.
class load : public std::enable_shared_from_this<load> {
public:
    load(rpc::rpc_client& client, const plan& p) : client_(client), plan_(p), expected_(rpc::fibonacci(p.n)) {
        slots_.reserve(p.inflight);
        for (std::uint64_t i = 0; i < p.inflight; ++i) slots_.emplace_back(client);
    }

    /// Empty when every call started was answered correctly, else the first failure.
    std::string run() {
        for (std::size_t s = 0; s < slots_.size(); ++s) next(s);
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] {
            return answered_ == plan_.requests || (stopping_ && answered_ == started_) || !failure_.empty();
        });
        return failure_;
    }

    /// No new call from now on; run() returns once the calls in flight are answered.
    void stop() {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        cv_.notify_all();
    }

private:
    // Stable addresses: the calls hold `diag` and the timer until they complete.
    struct slot {
        explicit slot(rpc::rpc_client& c) : pause(c.get_executor()) {}
        rpc::diagnostics diag;
        boost::asio::steady_timer pause;
    };

    void next(std::size_t s) {
        {
            std::lock_guard lock(mutex_);
            if (started_ == plan_.requests || stopping_ || !failure_.empty()) return;
            ++started_;
        }
        auto done = [self = shared_from_this(), s](rpc::error_code ec, const rpc::big_int& v) {
            self->on_answer(s, ec, v);
        };
        rpc::diagnostics& diag = slots_[s].diag;
        if (plan_.idempotent) {
            rpc::fibonacci_client(client_).async_call(plan_.n, plan_.timeout, diag, done);
            return;
        }
        rpc::request_message req{std::to_string(plan_.n), {}, plan_.timeout, {}};
        req.idempotent = false;  // the default, said out loud: this is the call that must not be re-sent
        client_.async_request(std::move(req), diag, [&diag, done](rpc::error_code ec, rpc::reply_message r) {
            rpc::big_int v = ec ? rpc::big_int(0) : rpc::detail::fibonacci_value(ec, r, &diag);
            done(ec, v);
        });
    }

    void on_answer(std::size_t s, rpc::error_code ec, const rpc::big_int& v) {
        {
            std::lock_guard lock(mutex_);
            if (!failure_.empty()) return;
            if (ec || v != expected_) {
                const std::string& why = slots_[s].diag.message;
                failure_ = ec ? "call failed: " + (why.empty() ? ec.message() : why)
                              : "wrong answer to fib(" + std::to_string(plan_.n) + "): " + v.str();
                cv_.notify_all();
                return;
            }
            ++answered_;
            std::printf("answered %llu %.6f\n", static_cast<unsigned long long>(answered_), monotonic_seconds());
            std::fflush(stdout);
            if (answered_ == plan_.requests || stopping_) {
                cv_.notify_all();
                if (!stopping_) return;
            }
        }
        if (plan_.interval.count() == 0) return next(s);
        slots_[s].pause.expires_after(plan_.interval);
        slots_[s].pause.async_wait([self = shared_from_this(), s](const rpc::error_code& e) {
            if (!e) self->next(s);
        });
    }

    rpc::rpc_client& client_;
    const plan plan_;
    const rpc::big_int expected_;
    std::vector<slot> slots_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t started_ = 0;
    std::uint64_t answered_ = 0;
    bool stopping_ = false;
    std::string failure_;
};

int run_load(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (!args.positionals.empty()) throw usage_error("unexpected argument '" + args.positionals.front() + "'");
    plan p;
    if (auto v = args.value("requests")) p.requests = parse_count(*v, 1, 100000, "--requests");
    if (auto v = args.value("inflight")) p.inflight = parse_count(*v, 1, 1024, "--inflight");
    if (auto v = args.value("n")) p.n = parse_count(*v, 0, 10000, "--n");
    if (auto v = args.value("timeout")) p.timeout = parse_seconds(*v, "--timeout");
    if (auto v = args.value("interval-ms"))
        p.interval = std::chrono::milliseconds(parse_count(*v, 0, 10000, "--interval-ms"));
    p.idempotent = !args.flag("not-idempotent");
    rpc::client_options opts = client_options_from(args);
    opts.default_timeout = p.timeout;
    opts.reconnect = true;

    io_thread io;
    rpc::rpc_client client(io.executor(), broker_nodes_from(args), opts);
    client.start();
    auto l = std::make_shared<load>(client, p);
    // SIGTERM/SIGINT: finish the calls in flight, start no more (the rolling restart's end).
    boost::asio::signal_set signals(io.context(), SIGINT, SIGTERM);
    signals.async_wait([l](const rpc::error_code& e, int) {
        if (!e) l->stop();
    });
    const std::string failure = l->run();
    const rpc::client_stats st = client.stats();
    signals.cancel();
    client.close();
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf(
        "stats published=%llu resent=%llu replies=%llu duplicates=%llu late=%llu unknown=%llu reconnects=%llu "
        "timeouts=%llu\n",
        u(st.calls), u(st.resent), u(st.replies), u(st.duplicate_replies), u(st.late_replies), u(st.unknown_replies),
        u(st.reconnects), u(st.timeouts));
    std::fflush(stdout);
    if (!failure.empty()) {
        print_error(failure);
        return exit_failure;
    }
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, client_queue_options, client_durability_options, own_options},
               run_load);
}
