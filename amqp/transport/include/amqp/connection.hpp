// The public client API: a connection to a broker over TCP or TLS, and channels on it.
//
// Threading: a connection runs on the executor it was created with; one strand owns the socket.
// Every member function may be called from any thread. Handlers given to async_* operations
// complete on the handler's associated executor (Asio's rules); the long-lived handlers
// (deliveries, returns, close notifications) run on the connection's strand and must not block.
//
// Asynchronous operations follow Asio's completion-token model: pass a callback,
// boost::asio::use_future, boost::asio::use_awaitable, boost::asio::deferred, ...
// The synchronous wrappers (open(), open_channel(), ...) must not be called from a thread that
// is running the connection's executor (they wait on a future), and throw amqp::error.
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>
#include <amqp/connection_options.hpp>
#include <amqp/protocol/client_error.hpp>
#include <amqp/transport/stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

namespace amqp {

namespace detail {
class connection_impl;
class channel_impl;
class owned_message;
}  // namespace detail

/// A message delivered to a consumer (basic.deliver + content header + body). All views point
/// into the connection's receive buffer and are valid only during the handler call: copy what
/// you keep.
struct delivered_message {
    std::uint16_t channel = 0;
    basic_deliver method;  ///< consumer_tag, delivery_tag, redelivered, exchange, routing_key
    basic_properties properties;
    bytes_view body;
    /// connection_options::deliver_oversized: the body (declared `body_size` bytes) exceeded
    /// max_message_size and was skipped; `body` is empty. Settle the message as usual.
    bool body_refused = false;
    std::uint64_t body_size = 0;
    /// Not empty when the message arrived well framed but its content header breaks our limits
    /// or does not decode (e.g. a headers table nested deeper than max_table_depth): a
    /// per-message fault, not a connection fault. The channel and connection stay open; `body`
    /// is empty (skipped as it arrived); `properties` holds what could be read (the refused
    /// field is left out). The text is ours and printable; settle the message as usual.
    std::string_view fault;
};

/// A mandatory message the broker could not route (basic.return, e.g. 312 NO_ROUTE). Views are
/// valid only during the handler call.
struct returned_message {
    std::uint16_t channel = 0;
    basic_return method;  ///< reply_code, reply_text, exchange, routing_key
    basic_properties properties;
    bytes_view body;
    bool body_refused = false;  ///< as delivered_message::body_refused
    std::uint64_t body_size = 0;
    std::string_view fault;  ///< as delivered_message::fault
};

/// Arguments of queue.declare. `name` empty: the broker names the queue (see the result).
struct queue_options {
    std::string name;
    bool passive = false;
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    field_table arguments;  ///< e.g. {"x-expires", std::int32_t{60000}}, {"x-queue-type", "classic"}
};

/// queue.declare-ok, owned.
struct queue_info {
    std::string name;
    std::uint32_t message_count = 0;
    std::uint32_t consumer_count = 0;
};

/// Arguments of exchange.declare.
struct exchange_options {
    std::string name;
    std::string type = "direct";  ///< "direct", "fanout", "topic", "headers", or a plugin's type
    bool passive = false;         ///< only check that it exists (404 NOT_FOUND closes the channel if not)
    bool durable = false;
    bool auto_delete = false;  ///< deleted when its last binding goes (RabbitMQ)
    bool internal = false;     ///< no direct publishing, only exchange-to-exchange (RabbitMQ)
    field_table arguments;     ///< e.g. {"alternate-exchange", "unrouted"}
};

/// Arguments of queue.bind and queue.unbind.
struct binding_options {
    std::string queue;
    std::string exchange;
    std::string routing_key;  ///< the binding key: a pattern for a topic exchange ("fib.*", "#")
    field_table arguments;    ///< e.g. {"x-match", "all"} for a headers exchange
};

/// Arguments of basic.consume.
struct consume_options {
    std::string queue;
    std::string consumer_tag;  ///< empty: the broker picks one
    bool no_ack = false;       ///< true: the broker considers a message acked once sent
    bool exclusive = false;
    field_table arguments;
};

/// Arguments of basic.publish.
struct publish_options {
    std::string_view exchange;  ///< "" = default exchange (routing_key names the queue)
    std::string_view routing_key;
    bool mandatory = false;  ///< unroutable → basic.return delivered to on_return
};

using delivery_handler = std::function<void(const delivered_message&)>;
using return_handler = std::function<void(const returned_message&)>;
/// Called once when a channel or connection closes for any reason other than our own close().
using close_handler = std::function<void(const close_reason&)>;
/// Called with true on connection.blocked (with the broker's reason) and false on unblocked.
using blocked_handler = std::function<void(bool blocked, std::string_view reason)>;

/// A channel: a cheap, copyable handle. Obtained from connection::async_open_channel.
class channel {
public:
    channel() = default;
    std::uint16_t id() const noexcept;
    /// True while the channel and its connection are open.
    bool is_open() const noexcept;

    template <class Token>
    auto async_declare_queue(queue_options opts, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, queue_info)>(
            [this](auto handler, queue_options o) { start_declare_queue(std::move(o), std::move(handler)); }, token,
            std::move(opts));
    }
    /// exchange.declare; completes on declare-ok. A redeclare with other settings closes the
    /// channel (406 PRECONDITION_FAILED), a passive declare of a missing exchange too (404): the
    /// operation then fails with that reply code and last_close_reason() has the broker's text.
    template <class Token>
    auto async_declare_exchange(exchange_options opts, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, exchange_options o) { start_declare_exchange(std::move(o), std::move(handler)); },
            token, std::move(opts));
    }
    /// exchange.delete; `if_unused`: refuse (406, closing the channel) while it has bindings.
    template <class Token>
    auto async_delete_exchange(std::string exchange, bool if_unused, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, std::string x, bool unused) {
                start_delete_exchange(std::move(x), unused, std::move(handler));
            },
            token, std::move(exchange), if_unused);
    }
    /// queue.bind: route the exchange's messages whose routing key matches to the queue. A
    /// missing queue or exchange closes the channel with 404 NOT_FOUND.
    template <class Token>
    auto async_bind_queue(binding_options opts, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, binding_options o) { start_binding(true, std::move(o), std::move(handler)); }, token,
            std::move(opts));
    }
    /// queue.unbind: remove a binding made with the same queue, exchange, key and arguments
    /// (removing one that does not exist succeeds).
    template <class Token>
    auto async_unbind_queue(binding_options opts, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, binding_options o) { start_binding(false, std::move(o), std::move(handler)); }, token,
            std::move(opts));
    }
    /// queue.delete (if-unused and if-empty false); completes with the number of messages
    /// deleted with it.
    template <class Token>
    auto async_delete_queue(std::string queue, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::uint32_t)>(
            [this](auto handler, std::string q) { start_delete_queue(std::move(q), std::move(handler)); }, token,
            std::move(queue));
    }
    /// basic.qos with prefetch_count (prefetch_size 0, global false).
    template <class Token>
    auto async_qos(std::uint16_t prefetch_count, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, std::uint16_t n) { start_qos(n, std::move(handler)); }, token, prefetch_count);
    }
    /// basic.consume; `on_message` is called on the connection's strand for each delivery until
    /// the consumer is cancelled (by us or by the broker) or the channel closes. Completes with
    /// the consumer tag.
    template <class Token>
    auto async_consume(consume_options opts, delivery_handler on_message, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, std::string)>(
            [this](auto handler, consume_options o, delivery_handler h) {
                start_consume(std::move(o), std::move(h), std::move(handler));
            },
            token, std::move(opts), std::move(on_message));
    }
    template <class Token>
    auto async_cancel(std::string consumer_tag, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler, std::string tag) { start_cancel(std::move(tag), std::move(handler)); }, token,
            std::move(consumer_tag));
    }
    /// channel.close with 200; completes when close-ok arrives.
    template <class Token>
    auto async_close(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_close(std::move(handler)); }, token);
    }

    /// confirm.select; completes on select-ok. From the moment it goes out, every publish on the
    /// channel is numbered and settled by the broker (RabbitMQ's publisher confirms): see
    /// async_publish. Errors: not_open, the channel's close reason.
    template <class Token>
    auto async_confirm_select(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_confirm_select(std::move(handler)); }, token);
    }

    /// Publish a message and learn what became of it. The exchange, routing key, properties and
    /// body are copied before this returns (whatever the token, deferred included).
    /// On a channel in confirm mode (async_confirm_select) it completes when the broker settles
    /// the message: success on basic.ack; publish_nacked (basic.nack: the broker could not take
    /// it, e.g. a full queue with x-overflow reject-publish); publish_returned (mandatory and
    /// unroutable: basic.return came before the ack; on_return is still called);
    /// publish_unconfirmed (the channel or connection closed first: the message may or may not
    /// be queued). On a channel not in confirm mode it completes once the frames are handed to
    /// the connection. Errors known at once: not_open, message_too_large, 502 SYNTAX_ERROR (a
    /// shortstr over 255 bytes), 501 FRAME_ERROR. No cancellation: a publish on the wire cannot
    /// be taken back. The completion runs on the handler's associated executor, never inside
    /// this call. Any thread. Cost: one copy of the message, and while unconfirmed one small
    /// record (its number, the handler, two hashes for a mandatory one).
    template <class Token>
    auto async_publish(const publish_options& opts, const basic_properties& props, bytes_view body, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [impl = impl_](auto handler, copied_message m) { start_publish(impl, std::move(m), std::move(handler)); },
            token, copy_message(opts, props, body));
    }

    /// Queue a message for sending: method, header and body frames go out together, in one write
    /// with whatever else is queued, never interleaved with another message. Returns at once;
    /// thread-safe. Errors: not_open, message_too_large. Returned messages go to on_return.
    error_code publish(const publish_options& opts, const basic_properties& props, bytes_view body);
    /// basic.ack / basic.nack / basic.reject; queued like publish, thread-safe.
    error_code ack(std::uint64_t delivery_tag, bool multiple = false);
    error_code nack(std::uint64_t delivery_tag, bool multiple = false, bool requeue = true);
    error_code reject(std::uint64_t delivery_tag, bool requeue = true);

    /// Handlers (set before consuming/publishing; run on the connection's strand).
    void on_return(return_handler h);
    /// The broker cancelled a consumer (queue deleted, ...): called with the consumer tag.
    void on_consumer_cancelled(std::function<void(std::string_view consumer_tag)> h);
    void on_close(close_handler h);
    /// Why the channel closed (empty code while open): the broker's channel.close (e.g. 404 with
    /// its text), a local fault, or the connection's reason when the connection went away.
    close_reason last_close_reason() const;

    // Synchronous wrappers: block the calling thread, throw amqp::error.
    queue_info declare_queue(queue_options opts);
    void declare_exchange(exchange_options opts);
    void delete_exchange(std::string exchange, bool if_unused = false);
    void bind_queue(binding_options opts);
    void unbind_queue(binding_options opts);
    std::uint32_t delete_queue(std::string queue);
    void qos(std::uint16_t prefetch_count);
    std::string consume(consume_options opts, delivery_handler on_message);
    void cancel(std::string consumer_tag);
    void close();

private:
    friend class detail::connection_impl;
    explicit channel(std::shared_ptr<detail::channel_impl> impl) : impl_(std::move(impl)) {}

    void start_declare_queue(queue_options, boost::asio::any_completion_handler<void(error_code, queue_info)>);
    void start_declare_exchange(exchange_options, boost::asio::any_completion_handler<void(error_code)>);
    void start_delete_exchange(std::string, bool, boost::asio::any_completion_handler<void(error_code)>);
    void start_binding(bool bind, binding_options, boost::asio::any_completion_handler<void(error_code)>);
    void start_delete_queue(std::string, boost::asio::any_completion_handler<void(error_code, std::uint32_t)>);
    void start_qos(std::uint16_t, boost::asio::any_completion_handler<void(error_code)>);
    void start_consume(consume_options, delivery_handler,
                       boost::asio::any_completion_handler<void(error_code, std::string)>);
    void start_cancel(std::string, boost::asio::any_completion_handler<void(error_code)>);
    void start_close(boost::asio::any_completion_handler<void(error_code)>);
    void start_confirm_select(boost::asio::any_completion_handler<void(error_code)>);

    /// The message async_publish copied, or the error that refused the copy.
    struct copied_message {
        error_code ec;
        std::shared_ptr<const detail::owned_message> msg;
    };
    copied_message copy_message(const publish_options& opts, const basic_properties& props, bytes_view body) const;
    static void start_publish(const std::shared_ptr<detail::channel_impl>& ch, copied_message m,
                              boost::asio::any_completion_handler<void(error_code)> h);

    std::shared_ptr<detail::channel_impl> impl_;
};

/// A connection to a broker. Not copyable; destroying it closes the socket at once (call
/// close()/async_close() first for a clean close handshake).
class connection {
public:
    using executor_type = boost::asio::any_io_executor;

    connection(executor_type ex, connection_options opts);
    /// A connection over `stream` instead of TCP/TLS (tests, or a transport of the user's own):
    /// opening connects it and runs AMQP over it; `opts`' host, port and TLS settings are then
    /// only used in error texts.
    connection(executor_type ex, connection_options opts, std::unique_ptr<transport::stream> stream);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    executor_type get_executor() const noexcept;
    const connection_options& options() const noexcept;

    /// Resolve, connect (TCP_NODELAY), TLS handshake for amqps, then the AMQP handshake
    /// (protocol header, start/start-ok, tune/tune-ok, open/open-ok), all within
    /// options().connection_timeout.
    template <class Token>
    auto async_open(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_open(std::move(handler)); }, token);
    }
    template <class Token>
    auto async_open_channel(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code, channel)>(
            [this](auto handler) { start_open_channel(std::move(handler)); }, token);
    }
    /// connection.close with 200 and wait for close-ok (bounded), then close the socket.
    /// Fails every pending operation with operation_aborted.
    template <class Token>
    auto async_close(Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_close(std::move(handler)); }, token);
    }
    /// As async_close, but the whole close ends by `deadline`: if close-ok has not come by then
    /// (a broker blocked by a resource alarm reads nothing; a frozen peer answers nothing), the
    /// socket is closed without it and the operation completes. A deadline already past still
    /// queues connection.close, then closes the socket at once. For programs that must exit by
    /// their own deadline.
    template <class Token>
    auto async_close(std::chrono::steady_clock::time_point deadline, Token&& token) {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this, deadline](auto handler) { start_close(std::move(handler), deadline); }, token);
    }

    /// True between a successful open and the first close or failure.
    bool is_open() const noexcept;
    /// True while the broker has us blocked (connection.blocked).
    bool is_blocked() const noexcept;
    /// Why the connection closed (empty code while open).
    close_reason last_close_reason() const;
    /// The broker's server-properties from connection.start (product, version, capabilities...).
    field_table server_properties() const;
    /// What was negotiated in tune/tune-ok.
    std::uint32_t negotiated_frame_max() const noexcept;
    std::uint16_t negotiated_heartbeat() const noexcept;
    std::uint16_t negotiated_channel_max() const noexcept;

    /// Called once when the connection closes for any reason other than our own close():
    /// broker close (e.g. 320 CONNECTION_FORCED), lost socket, missed heartbeats, protocol fault.
    /// Every pending operation on the connection and its channels has failed by then.
    void on_close(close_handler h);
    void on_blocked(blocked_handler h);

    // Synchronous wrappers: block the calling thread, throw amqp::error.
    void open();
    channel open_channel();
    void close();
    void close(std::chrono::steady_clock::time_point deadline);

private:
    void start_open(boost::asio::any_completion_handler<void(error_code)>);
    void start_open_channel(boost::asio::any_completion_handler<void(error_code, channel)>);
    void start_close(boost::asio::any_completion_handler<void(error_code)>,
                     std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

    std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace amqp
