#include <amqp/codec/error.hpp>

#include <string>

namespace amqp {
namespace {

class reply_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "amqp"; }
    std::string message(int code) const override {
        return std::to_string(code) + " " + reply_code_name(static_cast<std::uint16_t>(code));
    }
};

}  // namespace

const boost::system::error_category& reply_category() noexcept {
    static const reply_category_impl instance;
    return instance;
}

const char* reply_code_name(std::uint16_t code) noexcept {
    switch (static_cast<reply_code>(code)) {
        case reply_code::reply_success: return "REPLY_SUCCESS";
        case reply_code::content_too_large: return "CONTENT_TOO_LARGE";
        case reply_code::no_route: return "NO_ROUTE";
        case reply_code::no_consumers: return "NO_CONSUMERS";
        case reply_code::connection_forced: return "CONNECTION_FORCED";
        case reply_code::invalid_path: return "INVALID_PATH";
        case reply_code::access_refused: return "ACCESS_REFUSED";
        case reply_code::not_found: return "NOT_FOUND";
        case reply_code::resource_locked: return "RESOURCE_LOCKED";
        case reply_code::precondition_failed: return "PRECONDITION_FAILED";
        case reply_code::frame_error: return "FRAME_ERROR";
        case reply_code::syntax_error: return "SYNTAX_ERROR";
        case reply_code::command_invalid: return "COMMAND_INVALID";
        case reply_code::channel_error: return "CHANNEL_ERROR";
        case reply_code::unexpected_frame: return "UNEXPECTED_FRAME";
        case reply_code::resource_error: return "RESOURCE_ERROR";
        case reply_code::not_allowed: return "NOT_ALLOWED";
        case reply_code::not_implemented: return "NOT_IMPLEMENTED";
        case reply_code::internal_error: return "INTERNAL_ERROR";
    }
    return "UNKNOWN";
}

bool is_connection_error(std::uint16_t code) noexcept {
    // Spec 1.4.2: these are "hard errors"; the rest (311-406) are soft, channel-level errors.
    switch (static_cast<reply_code>(code)) {
        case reply_code::connection_forced:
        case reply_code::invalid_path:
        case reply_code::frame_error:
        case reply_code::syntax_error:
        case reply_code::command_invalid:
        case reply_code::channel_error:
        case reply_code::unexpected_frame:
        case reply_code::resource_error:
        case reply_code::not_allowed:
        case reply_code::not_implemented:
        case reply_code::internal_error:
            return true;
        default:
            return false;
    }
}

std::string diagnostics::to_string() const {
    std::string out = message;
    out += " (";
    if (!field.empty()) {
        out += "field ";
        out += field;
        out += " ";
    }
    out += "at offset ";
    out += std::to_string(offset);
    out += ")";
    return out;
}

}  // namespace amqp
