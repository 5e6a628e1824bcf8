// Publisher-confirm bookkeeping for one channel (RabbitMQ's confirm.select extension): which
// publish sequence numbers are still waiting for the broker's basic.ack / basic.nack.
//
// Once confirm.select is on the wire, the broker numbers every basic.publish on the channel 1, 2,
// ... and answers each number exactly once, with an ack or a nack, singly or with `multiple`
// (every number up to the tag). Answers may come out of order: RabbitMQ acks a message when all
// its queues have it, so 3 can be acked before 1 and 2. A `multiple` answer from RabbitMQ always
// names a number that was itself still waiting (rabbit_channel coalesces the lowest confirmed
// numbers into one multiple ack of the highest), but the range below it may hold numbers already
// answered singly: those are skipped.
//
// Cost: O(1) per publish; an answer costs O(numbers it retires). Memory: one flag per number
// between the lowest waiting one and the newest publish (bounded by what the caller publishes,
// never by what the peer sends). Not thread-safe (owned by the connection machine).
#pragma once

#include <cstdint>
#include <deque>

namespace amqp::protocol {

/// The numbers one broker answer (or a channel's end) settles: every number in [first, last]
/// that was still waiting. Numbers inside the range that were settled earlier were reported then.
struct confirm_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};

/// One channel's waiting publish numbers. Errors: a bad answer is a `false` return, never an
/// exception; on_publish may throw std::bad_alloc. Not thread-safe: one owner (the machine).
class confirm_tracker {
public:
    /// True once confirm.select went out on the channel.
    bool active() const noexcept { return active_; }
    /// confirm.select is on the wire: the next publish is number 1. No effect if already active
    /// (a second confirm.select does not restart the broker's count).
    void start() noexcept {
        if (active_) return;
        active_ = true;
        next_ = base_ = 1;
    }
    /// A publish went out: its number, or 0 when the channel is not in confirm mode.
    std::uint64_t on_publish() {
        if (!active_) return 0;
        settled_.push_back(false);
        ++waiting_;
        return next_++;
    }
    /// The broker answered `tag` (with `multiple`: every waiting number up to `tag`). False, and
    /// nothing changes, when `tag` is not a waiting number (never published, 0, or already
    /// answered) or the channel is not in confirm mode.
    bool settle(std::uint64_t tag, bool multiple, confirm_range& r) {
        if (!active_ || tag < base_ || tag >= next_ || settled_[tag - base_]) return false;
        if (multiple) {
            r.first = base_;  // the front is always a waiting number (settled ones are popped)
            const auto n = tag - base_ + 1;
            for (std::uint64_t i = 0; i < n; ++i)
                if (!settled_[i]) --waiting_;
            settled_.erase(settled_.begin(), settled_.begin() + static_cast<std::ptrdiff_t>(n));
            base_ = tag + 1;
        } else {
            r.first = tag;
            settled_[tag - base_] = true;
            --waiting_;
        }
        r.last = tag;
        while (!settled_.empty() && settled_.front()) {
            settled_.pop_front();
            ++base_;
        }
        return true;
    }
    /// The channel or connection ended: every waiting number is lost (its fate unknown). False
    /// when none was waiting. The tracker is left with nothing waiting.
    bool settle_all(confirm_range& r) {
        if (waiting_ == 0) return false;
        r.first = base_;
        r.last = next_ - 1;
        settled_.clear();
        base_ = next_;
        waiting_ = 0;
        return true;
    }
    /// How many publishes still wait for an answer.
    std::uint64_t waiting() const noexcept { return waiting_; }

private:
    bool active_ = false;
    std::uint64_t next_ = 1;    // the next publish's number
    std::uint64_t base_ = 1;    // every number below it is settled
    std::deque<bool> settled_;  // [i]: number base_ + i is settled (the front never is)
    std::uint64_t waiting_ = 0;
};

}  // namespace amqp::protocol
