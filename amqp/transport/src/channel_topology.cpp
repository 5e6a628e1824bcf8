// The channel's topology requests: exchange.declare/delete, queue.bind/unbind, queue.delete.
// Each is one synchronous method and its -ok, sent like queue.declare in connection.cpp.
#include "cancellable_op.hpp"
#include "channel_request.hpp"

#include <amqp/codec/field_table.hpp>

namespace amqp {

using detail::cancellable_op;
using detail::channel_executor;
using detail::send_channel_request;
using detail::throw_channel_error;
using detail::wait_for;
namespace asio = boost::asio;

namespace {

// Send `m` and complete `h` with the reply's outcome alone (the -ok replies here carry nothing).
void request(const std::shared_ptr<detail::channel_impl>& ch, const method& m,
             asio::any_completion_handler<void(error_code)> h) {
    auto op = cancellable_op<>::make(channel_executor(ch), std::move(h));
    send_channel_request(ch, m, [op](error_code ec, const method*) { op->finish(ec); });
}

}  // namespace

void channel::start_declare_exchange(exchange_options o, asio::any_completion_handler<void(error_code)> h) {
    byte_buffer args;
    if (auto ec = encode_table(o.arguments, args)) {
        detail::complete_on(channel_executor(impl_), std::move(h), ec);
        return;
    }
    exchange_declare m;
    m.exchange = o.name;
    m.type = o.type;
    m.passive = o.passive;
    m.durable = o.durable;
    m.auto_delete = o.auto_delete;
    m.internal = o.internal;
    m.arguments = table_view{args};
    request(impl_, m, std::move(h));  // the frame is encoded before this returns: `args` may go
}

void channel::start_delete_exchange(std::string exchange, bool if_unused,
                                    asio::any_completion_handler<void(error_code)> h) {
    exchange_delete m;
    m.exchange = exchange;
    m.if_unused = if_unused;
    request(impl_, m, std::move(h));
}

void channel::start_binding(bool bind, binding_options o, asio::any_completion_handler<void(error_code)> h) {
    byte_buffer args;
    if (auto ec = encode_table(o.arguments, args)) {
        detail::complete_on(channel_executor(impl_), std::move(h), ec);
        return;
    }
    if (bind) {
        request(impl_, queue_bind{0, o.queue, o.exchange, o.routing_key, false, table_view{args}}, std::move(h));
    } else {
        request(impl_, queue_unbind{0, o.queue, o.exchange, o.routing_key, table_view{args}}, std::move(h));
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
