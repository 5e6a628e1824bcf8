// The client's handle: its members post to the client's strand (client_impl.hpp) and the
// blocking forms wait for the async ones.

#include <rpc/rpc_client.hpp>

#include "client_impl.hpp"

#include <future>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/io_context.hpp>

namespace rpc {
namespace detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
namespace {
// Installed in a request's cancellation slot: the cancellation reaches the core on the strand.
struct request_canceller {
    // A constructor, not an aggregate: the slot constructs it with parentheses, which clang 14
    // does not accept for aggregates (C++20's parenthesised aggregate initialisation).
    request_canceller(std::weak_ptr<client_impl> i, std::uint64_t k) : impl(std::move(i)), key(k) {}
    std::weak_ptr<client_impl> impl;
    std::uint64_t key;
    void operator()(asio::cancellation_type_t type) const {
        if (auto self = impl.lock()) self->on_strand([self, key = key, type] { self->cancel(key, type); });
    }
};
}  // namespace

void launch_start(const std::shared_ptr<client_impl>& impl, start_handler h) {
    impl->on_strand([impl, h = std::move(h)]() mutable { impl->start(std::move(h)); });
}

const asio::any_io_executor& client_executor(const client_impl& impl) noexcept { return impl.executor(); }

void* direct_context(const asio::any_io_executor& ex) noexcept {
    using plain = asio::io_context::executor_type;
    using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;  // outstanding_work.tracked
    static_assert(std::is_same_v<tracked, std::decay_t<decltype(asio::prefer(
                                              std::declval<plain>(), asio::execution::outstanding_work.tracked))>>);
    const auto inline_context = [](const auto& e) -> void* {
        // blocking.never is a run-time property of these executors: dispatch then posts.
        if (asio::query(e, asio::execution::blocking) == asio::execution::blocking.never) return nullptr;
        return &e.context();
    };
    if (const auto* e = ex.target<plain>()) return inline_context(*e);
    if (const auto* e = ex.target<tracked>()) return inline_context(*e);
    return nullptr;
}

void launch_request(const std::shared_ptr<client_impl>& impl, request_message req, diagnostics* diag, request_handler h,
                    void* direct) {
    const generated_id id = impl->ids().next_id();
    if (diag) diag->correlation_id = id.view();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.template emplace<request_canceller>(impl, id.key);
    auto ctx = std::make_unique<request_context>(std::move(h), diag, static_cast<asio::io_context*>(direct));
    if (impl->try_submit_inline(id, req, ctx)) return;
    impl->on_strand([impl, id, req = std::move(req), ctx = std::move(ctx)]() mutable {
        impl->submit(id, std::move(req), std::move(ctx));
    });
}

void launch_close(const std::shared_ptr<client_impl>& impl, std::optional<clock::time_point> deadline,
                  start_handler h) {
    impl->on_strand([impl, deadline, h = std::move(h)]() mutable { impl->close(deadline, std::move(h)); });
}

}  // namespace detail

namespace asio = boost::asio;

rpc_client::rpc_client(executor_type ex, amqp::connection_options conn, client_options opts)
    : rpc_client(std::move(ex), broker_nodes{{std::move(conn)}}, std::move(opts)) {}

rpc_client::rpc_client(executor_type ex, broker_nodes nodes, client_options opts)
    : impl_(std::make_shared<detail::client_impl>(std::move(ex), std::move(nodes), std::move(opts))) {}

rpc_client::~rpc_client() {
    impl_->on_strand([impl = impl_] { impl->abandon(); });
}

rpc_client::executor_type rpc_client::get_executor() const noexcept { return impl_->executor(); }

void rpc_client::start() {
    impl_->refuse_blocking_on_executor("rpc_client::start");
    std::promise<error_code> done;
    auto result = done.get_future();
    detail::launch_start(impl_, [&done](error_code ec) { done.set_value(ec); });
    if (const error_code ec = result.get()) throw call_error(ec, impl_->start_failure());
}

std::string rpc_client::start_failure() const { return impl_->start_failure(); }

reply_message rpc_client::request(request_message req) {
    impl_->refuse_blocking_on_executor("rpc_client::request");
    std::promise<std::pair<error_code, reply_message>> done;
    auto result = done.get_future();
    diagnostics diag;
    detail::launch_request(impl_, std::move(req), &diag, [&done](error_code ec, reply_message r) {
        done.set_value({ec, std::move(r)});
    });
    auto [ec, r] = result.get();
    if (ec) throw call_error(ec, diag.message.empty() ? ec.message() : diag.message);
    return std::move(r);
}

void rpc_client::close() {
    impl_->refuse_blocking_on_executor("rpc_client::close");
    std::promise<void> done;
    detail::launch_close(impl_, std::nullopt, [&done](error_code) { done.set_value(); });
    done.get_future().wait();
}

void rpc_client::close(std::chrono::steady_clock::time_point deadline) {
    impl_->refuse_blocking_on_executor("rpc_client::close");
    std::promise<void> done;
    detail::launch_close(impl_, deadline, [&done](error_code) { done.set_value(); });
    done.get_future().wait();
}

std::string rpc_client::reply_queue() const { return impl_->reply_queue(); }
std::size_t rpc_client::pending_calls() const { return impl_->pending_calls(); }
std::size_t rpc_client::held_requests() const { return impl_->held_requests(); }
client_stats rpc_client::stats() const { return impl_->stats(); }
bool rpc_client::is_running() const { return impl_->is_running(); }
bool rpc_client::is_blocked() const { return impl_->is_blocked(); }
std::chrono::milliseconds rpc_client::default_timeout() const { return impl_->default_timeout(); }

}  // namespace rpc
