// rpc_server's public face: it owns a server_impl (server_impl.hpp) and blocks on it where asked.
#include "server_impl.hpp"

#include <future>
#include <stdexcept>

namespace rpc {

namespace {
void refuse_on_executor(const detail::server_impl& impl, const char* what) {
    if (impl.on_executor_thread())
        throw std::logic_error(std::string("rpc_server::") + what +
                               " called on a thread running the server's executor, which it would wait for "
                               "forever: use async_" +
                               what + " there");
}

// The one service a server built with a handler serves, as its server_options say.
service_options service_options_of(server_options& opts) {
    service_options so;
    so.prefetch = opts.prefetch;
    so.queue_type = opts.queue_type;
    so.runs_inline = std::move(opts.runs_inline);
    so.body_only = opts.body_only;
    return so;
}
}  // namespace

rpc_server::rpc_server(executor_type ex, amqp::connection_options conn, server_options opts)
    : rpc_server(std::move(ex), broker_nodes{{std::move(conn)}}, std::move(opts)) {}

rpc_server::rpc_server(executor_type ex, amqp::connection_options conn, server_options opts, request_handler handler)
    : rpc_server(std::move(ex), broker_nodes{{std::move(conn)}}, std::move(opts), std::move(handler)) {}

rpc_server::rpc_server(executor_type ex, broker_nodes nodes, server_options opts)
    : impl_(std::make_shared<detail::server_impl>(std::move(ex), std::move(nodes), std::move(opts))) {}

rpc_server::rpc_server(executor_type ex, broker_nodes nodes, server_options opts, request_handler handler)
    : rpc_server(std::move(ex), std::move(nodes), opts) {
    add_service(std::move(opts.queue), std::move(handler), service_options_of(opts));
}

rpc_server::rpc_server(executor_type ex, broker_nodes nodes, server_options opts, owning_request_handler handler,
                       detail::owning_handler_tag)
    : rpc_server(std::move(ex), std::move(nodes), opts) {
    add_owning_service(std::move(opts.queue), std::move(handler), service_options_of(opts));
}

rpc_server::~rpc_server() { impl_->abandon(); }

rpc_server::executor_type rpc_server::get_executor() const noexcept { return impl_->executor(); }

void rpc_server::add_service(std::string queue, request_handler handler, service_options opts) {
    if (!handler) throw std::invalid_argument("rpc_server::add_service: empty handler");
    impl_->add_service({std::move(queue), std::move(opts), std::move(handler), {}, {}});
}

void rpc_server::add_service(std::string queue, async_request_handler handler, service_options opts) {
    if (!handler) throw std::invalid_argument("rpc_server::add_service: empty handler");
    impl_->add_service({std::move(queue), std::move(opts), {}, std::move(handler), {}});
}

void rpc_server::add_owning_service(std::string queue, owning_request_handler handler, service_options opts) {
    if (!handler) throw std::invalid_argument("rpc_server::add_service: empty handler");
    impl_->add_service({std::move(queue), std::move(opts), {}, {}, std::move(handler)});
}

void rpc_server::start_op(std::shared_ptr<detail::server_impl> impl,
                          boost::asio::any_completion_handler<void(amqp::error_code)> handler) {
    impl->start(std::move(handler));
}

void rpc_server::stop_op(std::shared_ptr<detail::server_impl> impl,
                         boost::asio::any_completion_handler<void(bool)> handler) {
    impl->stop(std::move(handler));
}

void rpc_server::start() {
    refuse_on_executor(*impl_, "start");
    std::promise<amqp::error_code> done;
    auto f = done.get_future();
    start_op(impl_, [&done](amqp::error_code ec) { done.set_value(ec); });
    if (const amqp::error_code ec = f.get()) throw amqp::error(ec, impl_->last_error());
}

bool rpc_server::stop() {
    refuse_on_executor(*impl_, "stop");
    std::promise<bool> done;
    auto f = done.get_future();
    stop_op(impl_, [&done](bool drained) { done.set_value(drained); });
    return f.get();
}

void rpc_server::halt() { impl_->halt(); }
void rpc_server::on_connection_lost(std::function<void(const amqp::close_reason&)> h) {
    impl_->on_connection_lost(std::move(h));
}
void rpc_server::on_log(std::function<void(std::string_view)> h) { impl_->on_log(std::move(h)); }
server_stats rpc_server::stats() const { return impl_->stats(); }
std::size_t rpc_server::in_flight() const { return impl_->in_flight(); }
std::string rpc_server::last_error() const { return impl_->last_error(); }

}  // namespace rpc
