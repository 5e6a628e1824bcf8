// Private: what lets an io_context's destruction free a connection whose stored handler owns it.
//
// A user may write `conn->async_close([conn](error_code) {})`: the handler keeps the connection
// alive until it runs. Asio's own objects keep such handlers inside their pending operations,
// which the execution context destroys when it shuts down, and the cycle breaks there. Ours keep
// them in the connection (the machine answers them, not the reactor), so the context would never
// see them: this service, one per execution context, remembers every live connection on it and,
// at shutdown, destroys their stored handlers without calling them, as Asio does.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include <boost/asio/execution_context.hpp>

namespace amqp::detail {

class connection_impl;

/// The connections alive on one context. Shared with them: a connection may outlive its context.
struct live_connections {
    std::mutex mu;
    std::map<const connection_impl*, std::weak_ptr<connection_impl>> all;
};

class handler_registry final : public boost::asio::execution_context::service {
public:
    using key_type = handler_registry;
    static boost::asio::execution_context::id id;

    explicit handler_registry(boost::asio::execution_context& ctx);
    const std::shared_ptr<live_connections>& connections() const noexcept { return live_; }

private:
    void shutdown() override;

    std::shared_ptr<live_connections> live_ = std::make_shared<live_connections>();
};

}  // namespace amqp::detail
