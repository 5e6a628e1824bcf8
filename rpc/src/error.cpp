#include <rpc/error.hpp>

#include <amqp/codec/printable.hpp>

namespace rpc {
namespace {
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "rpc"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::timeout: return "RPC call timed out";
            case errc::no_route: return "request not routed to any queue (312 NO_ROUTE)";
            case errc::remote_error: return "the RPC server replied with an error";
            case errc::connection_lost: return "connection to the broker lost";
            case errc::bad_reply: return "malformed RPC reply";
            case errc::not_started: return "RPC client not started or closed";
            case errc::message_too_large: return "message larger than max_message_size";
            case errc::would_deadlock: return "blocking call on a thread of the client's executor";
            case errc::not_confirmed: return "the request may not have reached the queue; not re-sent";
        }
        return "unknown rpc error";
    }
};
}  // namespace

std::string describe(const boost::system::system_error& e) {
    std::string text = e.what();
    for (const std::string& tail : {": " + e.code().what(), ": " + e.code().message()}) {
        if (text.size() > tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0) {
            text.resize(text.size() - tail.size());
            break;
        }
    }
    return text;
}

std::string printable_reason(std::string_view peer_text) {
    std::string s = amqp::printable(peer_text);
    constexpr std::string_view capped = "\"...";
    const bool was_capped = s.size() >= capped.size() + 1 && s.compare(s.size() - capped.size(), capped.size(), capped) == 0;
    s.erase(s.size() - (was_capped ? capped.size() : 1));
    s.erase(0, 1);
    if (was_capped) s += "...";
    return s;
}

std::string format_seconds(std::chrono::milliseconds t) {
    const auto ms = t.count();
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000 != 0) {
        std::string frac = std::to_string(1000 + ms % 1000).substr(1);
        while (frac.back() == '0') frac.pop_back();
        s += "." + frac;
    }
    return s;
}

std::string timeout_message(std::chrono::milliseconds timeout) {
    return "RPC call timed out after " + format_seconds(timeout) + " seconds";
}

const boost::system::error_category& rpc_category() noexcept {
    static const category c;
    return c;
}

}  // namespace rpc
