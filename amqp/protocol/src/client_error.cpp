// The "amqp.client" category and close_reason's human form. Lives in amqp_core (not the
// transport) because the state machine reports these errors and must link without Asio.
#include <amqp/protocol/client_error.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/printable.hpp>

#include <string>

namespace amqp {
namespace {

// A broker's reply-text, escaped and capped as amqp::printable() does, but without its quotes:
// the text already follows "NNN NAME - ", and ordinary texts read as the broker wrote them.
std::string escaped_unquoted(std::string_view text) {
    std::string s = printable(text);
    const bool capped = s.size() >= 4 && s.compare(s.size() - 4, 4, "\"...") == 0;
    s.erase(s.size() - (capped ? 4 : 1), 1);  // the closing quote, before a "..." if capped
    s.erase(0, 1);
    return s;
}

class client_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "amqp.client"; }
    std::string message(int code) const override {
        switch (static_cast<client_error>(code)) {
            case client_error::connection_lost: return "connection lost";
            case client_error::connect_timeout: return "connection timed out";
            case client_error::missed_heartbeats: return "missed heartbeats from the broker";
            case client_error::protocol_version_mismatch: return "broker speaks another AMQP version";
            case client_error::authentication_failed: return "authentication failed";
            case client_error::no_supported_mechanism: return "broker offers no supported SASL mechanism";
            case client_error::connection_closed: return "connection closed by broker";
            case client_error::channel_closed: return "channel closed by broker";
            case client_error::not_open: return "connection or channel not open";
            case client_error::message_too_large: return "message too large";
            case client_error::operation_aborted: return "operation aborted";
            case client_error::credentials_too_long: return "user name or password too long";
            case client_error::publish_nacked: return "the broker refused the message (basic.nack)";
            case client_error::publish_returned: return "the message was returned unroutable (basic.return)";
            case client_error::publish_unconfirmed:
                return "the channel or connection closed before the broker confirmed the message";
        }
        return "unknown amqp.client error " + std::to_string(code);
    }
};

}  // namespace

const boost::system::error_category& client_category() noexcept {
    static const client_category_impl instance;
    return instance;
}

std::string close_reason::to_string() const {
    // Brokers start their reply-text with the code's name ("NOT_FOUND - no queue 'x'"): do not
    // say it twice.
    std::string_view text = reply_text;
    // The broker's text is a peer's: escaped, so that it cannot forge a log line.
    std::string broker_text;
    if (from_broker) {
        broker_text = escaped_unquoted(text);
        text = broker_text;
    }
    if (reply_code != 0) {
        const std::string name = std::string(reply_code_name(reply_code)) + " - ";
        if (text.substr(0, name.size()) == name) text.remove_prefix(name.size());
    }
    std::string s;
    if (reply_code != 0) {
        if (from_broker) {
            if (code.category() == client_category()) {
                s = code.message();
            } else {
                s = is_connection_error(reply_code) || reply_code == 200 ? "connection closed by broker"
                                                                           : "channel closed by broker";
            }
            s += ": ";
        } else {
            s = code && code.category() != reply_category() ? code.message() : std::string("protocol fault");
            s += ": sent ";
        }
        s += std::to_string(reply_code);
        s += ' ';
        s += reply_code_name(reply_code);
        if (!text.empty()) {
            s += " - ";
            s += text;
        }
    } else if (text.empty()) {
        s = code ? code.message() : std::string("closed");
    } else if (code && code.category() == client_category()) {
        s = code.message() + ": " + std::string(text);
    } else if (code) {
        // Errors of the socket, resolver or decoder: our text says what we were doing.
        s = std::string(text) + " (" + code.message() + ")";
    } else {
        s = text;
    }
    if (class_id != 0) {
        const auto name = method_name(class_id, method_id);
        s += " (";
        if (name.empty()) {
            s += "class " + std::to_string(class_id) + " method " + std::to_string(method_id);
        } else {
            s += name;
        }
        s += ')';
    }
    return s;
}

}  // namespace amqp
