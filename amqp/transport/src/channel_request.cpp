#include "channel_request.hpp"

namespace amqp::detail {

void send_channel_request(const std::shared_ptr<channel_impl>& ch, const method& m, reply_op on_reply) {
    auto conn = ch ? ch->conn.lock() : nullptr;
    if (!conn) {
        std::move(on_reply)(make_error_code(client_error::not_open), nullptr);
        return;
    }
    conn->send_sync(ch, m, std::move(on_reply));
}

void send_void_request(const std::shared_ptr<channel_impl>& ch, const method& m,
                       asio::any_completion_handler<void(error_code)> h) {
    auto op = cancellable_op<>::make(channel_executor(ch), std::move(h));
    send_channel_request(ch, m, [op](error_code ec, const method*) { op->finish(ec); });
}

asio::any_io_executor channel_executor(const std::shared_ptr<channel_impl>& ch) {
    if (ch)
        if (auto c = ch->conn.lock()) return c->get_executor();
    return asio::system_executor();
}

std::string describe_failure(const error_code& ec, const close_reason& channel_reason,
                             const close_reason& conn_reason) {
    if (channel_reason.code == ec) return channel_reason.to_string();
    if (conn_reason.code == ec) return conn_reason.to_string();
    return ec.message();
}

void throw_channel_error(const std::shared_ptr<channel_impl>& ch, const error_code& ec) {
    close_reason chr, cr;
    if (ch) {
        chr = ch->last_reason();
        if (auto conn = ch->conn.lock()) cr = conn->last_reason();
    }
    throw error(ec, describe_failure(ec, chr, cr));
}

}  // namespace amqp::detail
