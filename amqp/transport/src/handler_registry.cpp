#include "handler_registry.hpp"

#include "connection_impl.hpp"

#include <vector>

namespace amqp::detail {

boost::asio::execution_context::id handler_registry::id;

handler_registry::handler_registry(boost::asio::execution_context& ctx) : service(ctx) {}

void handler_registry::shutdown() {
    // Held here while their handlers go: dropping a handler may destroy another connection
    // (which then leaves the table, under the lock this loop does not hold).
    std::vector<std::shared_ptr<connection_impl>> alive;
    {
        std::lock_guard lk(live_->mu);
        for (const auto& [key, weak] : live_->all)
            if (auto c = weak.lock()) alive.push_back(std::move(c));
    }
    for (const auto& c : alive) c->drop_handlers();
}

}  // namespace amqp::detail
