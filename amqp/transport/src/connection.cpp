// The public connection/channel API: thin forwarding to connection_impl, the synchronous
// wrappers, and the translation of replies into results.
#include "cancellable_op.hpp"
#include "channel_request.hpp"
#include "connection_impl.hpp"
#include "owned_method.hpp"

#include <amqp/codec/field_table.hpp>

#include <future>
#include <tuple>

namespace amqp {

using detail::cancellable_op;
using detail::channel_executor;
using detail::channel_impl;
using detail::complete_on;
using detail::connection_impl;
using detail::describe_failure;
using detail::encode_arguments;
using detail::send_channel_request;
using detail::send_void_request;
using detail::throw_channel_error;
using detail::wait_for;
namespace asio = boost::asio;

// ---- channel ------------------------------------------------------------------------------------

std::uint16_t channel::id() const noexcept { return impl_ ? impl_->id : 0; }

bool channel::is_open() const noexcept {
    if (!impl_ || !impl_->open) return false;
    auto c = impl_->conn.lock();
    return c && c->is_open();
}

void channel::start_declare_queue(queue_options o, asio::any_completion_handler<void(error_code, queue_info)> h) {
    byte_buffer args;
    if (!encode_arguments(impl_, o.arguments, args, h)) return;
    queue_declare m;
    m.queue = o.name;
    m.passive = o.passive;
    m.durable = o.durable;
    m.exclusive = o.exclusive;
    m.auto_delete = o.auto_delete;
    m.arguments = table_view{args};
    auto op = cancellable_op<queue_info>::make(channel_executor(impl_), std::move(h));
    send_channel_request(impl_, m, [op](error_code ec, const method* r) {
        queue_info info;
        if (!ec && r) {
            const auto& ok = std::get<queue_declare_ok>(*r);
            info.name = std::string(ok.queue);
            info.message_count = ok.message_count;
            info.consumer_count = ok.consumer_count;
        }
        op->finish(ec, std::move(info));
    });
}

void channel::start_qos(std::uint16_t n, asio::any_completion_handler<void(error_code)> h) {
    send_void_request(impl_, basic_qos{0, n, false}, std::move(h));
}

void channel::start_consume(consume_options o, delivery_handler on_message,
                            asio::any_completion_handler<void(error_code, std::string)> h) {
    byte_buffer args;
    if (!encode_arguments(impl_, o.arguments, args, h)) return;
    basic_consume m;
    m.queue = o.queue;
    m.consumer_tag = o.consumer_tag;
    m.no_ack = o.no_ack;
    m.exclusive = o.exclusive;
    m.arguments = table_view{args};
    std::weak_ptr<channel_impl> weak = impl_;
    auto op = cancellable_op<std::string>::make(channel_executor(impl_), std::move(h));
    send_channel_request(impl_, m,
                         [op, weak, on_message = std::move(on_message)](error_code ec, const method* r) mutable {
                             auto handler = op->take();
                             std::string tag;
                             if (!ec && r) {
                                 tag = std::string(std::get<basic_consume_ok>(*r).consumer_tag);
                                 auto ch = weak.lock();
                                 if (ch && !handler) {
                                     // Cancelled while the broker was registering it: nobody will take its messages.
                                     if (auto conn = ch->conn.lock())
                                         (void)conn->send_async(ch, basic_cancel{tag, true});
                                 } else if (ch) {
                                     // On the strand, before any delivery for this consumer is dispatched.
                                     ch->consumers[tag] = std::move(on_message);
                                 }
                             }
                             if (handler) complete_on(op->executor(), std::move(*handler), ec, std::move(tag));
                         });
}

void channel::start_cancel(std::string tag, asio::any_completion_handler<void(error_code)> h) {
    std::weak_ptr<channel_impl> weak = impl_;
    basic_cancel m;
    m.consumer_tag = tag;
    auto op = cancellable_op<>::make(channel_executor(impl_), std::move(h));
    send_channel_request(impl_, m, [op, weak, tag](error_code ec, const method*) {
        if (!ec)
            if (auto ch = weak.lock()) ch->consumers.erase(tag);
        op->finish(ec);
    });
}

void channel::start_close(asio::any_completion_handler<void(error_code)> h) {
    channel_close m;
    m.reply_code = 200;
    m.reply_text = "Goodbye";
    send_void_request(impl_, m, std::move(h));
}

void channel::start_confirm_select(asio::any_completion_handler<void(error_code)> h) {
    send_void_request(impl_, confirm_select{false}, std::move(h));
}

channel::copied_message channel::copy_message(const publish_options& opts, const basic_properties& props,
                                              bytes_view body) const {
    auto conn = impl_ ? impl_->conn.lock() : nullptr;
    if (!conn || !conn->is_open() || !impl_->open) return {make_error_code(client_error::not_open), nullptr};
    if (body.size() > conn->options().max_message_size)
        return {make_error_code(client_error::message_too_large), nullptr};
    basic_publish m;
    m.exchange = opts.exchange;
    m.routing_key = opts.routing_key;
    m.mandatory = opts.mandatory;
    auto owned = std::make_shared<detail::owned_message>();
    if (auto ec = owned->assign(m, props, body, conn->frame_max())) return {ec, nullptr};
    return {{}, std::move(owned)};
}

void channel::start_publish(const std::shared_ptr<channel_impl>& ch, copied_message m,
                            asio::any_completion_handler<void(error_code)> h) {
    auto conn = ch ? ch->conn.lock() : nullptr;
    if (!m.ec && !conn) m.ec = client_error::not_open;
    if (m.ec) {
        complete_on(channel_executor(ch), std::move(h), m.ec);
        return;
    }
    conn->publish(ch, std::move(m.msg), std::move(h));
}

error_code channel::publish(const publish_options& opts, const basic_properties& props, bytes_view body) {
    auto conn = impl_ ? impl_->conn.lock() : nullptr;
    if (!conn) return client_error::not_open;
    basic_publish m;
    m.exchange = opts.exchange;
    m.routing_key = opts.routing_key;
    m.mandatory = opts.mandatory;
    return conn->publish(impl_, m, props, body);
}

namespace {
error_code send_async(const std::shared_ptr<channel_impl>& ch, const method& m) {
    auto conn = ch ? ch->conn.lock() : nullptr;
    if (!conn) return client_error::not_open;
    return conn->send_async(ch, m);
}

// Set a handler on the strand, which reads it (directly when the connection is gone).
template <class F>
void set_handler(const std::shared_ptr<channel_impl>& ch, F&& assign) {
    if (!ch) return;
    if (auto conn = ch->conn.lock()) {
        conn->on_strand(std::forward<F>(assign));
    } else {
        assign();
    }
}
}  // namespace

error_code channel::ack(std::uint64_t tag, bool multiple) { return send_async(impl_, basic_ack{tag, multiple}); }
error_code channel::nack(std::uint64_t tag, bool multiple, bool requeue) {
    return send_async(impl_, basic_nack{tag, multiple, requeue});
}
error_code channel::reject(std::uint64_t tag, bool requeue) { return send_async(impl_, basic_reject{tag, requeue}); }

void channel::on_return(return_handler h) {
    set_handler(impl_, [ch = impl_, h = std::move(h)]() mutable { ch->on_return = std::move(h); });
}
void channel::on_consumer_cancelled(std::function<void(std::string_view)> h) {
    set_handler(impl_, [ch = impl_, h = std::move(h)]() mutable { ch->on_cancelled = std::move(h); });
}
void channel::on_close(close_handler h) {
    set_handler(impl_, [ch = impl_, h = std::move(h)]() mutable { ch->on_close = std::move(h); });
}

close_reason channel::last_close_reason() const { return impl_ ? impl_->last_reason() : close_reason{}; }

queue_info channel::declare_queue(queue_options opts) {
    auto [ec, info] = wait_for<queue_info>([&](auto h) { start_declare_queue(std::move(opts), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
    return info;
}

void channel::qos(std::uint16_t prefetch_count) {
    auto [ec] = wait_for<>([&](auto h) { start_qos(prefetch_count, std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

std::string channel::consume(consume_options opts, delivery_handler on_message) {
    auto [ec, tag] = wait_for<std::string>(
        [&](auto h) { start_consume(std::move(opts), std::move(on_message), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
    return tag;
}

void channel::cancel(std::string consumer_tag) {
    auto [ec] = wait_for<>([&](auto h) { start_cancel(std::move(consumer_tag), std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

void channel::close() {
    auto [ec] = wait_for<>([&](auto h) { start_close(std::move(h)); });
    if (ec) throw_channel_error(impl_, ec);
}

// ---- connection ---------------------------------------------------------------------------------

connection::connection(executor_type ex, connection_options opts)
    : impl_(std::make_shared<connection_impl>(std::move(ex), std::move(opts), nullptr)) {
    impl_->attach();
}

connection::connection(executor_type ex, connection_options opts, std::unique_ptr<transport::stream> stream)
    : impl_(std::make_shared<connection_impl>(std::move(ex), std::move(opts), std::move(stream))) {
    impl_->attach();
}

connection::~connection() {
    if (impl_) impl_->shutdown();
}

connection::executor_type connection::get_executor() const noexcept { return impl_->get_executor(); }
const connection_options& connection::options() const noexcept { return impl_->options(); }

void connection::start_open(asio::any_completion_handler<void(error_code)> h) {
    // Cancelling the open abandons the connection attempt (the handler gets operation_aborted).
    if (auto slot = asio::get_associated_cancellation_slot(h); slot.is_connected()) {
        slot.assign([weak = std::weak_ptr<connection_impl>(impl_)](asio::cancellation_type t) {
            if (t == asio::cancellation_type::none) return;
            if (auto c = weak.lock()) c->cancel_open();
        });
    }
    impl_->start_open(std::move(h));
}
void connection::start_open_channel(asio::any_completion_handler<void(error_code, channel)> h) {
    impl_->start_open_channel(std::move(h));
}
void connection::start_close(asio::any_completion_handler<void(error_code)> h,
                             std::optional<std::chrono::steady_clock::time_point> deadline) {
    impl_->start_close(std::move(h), deadline);
}

bool connection::is_open() const noexcept { return impl_->is_open(); }
bool connection::is_blocked() const noexcept { return impl_->is_blocked(); }
close_reason connection::last_close_reason() const { return impl_->last_reason(); }
field_table connection::server_properties() const { return impl_->server_properties(); }
std::uint32_t connection::negotiated_frame_max() const noexcept { return impl_->frame_max(); }
std::uint16_t connection::negotiated_heartbeat() const noexcept { return impl_->heartbeat(); }
std::uint16_t connection::negotiated_channel_max() const noexcept { return impl_->channel_max(); }

void connection::on_close(close_handler h) {
    impl_->on_strand([impl = impl_.get(), h = std::move(h)]() mutable { impl->on_close_ = std::move(h); });
}
void connection::on_blocked(blocked_handler h) {
    impl_->on_strand([impl = impl_.get(), h = std::move(h)]() mutable { impl->on_blocked_ = std::move(h); });
}

void connection::open() {
    auto [ec] = wait_for<>([&](auto h) { start_open(std::move(h)); });
    if (ec) throw error(ec, describe_failure(ec, {}, last_close_reason()));
}

channel connection::open_channel() {
    auto [ec, ch] = wait_for<channel>([&](auto h) { start_open_channel(std::move(h)); });
    if (ec) throw error(ec, describe_failure(ec, {}, last_close_reason()));
    return ch;
}

void connection::close() {
    auto [ec] = wait_for<>([&](auto h) { start_close(std::move(h)); });
    if (ec) throw error(ec, describe_failure(ec, {}, last_close_reason()));
}

void connection::close(std::chrono::steady_clock::time_point deadline) {
    auto [ec] = wait_for<>([&](auto h) { start_close(std::move(h), deadline); });
    if (ec) throw error(ec, describe_failure(ec, {}, last_close_reason()));
}

}  // namespace amqp
