#include <rpc/server_drain.hpp>

namespace rpc {

bool server_drain::settled(std::size_t n) noexcept {
    const bool was_finished = finished();
    in_flight_ -= n <= in_flight_ ? n : in_flight_;
    return !was_finished && finished();
}

bool server_drain::begin(clock::time_point now, clock::duration timeout) noexcept {
    if (draining_) return finished();
    draining_ = true;
    deadline_ = now + timeout;
    if (timeout <= clock::duration::zero()) timed_out_ = true;
    return finished();
}

bool server_drain::cancelled() noexcept {
    const bool was_finished = finished();
    if (cancelling_ > 0) --cancelling_;
    return draining_ && !was_finished && finished();
}

bool server_drain::halt() noexcept {
    const bool was_finished = finished();
    halted_ = true;
    return draining_ && !was_finished;
}

bool server_drain::expired(clock::time_point now) noexcept {
    if (!draining_ || finished() || now < deadline_) return false;
    timed_out_ = true;
    return true;
}

}  // namespace rpc
