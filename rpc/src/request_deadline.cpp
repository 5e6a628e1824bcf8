#include <rpc/request_deadline.hpp>

#include <amqp/codec/field_table.hpp>

namespace rpc {

std::int64_t epoch_millis(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<std::int64_t> request_deadline(amqp::table_view headers) noexcept {
    if (headers.empty()) return std::nullopt;
    bool found = false;
    const amqp::field_value_view v = amqp::find_entry(headers, deadline_header, &found);
    if (!found || v.tag != 'l') return std::nullopt;
    const std::int64_t ms = v.as_int();
    if (ms < 0) return std::nullopt;
    return ms;
}

bool deadline_passed(amqp::table_view headers, std::chrono::system_clock::time_point now) noexcept {
    const std::optional<std::int64_t> deadline = request_deadline(headers);
    return deadline && *deadline < epoch_millis(now);
}

}  // namespace rpc
