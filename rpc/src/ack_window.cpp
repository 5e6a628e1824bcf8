#include <rpc/ack_window.hpp>

namespace rpc {

bool ack_window::taken(std::uint64_t tag) {
    if (tag <= last_taken_) return false;
    if (size_ == ring_.size()) grow();
    last_taken_ = tag;
    at(size_++) = entry{tag, false};
    return true;
}

bool ack_window::finished(std::uint64_t tag) {
    // Tags increase along the window: binary search (a worker pool finishes out of order; inline
    // handlers always finish the newest, found at the first probe of the back).
    if (size_ == 0 || tag > at(size_ - 1).tag || tag < at(0).tag) return false;
    std::size_t lo = 0, hi = size_;
    if (at(size_ - 1).tag == tag) lo = size_ - 1;
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (at(mid).tag <= tag)
            lo = mid;
        else
            hi = mid;
    }
    entry& e = at(lo);
    if (e.tag != tag || e.done) return false;
    e.done = true;
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
    return a;
}

void ack_window::grow() {
    std::vector<entry> bigger(ring_.empty() ? 16 : ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = at(i);
    ring_.swap(bigger);
    head_ = 0;
}

}  // namespace rpc
