// End-to-end RPC benchmark client on our rpc_client (issue 7): the same work and the same output
// as the peers' clients (bench/peers/rmqc_rpc_client.c, pika_rpc_client.py), so that one script
// can put them side by side. --inflight calls are kept outstanding (1 = sequential); each reply
// is checked against fib(n); the first --warmup calls are not measured.
//
//   rpc_bench [--url URL]... [--shuffle-nodes] [--requests 10000] [--inflight 1] [--n 10] [--warmup 1000]
//             [--queue rpc_queue] [--direct-reply-to] [--json] [--timeout S] [--max-seconds S] [--size B]
// --size B: the message-size runs' echo calls (rpc_client::async_request with a B-byte body, the
// reply expected to be the same bytes), against bench/rpc_echo_server or a peer's --echo server.
// Prints one line: rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
#include <programs/cli.hpp>
#include <fibonacci/fibonacci_client.hpp>
#include <rpc/rpc_client.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace {

constexpr std::string_view usage =
    "usage: rpc_bench [--url URL]... [--shuffle-nodes] [--requests N] [--inflight K] [--n N] [--warmup W]\n"
    "                 [--queue Q] [--direct-reply-to] [--json] [--timeout S] [--max-seconds S] [--size B]\n"
    "Send W + N requests fib(n) to the server on queue Q, K at a time, and print the throughput,\n"
    "the latency percentiles of the last N calls, and this process's CPU time per call.\n";

const rpc::cli::option_group own_options{
    {{"requests", true},
     {"warmup", true},
     {"inflight", true},
     {"n", true},
     {"json", false},
     {"timeout", true},
     {"max-seconds", true},
     {"size", true}},
    "  --requests N         measured calls (default 10000)\n"
    "  --inflight K         calls outstanding at once; 1 = sequential (default 1)\n"
    "  --n N                the Fibonacci argument (default 10)\n"
    "  --warmup W           unmeasured calls first (default 1000)\n"
    "  --json               the result as one JSON object\n"
    "  --timeout S          per-call timeout (default 30)\n"
    "  --max-seconds S      give up when the whole run takes longer (default 600)\n"
    "  --size B             echo calls: a B-byte body 'a'..'z' repeated, expected back as is\n"};

using steady = std::chrono::steady_clock;

std::uint64_t cpu_ns() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto us = [](const timeval& t) {
        return static_cast<std::uint64_t>(t.tv_sec) * 1000000u + static_cast<std::uint64_t>(t.tv_usec);
    };
    return (us(ru.ru_utime) + us(ru.ru_stime)) * 1000u;
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds (the rule the peers use).
double percentile_us(const std::vector<std::uint64_t>& sorted, double p) {
    if (sorted.empty()) return 0.0;
    auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

/// What the run asks for.
struct plan {
    std::uint64_t requests = 10000;
    std::uint64_t warmup = 1000;
    std::uint64_t inflight = 1;
    std::uint64_t n = 10;
    /// Echo calls with a body of this many bytes instead of fib(n).
    std::optional<std::size_t> size;
    std::chrono::milliseconds timeout{30000};
    std::chrono::milliseconds max_time{600000};
};

/// Keeps `inflight` calls outstanding: each completion records its latency and starts the next
/// call. Completions run on the client's strand; the mutex also covers the first calls, started
/// from the main thread while replies may already arrive.
class driver {
public:
    driver(rpc::rpc_client& client, const plan& p)
        : client_(client), plan_(p), expected_(rpc::fibonacci(p.n)), total_(p.warmup + p.requests), sent_at_(total_),
          diags_(std::min(p.inflight, total_)), echo_bodies_(diags_.size()) {
        latencies_.reserve(p.requests);
        if (p.size) {
            echo_body_.resize(*p.size);
            for (std::size_t i = 0; i < echo_body_.size(); ++i) echo_body_[i] = static_cast<char>('a' + i % 26);
        }
    }

    /// Runs every call; throws std::runtime_error on a failed call, a wrong reply or overtime.
    void run() {
        {
            std::lock_guard lock(mutex_);
            if (plan_.warmup == 0) mark_start();
        }
        const std::uint64_t first = std::min(plan_.inflight, total_);
        for (std::uint64_t i = 0; i < first; ++i) launch(next_++, i);
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, plan_.max_time, [&] { return done_ == total_ || !failure_.empty(); }))
            throw std::runtime_error("run took longer than --max-seconds (" + std::to_string(done_) + " of " +
                                     std::to_string(total_) + " answered)");
        if (!failure_.empty()) throw std::runtime_error(failure_);
        end_ = steady::now();
        cpu_end_ = cpu_ns();
    }

    /// The final line, in the peers' format (text or JSON).
    std::string report(bool json) {
        std::sort(latencies_.begin(), latencies_.end());
        const double secs = std::chrono::duration<double>(end_ - start_).count();
        const auto measured = static_cast<double>(latencies_.size());
        const double rps = secs > 0 ? measured / secs : 0.0;
        const double cpu_per = latencies_.empty() ? 0.0 : static_cast<double>(cpu_end_ - cpu_start_) / 1000.0 / measured;
        char line[256];
        std::snprintf(line, sizeof line,
                      json ? "{\"client\": \"ours\", \"rpc/s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
                             "\"p999_us\": %.1f, \"cpu_us_per_call\": %.2f, \"requests\": %zu}"
                           : "rpc/s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f cpu_us_per_call=%.2f requests=%zu",
                      rps, percentile_us(latencies_, 0.50), percentile_us(latencies_, 0.99),
                      percentile_us(latencies_, 0.999), cpu_per, latencies_.size());
        return line;
    }

private:
    // `slot`: which of the `inflight` call slots this call uses; its diagnostics carry the reason
    // of a failure (the broker's close text, e.g. 320 CONNECTION_FORCED), and the call that
    // follows it reuses the slot, so no allocation per call.
    void launch(std::uint64_t idx, std::size_t slot) {
        {
            std::lock_guard lock(mutex_);
            sent_at_[idx] = steady::now();
        }
        if (plan_.size) {
            // The slot's last reply, checked equal to the echo body, is the next request's body: as
            // a client reusing its buffer, no copy or allocation of a body per call here.
            std::string& reuse = echo_bodies_[slot];
            std::string body = reuse.size() == echo_body_.size() ? std::move(reuse) : echo_body_;
            client_.async_request(rpc::request_message{std::move(body), {}, plan_.timeout, {}}, diags_[slot],
                                  [this, idx, slot](rpc::error_code ec, rpc::reply_message r) {
                                      std::string wrong;
                                      if (r.body == echo_body_) echo_bodies_[slot] = std::move(r.body);
                                      else
                                          wrong = "wrong echo reply (" + std::to_string(r.body.size()) + " bytes for " +
                                                  std::to_string(echo_body_.size()) + ")";
                                      on_reply(idx, slot, ec, std::move(wrong));
                                  });
            return;
        }
        rpc::fibonacci_client(client_).async_call(plan_.n, plan_.timeout, diags_[slot], [this, idx, slot](rpc::error_code ec, rpc::big_int v) {
            on_reply(idx, slot, ec,
                     v == expected_ ? std::string{} : "wrong reply to fib(" + std::to_string(plan_.n) + "): " + v.str());
        });
    }

    /// `wrong`: empty for a correct reply, else what was wrong with it.
    void on_reply(std::uint64_t idx, std::size_t slot, rpc::error_code ec, std::string wrong) {
        const steady::time_point now = steady::now();
        std::uint64_t next = 0;
        {
            std::lock_guard lock(mutex_);
            if (!failure_.empty()) return;
            if (ec) {
                const std::string& why = diags_[slot].message;
                failure_ = "call " + std::to_string(idx) + " failed: " + (why.empty() ? ec.message() : why);
            } else if (!wrong.empty()) {
                failure_ = std::move(wrong);
            }
            if (!failure_.empty()) {
                cv_.notify_all();
                return;
            }
            if (idx >= plan_.warmup)
                latencies_.push_back(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at_[idx]).count()));
            ++done_;
            if (done_ == plan_.warmup) mark_start();
            if (done_ == total_) {
                cv_.notify_all();
                return;
            }
            if (next_ >= total_) return;
            next = next_++;
        }
        launch(next, slot);
    }

    void mark_start() {
        start_ = steady::now();
        cpu_start_ = cpu_ns();
    }

    rpc::rpc_client& client_;
    const plan plan_;
    const rpc::big_int expected_;
    std::string echo_body_;
    const std::uint64_t total_;
    std::vector<steady::time_point> sent_at_;
    std::vector<std::uint64_t> latencies_;
    std::vector<rpc::diagnostics> diags_;
    std::vector<std::string> echo_bodies_;  // per slot: the body its next echo call sends (moved in)

    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t next_ = 0;
    std::uint64_t done_ = 0;
    std::string failure_;
    steady::time_point start_{}, end_{};
    std::uint64_t cpu_start_ = 0, cpu_end_ = 0;
};

int bench(const rpc::cli::arguments& args) {
    using namespace rpc::cli;
    if (!args.positionals.empty()) throw usage_error("unexpected argument '" + args.positionals.front() + "'");
    plan p;
    constexpr std::uint64_t max_calls = 100000000;
    if (auto v = args.value("requests")) p.requests = parse_count(*v, 1, max_calls, "--requests");
    if (auto v = args.value("warmup")) p.warmup = parse_count(*v, 0, max_calls, "--warmup");
    if (auto v = args.value("inflight")) p.inflight = parse_count(*v, 1, 65535, "--inflight");
    if (auto v = args.value("n")) p.n = parse_count(*v, 0, rpc::default_max_n, "--n");
    if (auto v = args.value("timeout")) p.timeout = parse_seconds(*v, "--timeout");
    if (auto v = args.value("max-seconds")) p.max_time = parse_seconds(*v, "--max-seconds");
    if (auto v = args.value("size")) p.size = parse_count(*v, 0, 128u << 20, "--size");
    rpc::client_options opts = client_options_from(args);
    opts.default_timeout = p.timeout;
    const rpc::broker_nodes nodes = broker_nodes_from(args);

    io_thread io;
    rpc::rpc_client client(io.executor(), nodes, opts);
    client.start();
    driver d(client, p);
    try {
        d.run();
    } catch (...) {
        // What the client saw, for a run that failed or overran: were the calls published,
        // answered, timed out, re-sent after a reconnection?
        const rpc::client_stats st = client.stats();
        std::fprintf(stderr,
                     " [x] client: %llu calls published, %llu replies, %llu timeouts, %llu reconnects (%llu attempts), "
                     "%llu re-sent, %llu unknown and %llu late replies\n",
                     static_cast<unsigned long long>(st.calls), static_cast<unsigned long long>(st.replies),
                     static_cast<unsigned long long>(st.timeouts), static_cast<unsigned long long>(st.reconnects),
                     static_cast<unsigned long long>(st.reconnect_attempts), static_cast<unsigned long long>(st.resent),
                     static_cast<unsigned long long>(st.unknown_replies), static_cast<unsigned long long>(st.late_replies));
        // The pending calls' handlers point at `d`: fail them while it is still alive.
        client.close();
        throw;
    }
    const rpc::client_stats stats = client.stats();
    client.close();
    if (stats.unknown_replies || stats.late_replies)
        std::fprintf(stderr, " [x] %llu replies with unknown correlation ids dropped\n",
                     static_cast<unsigned long long>(stats.unknown_replies + stats.late_replies));
    say(d.report(args.flag("json")));
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rpc::cli;
    return run(argc, argv, usage, {broker_node_options, client_queue_options, own_options}, bench);
}
