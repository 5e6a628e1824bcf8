// What the rpc_server stop and fault tests share: the lines a server logged, a handler that
// blocks until the test lets it go, and waits with deadlines.
#pragma once

#include <test_support/rpc_fixture.hpp>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace rpc_test {

/// Lines a server logged (on_log), from any thread.
struct log_lines {
    void push(std::string_view text) {
        std::lock_guard lock(mutex);
        lines.emplace_back(text);
    }
    std::vector<std::string> all() {
        std::lock_guard lock(mutex);
        return lines;
    }
    std::mutex mutex;
    std::vector<std::string> lines;
};

/// True if `s` holds an octet a terminal or a log reader would act on.
inline bool has_control_octet(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u >= 0x7f;
    });
}

/// A handler that says when its first request started and then blocks (at most two minutes)
/// until release(): a request that stays in flight as long as the test needs.
struct blocking_handler {
    blocking_handler() : go_f(go.get_future().share()) {}
    rpc::request_handler handler() {
        return [this](const rpc::request&) {
            if (!started_once.exchange(true)) started.set_value();
            go_f.wait_for(std::chrono::seconds(120));
            return rpc::make_value_reply(1, rpc::reply_format::plain);
        };
    }
    bool wait_started() { return started.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready; }
    void release() { go.set_value(); }

    std::promise<void> started, go;
    std::shared_future<void> go_f;
    std::atomic<bool> started_once{false};
};

/// Messages ready in `queue` once there are `n` (polled up to 3 s; the last count otherwise).
inline std::uint32_t wait_until_ready(raw_peer& peer, const std::string& queue, std::uint32_t n) {
    std::uint32_t ready = peer.ready(queue);
    for (int i = 0; i < 300 && ready < n; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ready = peer.ready(queue);
    }
    return ready;
}

/// A test against the broker with one queue of its own (queue()), deleted at the end: a durable
/// one outlives the test's connections.
class own_queue_test : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    void TearDown() override {
        if (queue_.empty()) return;
        try {
            raw_peer(io.executor()).channel().delete_queue(queue_);
        } catch (const std::exception&) {}
    }
    const std::string& queue(const std::string& what) { return queue_ = unique_queue(what); }

    /// Polls `done` every 10 ms for at most 30 s; its last answer.
    template <class Pred>
    static bool eventually(Pred done) {
        for (int i = 0; i < 3000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return done();
    }

    rpc::cli::io_thread io;
    std::string queue_;
};

}  // namespace rpc_test
