// Every call the chaos load makes and what became of it. The invariants checked at the end: each
// call has exactly one outcome, and each successful reply is fib(n) of its own request.
#pragma once

#include <rpc/error.hpp>
#include <fibonacci/fibonacci.hpp>
#include <fibonacci/reply_format.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace chaos {

/// The n of a request whose body is not a number: no value is right for it.
inline constexpr std::uint64_t no_value = ~std::uint64_t{0};

/// What one call ended with. The first four are the outcomes a caller may see under faults; the
/// others are defects.
enum class outcome { ok, error_reply, timeout, connection_error, bad_reply, other, count_ };
inline constexpr std::size_t outcome_kinds = static_cast<std::size_t>(outcome::count_);

inline const char* name(outcome o) {
    static constexpr const char* names[] = {"ok", "error reply", "timeout", "connection error", "bad reply", "other"};
    return names[static_cast<std::size_t>(o)];
}

/// The outcome an rpc error code stands for.
inline outcome classify(const rpc::error_code& ec) {
    if (!ec) return outcome::ok;
    if (ec == rpc::errc::remote_error) return outcome::error_reply;
    if (ec == rpc::errc::timeout) return outcome::timeout;
    if (ec == rpc::errc::connection_lost || ec == rpc::errc::not_started) return outcome::connection_error;
    if (ec == rpc::errc::bad_reply) return outcome::bad_reply;
    return outcome::other;
}

/// Thread-safe: calls are opened by the load's thread and completed on the clients' I/O threads.
class call_ledger {
public:
    struct entry {
        std::uint64_t n = 0;
        int completions = 0;
        outcome first = outcome::other;
        std::string value;  // the reply's decimal text, when ok
        rpc::diagnostics diag;
    };

    /// A new call that asks for fib(n) (or no_value); its diagnostics live as long as the ledger.
    std::pair<std::size_t, rpc::diagnostics*> open(std::uint64_t n) {
        std::lock_guard lock(mutex_);
        entries_.push_back({});
        entries_.back().n = n;
        ++pending_;
        return {entries_.size() - 1, &entries_.back().diag};
    }

    /// Record call `id`'s outcome (any later one is counted as a duplicate).
    void complete(std::size_t id, outcome o, std::string value = {}) {
        std::lock_guard lock(mutex_);
        entry& e = entries_[id];
        if (e.completions++ == 0) {
            e.first = o;
            e.value = std::move(value);
            --pending_;
            cv_.notify_all();
        }
    }
    /// A generic request's reply, decoded as the Fibonacci client would.
    void complete_reply(std::size_t id, const rpc::error_code& ec, const rpc::reply_message& r) {
        if (ec) return complete(id, classify(ec));
        const auto d = rpc::decode_reply(r.body);
        if (d.what == rpc::decoded_reply::kind::value) return complete(id, outcome::ok, d.value);
        complete(id, d.what == rpc::decoded_reply::kind::error ? outcome::error_reply : outcome::bad_reply);
    }

    /// Wait until every call opened so far has an outcome; false at the deadline.
    bool wait_all(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, timeout, [this] { return pending_ == 0; });
    }
    /// Calls opened so far.
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }
    std::size_t pending() const {
        std::lock_guard lock(mutex_);
        return pending_;
    }

    struct summary {
        std::size_t calls = 0;
        std::array<std::size_t, outcome_kinds> by_outcome{};
        std::size_t no_outcome = 0;   // never completed
        std::size_t duplicates = 0;   // completed more than once
        std::size_t wrong_values = 0; // ok, but not fib(n)
        std::string first_problem;    // one example, for the failure message
    };

    /// The invariants over every call (computes fib(n) for each distinct n: call after the load).
    summary verify() const {
        std::lock_guard lock(mutex_);
        summary s;
        std::map<std::uint64_t, std::string> expected;
        s.calls = entries_.size();
        for (std::size_t id = 0; id < entries_.size(); ++id) {
            const entry& e = entries_[id];
            const std::string what = "call " + std::to_string(id) + " fib(" + std::to_string(e.n) + ")";
            if (e.completions == 0) {
                ++s.no_outcome;
                note(s, what + " has no outcome");
                continue;
            }
            if (e.completions > 1) {
                ++s.duplicates;
                note(s, what + " completed " + std::to_string(e.completions) + " times");
            }
            ++s.by_outcome[static_cast<std::size_t>(e.first)];
            if (e.first == outcome::bad_reply || e.first == outcome::other) note(s, what + ": " + e.diag.message);
            if (e.first != outcome::ok) continue;
            if (e.n == no_value) {
                ++s.wrong_values;
                note(s, "call " + std::to_string(id) + " with a body that is not a number got " +
                            e.value.substr(0, 40));
                continue;
            }
            auto it = expected.find(e.n);
            if (it == expected.end()) it = expected.emplace(e.n, rpc::fibonacci(e.n).str()).first;
            if (e.value != it->second) {
                ++s.wrong_values;
                note(s, what + " got " + e.value.substr(0, 40));
            }
        }
        return s;
    }

private:
    static void note(summary& s, const std::string& text) {
        if (s.first_problem.empty()) s.first_problem = text;
    }

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<entry> entries_;  // a deque: diagnostics keep their address
    std::size_t pending_ = 0;
};

}  // namespace chaos
