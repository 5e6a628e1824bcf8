// The server's shutdown drain as a plain object: how many requests are in flight, whether a stop
// is waiting for them, until when, and whether it was cut short. No clock of its own, no threads,
// no I/O: the server feeds it events and the time, and does what its answers say (close the
// connection when finished()); unit tests drive it the same way.
#pragma once

#include <chrono>
#include <cstddef>

namespace rpc {

/// Not thread-safe (the server holds a lock around it).
class server_drain {
public:
    using clock = std::chrono::steady_clock;

    /// A request was taken (it stays in flight until settled).
    void taken() noexcept { ++in_flight_; }
    /// `n` requests were acked, rejected or released. Returns true if this ends a drain (the last
    /// one in flight settled while draining): the caller then closes.
    bool settled(std::size_t n) noexcept;
    /// `n` consumers are being cancelled (basic.cancel sent, cancel-ok awaited) as the drain
    /// begins. The drain also waits for their cancel-ok, within the same deadline, so that the
    /// channels close after the broker has stopped delivering to them (the textbook order:
    /// cancel, cancel-ok, channel.close, connection.close).
    void cancelling(std::size_t n) noexcept { cancelling_ += n; }
    /// One cancel-ok arrived (or the cancel failed). Returns true if this ends the drain.
    bool cancelled() noexcept;
    /// Start draining: stop waits for in-flight requests until `now + timeout`. Returns true if
    /// the drain is already finished (nothing in flight). A second begin() changes nothing and
    /// returns finished().
    bool begin(clock::time_point now, clock::duration timeout) noexcept;
    /// Cut the drain short (a second signal): returns true if this ends a drain in progress. Before
    /// begin(), a later begin() finishes at once.
    bool halt() noexcept;
    /// The drain's timer fired at `now`: returns true if this ends the drain (its deadline passed).
    bool expired(clock::time_point now) noexcept;

    bool draining() const noexcept { return draining_; }
    /// Draining, and nothing left in flight and no cancel-ok awaited, or halted, or past the
    /// deadline.
    bool finished() const noexcept {
        return draining_ && ((in_flight_ == 0 && cancelling_ == 0) || halted_ || timed_out_);
    }
    /// Whether every request finished (the stop's result); meaningful once finished().
    bool complete() const noexcept { return in_flight_ == 0; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Whether halt() or the deadline ended it (rather than the last request and cancel-ok).
    bool cut_short() const noexcept { return halted_ || timed_out_; }
    clock::time_point deadline() const noexcept { return deadline_; }

private:
    std::size_t in_flight_ = 0;
    std::size_t cancelling_ = 0;
    bool draining_ = false;
    bool halted_ = false;
    bool timed_out_ = false;
    clock::time_point deadline_{};
};

}  // namespace rpc
