#include <rpc/reply_strikes.hpp>

#include <algorithm>

namespace rpc {

bool reply_strikes::is_direct(std::string_view reply_to) noexcept {
    return reply_to.starts_with("amq.rabbitmq.reply-to.");
}

std::size_t reply_strikes::find(std::string_view reply_to) const noexcept {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const entry& e) { return e.address == reply_to; });
    return static_cast<std::size_t>(it - entries_.begin());
}

unsigned reply_strikes::strike(std::string_view reply_to) {
    std::size_t i = find(reply_to);
    if (i == entries_.size()) {
        if (entries_.size() == max_addresses) {
            forget(0);
            --i;
        }
        entries_.push_back(entry{std::string(reply_to), 0});
    }
    if (++entries_[i].strikes == strikes_to_condemn) ++condemned_;
    return entries_[i].strikes;
}

void reply_strikes::clear(std::string_view reply_to) {
    if (const std::size_t i = find(reply_to); i < entries_.size()) forget(i);
}

void reply_strikes::forget(std::size_t i) {
    if (entries_[i].strikes >= strikes_to_condemn) --condemned_;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
}

bool reply_strikes::condemned(std::string_view reply_to) const noexcept {
    const std::size_t i = find(reply_to);
    return i < entries_.size() && entries_[i].strikes >= strikes_to_condemn;
}

}  // namespace rpc
