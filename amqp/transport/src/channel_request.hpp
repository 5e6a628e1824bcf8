// Private: what the channel's request functions share (connection.cpp, channel_topology.cpp):
// sending a synchronous method and getting its reply, the executor a channel's handlers complete
// on, encoding a method's arguments table, blocking on an operation, and the error a failed
// blocking call throws. Defined in channel_request.cpp.
#pragma once

#include "cancellable_op.hpp"
#include "connection_impl.hpp"

#include <amqp/codec/field_table.hpp>

#include <future>
#include <memory>
#include <string>
#include <tuple>

namespace amqp::detail {

/// Send `m` on the channel and hand its reply (valid during the call) or error to `on_reply`;
/// not_open at once when the connection is gone.
void send_channel_request(const std::shared_ptr<channel_impl>& ch, const method& m, reply_op on_reply);
/// Send `m` and complete `h` with the reply's outcome alone (for -ok replies that carry
/// nothing); `h` honours per-operation cancellation (cancellable_op).
void send_void_request(const std::shared_ptr<channel_impl>& ch, const method& m,
                       asio::any_completion_handler<void(error_code)> h);
/// The connection's executor, or the system executor when the connection is gone.
asio::any_io_executor channel_executor(const std::shared_ptr<channel_impl>& ch);
/// The text of a failed operation: the channel's or the connection's close reason when that is
/// what failed it, else the code's message.
std::string describe_failure(const error_code& ec, const close_reason& channel_reason, const close_reason& conn_reason);
/// Throw amqp::error for a failed blocking call, described as describe_failure does.
[[noreturn]] void throw_channel_error(const std::shared_ptr<channel_impl>& ch, const error_code& ec);

/// Encode a method's arguments table into `buf` (the method's view points there). On failure
/// complete `h` at once with the error (results default-constructed) and return false: the
/// method must not be sent.
template <class... R>
bool encode_arguments(const std::shared_ptr<channel_impl>& ch, const field_table& arguments, byte_buffer& buf,
                      asio::any_completion_handler<void(error_code, R...)>& h) {
    if (auto ec = encode_table(arguments, buf)) {
        complete_on(channel_executor(ch), std::move(h), ec, R{}...);
        return false;
    }
    return true;
}

/// Block on an async operation started with a callback; returns (error, results...).
template <class... R, class Start>
auto wait_for(Start&& start) {
    std::promise<std::tuple<error_code, R...>> p;
    auto f = p.get_future();
    start([&p](error_code ec, R... r) { p.set_value({ec, std::move(r)...}); });
    return f.get();
}

}  // namespace amqp::detail
