// The client's set-up of one connection: open, channel, reply queue, consumer. Private to the
// client's shell (rpc_client.cpp), used by start and by each reconnection.
#pragma once

#include <rpc/error.hpp>

#include <amqp/connection.hpp>

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_completion_handler.hpp>

namespace rpc::detail {

/// How a set-up ended: the channel and the reply queue, or the error and a sentence saying at
/// which step and why ("cannot declare the reply queue: 403 ACCESS_REFUSED ...").
struct setup_result {
    error_code ec;
    amqp::channel channel;
    std::string reply_queue;
    std::string why;
};

/// What the set-up needs from its owner.
struct setup_hooks {
    bool direct_reply_to = false;
    bool confirm = false;  ///< confirm.select on the channel before consuming
    /// Called with the new channel before consuming on it (the owner installs its handlers).
    std::function<void(amqp::channel&)> prepare_channel;
    /// The reply consumer's delivery handler.
    amqp::delivery_handler on_reply;
};

using setup_handler = boost::asio::any_completion_handler<void(setup_result)>;

/// Open `conn`, then a channel, declare the reply queue (unless direct reply-to) and consume it;
/// `done` runs once, on `conn`'s executor, with the outcome.
void set_up(std::shared_ptr<amqp::connection> conn, setup_hooks hooks, setup_handler done);

}  // namespace rpc::detail
