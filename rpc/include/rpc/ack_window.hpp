// Which requests a server may ack, and with how few basic.ack frames.
//
// A request is acked only after its reply is published (a server that dies first leaves it to be
// redelivered). Replies may finish out of order (a worker pool), and basic.ack with multiple=true
// acks every unacked delivery up to its tag on the channel: so the run of finished deliveries at
// the front of the window, oldest first, goes in one frame. A delivery that finishes behind one
// still running is acked on its own (multiple=false) at once, never held until the older one
// finishes: a held ack keeps its delivery in the prefetch window, and one slow request would
// otherwise fill the window and stop the broker delivering to the whole server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rpc {

/// The deliveries of one channel that are taken and not yet acked, in delivery order. Not
/// thread-safe. Every delivery on the channel must pass through it (a multiple=true ack would
/// otherwise cover a delivery it does not know of). No allocation once it has held the largest
/// number of deliveries outstanding at once (the prefetch).
class ack_window {
public:
    /// One basic.ack to send: `tag` with multiple = (count > 1), settling `count` deliveries;
    /// count 0: nothing (more) to ack.
    struct ack {
        std::uint64_t tag = 0;
        std::size_t count = 0;
        bool multiple() const noexcept { return count > 1; }
    };

    /// A delivery was taken; tags must increase (AMQP numbers a channel's deliveries 1, 2, ...).
    /// Returns false (and ignores it) if `tag` is not above every tag taken so far.
    bool taken(std::uint64_t tag);
    /// The delivery's reply is published (or it needs none). Returns false if `tag` is not
    /// outstanding or already finished.
    bool finished(std::uint64_t tag);
    /// The delivery leaves the window unacked: the caller settles it otherwise (basic.nack with
    /// requeue: its reply was not confirmed by the broker), before any later ack is sent. Returns
    /// false if `tag` is not outstanding or already finished.
    bool released(std::uint64_t tag);
    /// The next ack to send, to be called until it returns count 0 (the acks must reach the
    /// channel in the order returned): first one frame for the finished run at the front of the
    /// window (multiple=true when it settles more than one delivery), then one single ack for
    /// each finished delivery behind a running one. Every delivery finished so far is then acked.
    ack take_ack();
    /// Deliveries taken and not yet settled by an ack returned from take_ack().
    std::size_t outstanding() const noexcept { return size_; }

private:
    struct entry {
        std::uint64_t tag;
        bool done;
    };
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    entry& at(std::size_t i) noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }
    std::size_t find(std::uint64_t tag) noexcept;  // index in the window, or npos
    void erase(std::size_t i) noexcept;
    void grow();

    // Only deliveries the broker still counts as unacked: a delivery acked on its own leaves at
    // once, so the window never holds more than the prefetch, however long a request runs.
    std::vector<entry> ring_;  // size is a power of two (or zero)
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::uint64_t last_taken_ = 0;
    // Tags finished behind a running delivery since the last take_ack (a stack: the order of
    // single acks does not matter). Bounded by the window: each tag is pushed at most once.
    std::vector<std::uint64_t> behind_;
};

}  // namespace rpc
