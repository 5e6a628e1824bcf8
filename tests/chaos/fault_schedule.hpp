// The chaos test's network: a thread that keeps injecting one fault at a time, chosen at random
// (seeded) among the relay's kinds, into one of the relays, for a short while, then heals it.
// Faults a real network can cause only: bytes are delayed, held or cut off, never lost from the
// middle of a live stream (a relay that dropped bytes is reset afterwards, as a dead peer is).
#pragma once

#include <test_support/test_relay.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace chaos {

class fault_schedule {
public:
    enum kind { latency, stall, reset, half_open, byte_at_a_time, drop, cut, kinds_ };
    static const char* name(int k) {
        static constexpr const char* names[] = {"latency", "stall", "reset", "half-open", "byte-at-a-time",
                                                "drop+reset", "cut (FIN)"};
        return names[k];
    }

    fault_schedule(std::vector<amqp_test::test_relay*> nets, std::uint64_t seed) : nets_(std::move(nets)), rng_(seed) {
        thread_ = std::thread([this] { run(); });
    }
    ~fault_schedule() { stop(); }
    fault_schedule(const fault_schedule&) = delete;
    fault_schedule& operator=(const fault_schedule&) = delete;

    /// Stop injecting, heal every relay. Returns at once when already stopped.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
        for (auto* n : nets_) n->heal();
    }
    /// Faults injected so far, by kind.
    std::array<std::uint64_t, kinds_> injected() const {
        std::lock_guard lock(mutex_);
        return injected_;
    }

private:
    using ms = std::chrono::milliseconds;

    // Sleep `d` unless stopped meanwhile; false when stopping.
    bool pause(ms d) {
        std::unique_lock lock(mutex_);
        return !cv_.wait_for(lock, d, [this] { return stopping_; });
    }
    ms between(int lo, int hi) { return ms(std::uniform_int_distribution<int>(lo, hi)(rng_)); }

    void run() {
        while (pause(between(100, 400))) {
            const int k = std::uniform_int_distribution<int>(0, kinds_ - 1)(rng_);
            auto& net = *nets_[std::uniform_int_distribution<std::size_t>(0, nets_.size() - 1)(rng_)];
            {
                std::lock_guard lock(mutex_);
                ++injected_[k];
            }
            switch (k) {
                case latency:
                    net.set_latency(between(5, 80));
                    pause(between(300, 1500));
                    net.set_latency(ms(0));
                    break;
                case stall:
                    net.stall(between(100, 1200));
                    break;
                case reset:
                    net.reset_one(rng_());
                    break;
                case half_open: {
                    const auto dir = rng_() % 2 ? amqp_test::relay_direction::to_broker
                                                : amqp_test::relay_direction::from_broker;
                    net.half_open(dir, true);
                    pause(between(200, 1500));
                    net.half_open(dir, false);
                    break;
                }
                case byte_at_a_time:
                    net.set_byte_at_a_time(true);
                    pause(between(200, 1000));
                    net.set_byte_at_a_time(false);
                    break;
                case drop:
                    net.set_drop(true);
                    pause(between(100, 800));
                    // Bytes are gone from the middle of the streams: the connections are dead.
                    net.reset_all();
                    net.set_drop(false);
                    break;
                case cut:
                    // Rare: every connection of that relay at once.
                    if (rng_() % 3 == 0) net.cut_all();
                    break;
            }
        }
    }

    std::vector<amqp_test::test_relay*> nets_;
    std::mt19937_64 rng_;  // the schedule's thread only
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::array<std::uint64_t, kinds_> injected_{};
    std::thread thread_;
};

}  // namespace chaos
