// Which requests a server may ack, and with how few basic.ack frames.
//
// A request is acked only after its reply is published (a server that dies first leaves it to be
// redelivered). Replies may finish out of order (a worker pool), and basic.ack with multiple=true
// acks every unacked delivery up to its tag on the channel: so the only safe batch is the run of
// finished deliveries at the front of the window, oldest first. Each ack the broker does not
// have to process is CPU it can spend routing the next request.
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
    /// One basic.ack to send: `tag` with multiple = (count > 1); count 0: nothing to ack.
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
    /// Removes the finished run at the front and returns the ack that covers exactly it.
    ack take_ack();
    /// Deliveries taken and not yet returned by take_ack().
    std::size_t outstanding() const noexcept { return size_; }

private:
    struct entry {
        std::uint64_t tag;
        bool done;
    };
    entry& at(std::size_t i) noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }
    void grow();

    std::vector<entry> ring_;  // size is a power of two (or zero)
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::uint64_t last_taken_ = 0;
};

}  // namespace rpc
