// Private: one channel's publishes waiting for the broker's confirm (async_publish on a channel
// in confirm mode), each completed once with the broker's answer: ack, nack, return-then-ack,
// or lost with the channel or connection. The protocol machine numbers the publishes and says
// which numbers an answer settles; this keeps only what the transport needs to find each
// caller: one small record per unconfirmed message, in publish (= number) order.
//
// Threading: strand only (owned by channel_impl).
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

namespace amqp::detail {

class publish_confirms {
public:
    using handler = boost::asio::any_completion_handler<void(error_code)>;

    /// Publish number `seq` (from the machine, increasing) waits for its answer.
    void add(std::uint64_t seq, const basic_publish& m, bytes_view body, handler h);
    /// basic.return for a mandatory message: the oldest waiting mandatory publish of that
    /// exchange, routing key and body is marked returned (RabbitMQ returns a channel's messages
    /// in publish order, and its return comes before its ack). Falls back to exchange and
    /// routing key alone when the body was not read (refused as oversized, faulty header).
    void on_returned(const basic_return& r, bytes_view body, bool body_read);
    /// Numbers [first, last] are settled with `ec` (empty: acked); a returned one completes
    /// with publish_returned instead. Completions run through `ex`, never inline.
    void settle(std::uint64_t first, std::uint64_t last, error_code ec, const boost::asio::any_io_executor& ex);
    /// Complete every waiting publish with `ec` (the channel ended without the machine having
    /// settled them: not expected, but no caller may be left waiting).
    void fail_all(error_code ec, const boost::asio::any_io_executor& ex);
    /// The handlers, to be destroyed without being called (the execution context is going away).
    std::vector<handler> take_all();
    std::size_t size() const noexcept { return waiting_.size(); }

private:
    struct record {
        std::uint64_t seq = 0;
        std::size_t route = 0;    // hash of exchange and routing key (mandatory only)
        std::size_t content = 0;  // hash of route and body (mandatory only)
        bool mandatory = false;
        bool returned = false;
        std::optional<handler> h;  // empty once completed (optional + emplace: Boost 1.81)
    };
    void drop_settled_front();

    std::deque<record> waiting_;
};

}  // namespace amqp::detail
