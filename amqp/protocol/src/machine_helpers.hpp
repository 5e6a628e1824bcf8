// Private helpers shared by the connection machine's source files.
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/protocol/client_error.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace amqp::protocol::detail {

template <class M>
inline bool is(const method& m) noexcept {
    return std::holds_alternative<M>(m);
}

inline std::string method_label(std::uint16_t class_id, std::uint16_t method_id) {
    const auto n = method_name(class_id, method_id);
    if (!n.empty()) return std::string(n);
    return "method " + std::to_string(class_id) + "." + std::to_string(method_id);
}

// A decoder's error as the reply code we close with (the codec only returns reply codes; any
// other category would be a bug there, answered as an internal error rather than trusted).
inline reply_code as_reply_code(const error_code& ec) noexcept {
    if (ec.category() == reply_category()) return static_cast<reply_code>(ec.value());
    return reply_code::internal_error;
}

// connection.close's reply-text is a shortstr: cut our own diagnostics to fit.
inline std::string_view shortstr(std::string_view s) noexcept { return s.substr(0, 255); }

inline close_reason broker_reason(std::uint16_t code, std::string_view text, std::uint16_t class_id,
                                  std::uint16_t method_id, client_error if_success) {
    close_reason r;
    r.from_broker = true;
    r.reply_code = code;
    r.reply_text = std::string(text);
    r.class_id = class_id;
    r.method_id = method_id;
    r.code = code == 200 ? make_error_code(if_success) : error_code(code, reply_category());
    return r;
}

}  // namespace amqp::protocol::detail
