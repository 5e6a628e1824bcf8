// The channel's topology requests: exchange.declare/delete, queue.bind/unbind, queue.delete.
// Each is one synchronous method and its -ok, sent with channel_request.hpp's helpers.
#include "channel_request.hpp"

namespace amqp {

using detail::cancellable_op;
using detail::channel_executor;
using detail::encode_arguments;
using detail::send_channel_request;
using detail::send_void_request;
using detail::throw_channel_error;
using detail::wait_for;
namespace asio = boost::asio;

void channel::start_declare_exchange(exchange_options o, asio::any_completion_handler<void(error_code)> h) {
    byte_buffer args;
    if (!encode_arguments(impl_, o.arguments, args, h)) return;
    exchange_declare m;
    m.exchange = o.name;
    m.type = o.type;
    m.passive = o.passive;
    m.durable = o.durable;
    m.auto_delete = o.auto_delete;
    m.internal = o.internal;
    m.arguments = table_view{args};
    send_void_request(impl_, m, std::move(h));  // the frame is encoded before this returns: `args` may go
}

void channel::start_delete_exchange(std::string exchange, bool if_unused,
                                    asio::any_completion_handler<void(error_code)> h) {
    exchange_delete m;
    m.exchange = exchange;
    m.if_unused = if_unused;
    send_void_request(impl_, m, std::move(h));
}

void channel::start_binding(bool bind, binding_options o, asio::any_completion_handler<void(error_code)> h) {
    byte_buffer args;
    if (!encode_arguments(impl_, o.arguments, args, h)) return;
    if (bind) {
        send_void_request(impl_, queue_bind{0, o.queue, o.exchange, o.routing_key, false, table_view{args}},
                          std::move(h));
    } else {
        send_void_request(impl_, queue_unbind{0, o.queue, o.exchange, o.routing_key, table_view{args}}, std::move(h));
    }
}

void channel::start_delete_queue(std::string queue, asio::any_completion_handler<void(error_code, std::uint32_t)> h) {
    queue_delete m;
    m.queue = queue;
    auto op = cancellable_op<std::uint32_t>::make(channel_executor(impl_), std::move(h));
    send_channel_request(impl_, m, [op](error_code ec, const method* r) {
        op->finish(ec, !ec && r ? std::get<queue_delete_ok>(*r).message_count : 0);
    });
}

void channel::declare_exchange(exchange_options opts) {
    auto [ec] = wait_for<>([&](auto h) { start_declare_exchange(std::move(opts), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

void channel::delete_exchange(std::string exchange, bool if_unused) {
    auto [ec] = wait_for<>([&](auto h) { start_delete_exchange(std::move(exchange), if_unused, std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

void channel::bind_queue(binding_options opts) {
    auto [ec] = wait_for<>([&](auto h) { start_binding(true, std::move(opts), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

void channel::unbind_queue(binding_options opts) {
    auto [ec] = wait_for<>([&](auto h) { start_binding(false, std::move(opts), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

std::uint32_t channel::delete_queue(std::string queue) {
    auto [ec, n] = wait_for<std::uint32_t>([&](auto h) { start_delete_queue(std::move(queue), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
    return n;
}

}  // namespace amqp
