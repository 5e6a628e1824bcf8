// Private: what the channel's request functions share across files — sending a synchronous
// method and getting its reply, the executor a channel's handlers complete on, blocking on an
// operation, and the error a failed blocking call throws. Defined in connection.cpp, which
// uses them too; channel_topology.cpp is the other user.
#pragma once

#include "connection_impl.hpp"

#include <future>
#include <memory>
#include <tuple>

namespace amqp::detail {

/// Send `m` on the channel and hand its reply (valid during the call) or error to `on_reply`;
/// not_open at once when the connection is gone.
void send_channel_request(const std::shared_ptr<channel_impl>& ch, const method& m, reply_op on_reply);
/// The connection's executor, or the system executor when the connection is gone.
asio::any_io_executor channel_executor(const std::shared_ptr<channel_impl>& ch);
/// Throw amqp::error for a failed blocking call, with the channel's or connection's close reason
/// when that is what failed it.
[[noreturn]] void throw_channel_error(const std::shared_ptr<channel_impl>& ch, const error_code& ec);

/// Block on an async operation started with a callback; returns (error, results...).
template <class... R, class Start>
auto wait_for(Start&& start) {
    std::promise<std::tuple<error_code, R...>> p;
    auto f = p.get_future();
    start([&p](error_code ec, R... r) { p.set_value({ec, std::move(r)...}); });
    return f.get();
}

}  // namespace amqp::detail
