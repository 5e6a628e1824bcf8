#include <rpc/ack_window.hpp>

namespace rpc {

bool ack_window::taken(std::uint64_t tag) {
    if (tag <= last_taken_) return false;
    if (size_ == ring_.size()) grow();
    last_taken_ = tag;
    at(size_++) = entry{tag, false};
    return true;
}

std::size_t ack_window::find(std::uint64_t tag) noexcept {
    // Tags increase along the window: binary search (a worker pool finishes out of order; inline
    // handlers always finish the newest, found at the first probe of the back).
    if (size_ == 0 || tag > at(size_ - 1).tag || tag < at(0).tag) return npos;
    std::size_t lo = 0, hi = size_;
    if (at(size_ - 1).tag == tag) lo = size_ - 1;
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (at(mid).tag <= tag) lo = mid;
        else hi = mid;
    }
    return at(lo).tag == tag ? lo : npos;
}

bool ack_window::finished(std::uint64_t tag) {
    const std::size_t i = find(tag);
    if (i == npos || at(i).done) return false;
    at(i).done = true;
    // Anywhere but the front it may sit behind a running delivery: take_ack looks it up again
    // (and skips it if the front run took it first).
    if (i != 0) behind_.push_back(tag);
    return true;
}

bool ack_window::released(std::uint64_t tag) {
    const std::size_t i = find(tag);
    if (i == npos || at(i).done) return false;
    // Not done: never pushed on behind_. Gone from the front, it no longer stops the run after it.
    erase(i);
    return true;
}

ack_window::ack ack_window::take_ack() {
    ack a;
    while (size_ > 0 && at(0).done) {
        a.tag = at(0).tag;
        ++a.count;
        head_ = (head_ + 1) & (ring_.size() - 1);
        --size_;
    }
    if (a.count > 0) return a;
    while (!behind_.empty()) {
        const std::uint64_t tag = behind_.back();
        behind_.pop_back();
        const std::size_t i = find(tag);
        if (i == npos) continue;  // the front run settled it
        // Still behind a running delivery (else the front run above would have taken it): alone.
        erase(i);
        return ack{tag, 1};
    }
    return a;
}

void ack_window::erase(std::size_t i) noexcept {
    // The window is at most the prefetch: shifting the newer entries down is a few moves.
    for (; i + 1 < size_; ++i) at(i) = at(i + 1);
    --size_;
}

void ack_window::grow() {
    std::vector<entry> bigger(ring_.empty() ? 16 : ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = at(i);
    ring_.swap(bigger);
    head_ = 0;
    behind_.reserve(ring_.size());
}

}  // namespace rpc
