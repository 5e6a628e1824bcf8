// Shared by the RPC integration, program and interop tests: the broker's options, unique queue
// names, an I/O thread, a raw AMQP peer (to declare, publish and read what the RPC classes
// exchange), and a Fibonacci server in this process.
#pragma once

#include <programs/cli.hpp>
#include <fibonacci/fibonacci_client.hpp>
#include <fibonacci/fibonacci_service.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/rpc_server.hpp>

#include <amqp/connection.hpp>

#include <test_support/broker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <unistd.h>

namespace rpc_test {

using namespace std::chrono_literals;

/// The broker's URL and parsed options; empty URL when none is configured.
inline std::string broker_url() { return amqp_test::broker_url(); }

inline amqp::connection_options broker_options() {
    amqp::connection_options o;
    std::string why;
    if (amqp::parse_uri(broker_url(), o, &why)) ADD_FAILURE() << "bad broker URL: " << why;
    return o;
}

/// Tests may run in parallel on one broker: every test gets its own queue names.
inline std::string unique_queue(const std::string& what) {
    static std::atomic<int> counter{0};
    return "rpc-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + what;
}

/// A message as a raw peer saw it (owned copies).
struct seen_message {
    std::string body;
    std::optional<std::string> correlation_id, reply_to, content_type, expiration;
    std::uint64_t delivery_tag = 0;
    bool redelivered = false;
};

inline seen_message copy_message(const amqp::delivered_message& m) {
    seen_message s;
    s.body.assign(amqp::as_string_view(m.body));
    auto opt = [](const std::optional<std::string_view>& v) {
        return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
    };
    s.correlation_id = opt(m.properties.correlation_id);
    s.reply_to = opt(m.properties.reply_to);
    s.content_type = opt(m.properties.content_type);
    s.expiration = opt(m.properties.expiration);
    s.delivery_tag = m.method.delivery_tag;
    s.redelivered = m.method.redelivered;
    return s;
}

/// Messages a raw consumer received, waited for with a deadline.
class inbox {
public:
    void push(seen_message m) {
        std::lock_guard lock(mutex_);
        items_.push_back(std::move(m));
        cv_.notify_all();
    }
    std::optional<seen_message> pop(std::chrono::milliseconds timeout = 30s) {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, timeout, [this] { return !items_.empty(); })) return std::nullopt;
        seen_message m = std::move(items_.front());
        items_.pop_front();
        return m;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<seen_message> items_;
};

/// A plain AMQP connection + channel for a test to play the other side by hand.
class raw_peer {
public:
    explicit raw_peer(boost::asio::any_io_executor ex) : conn_(ex, broker_options()) {
        conn_.open();
        ch_ = conn_.open_channel();
    }
    ~raw_peer() {
        try {
            if (conn_.is_open()) conn_.close();
        } catch (const std::exception&) {
        }
    }
    amqp::channel& channel() { return ch_; }

    /// Declare `name` as the RPC server does (non-durable) and return its message count.
    std::uint32_t declare(const std::string& name) {
        amqp::queue_options q;
        q.name = name;
        return ch_.declare_queue(std::move(q)).message_count;
    }
    /// A server-named exclusive queue.
    std::string declare_exclusive() {
        amqp::queue_options q;
        q.exclusive = true;
        return ch_.declare_queue(std::move(q)).name;
    }
    /// Messages ready in `name` (passive declare).
    std::uint32_t ready(const std::string& name) {
        amqp::queue_options q;
        q.name = name;
        q.passive = true;
        return ch_.declare_queue(std::move(q)).message_count;
    }
    /// Consume `queue` into `box`; no_ack unless manual_ack.
    std::string consume(const std::string& queue, inbox& box, bool manual_ack = false) {
        amqp::consume_options c;
        c.queue = queue;
        c.no_ack = !manual_ack;
        return ch_.consume(std::move(c), [&box](const amqp::delivered_message& m) { box.push(copy_message(m)); });
    }
    void publish(const std::string& queue, std::string_view body, std::optional<std::string> reply_to,
                 std::optional<std::string> correlation_id) {
        amqp::basic_properties p;
        if (reply_to) p.reply_to = *reply_to;
        if (correlation_id) p.correlation_id = *correlation_id;
        amqp::publish_options where;
        where.routing_key = queue;
        EXPECT_FALSE(ch_.publish(where, p, amqp::as_bytes(body)));
    }

private:
    amqp::connection conn_;
    amqp::channel ch_;
};

/// The server's side played by hand: declares `queue` and takes its requests into `requests`;
/// the test reads them and answers (or not) through `peer`.
struct hand_server {
    hand_server(boost::asio::any_io_executor ex, const std::string& queue) : peer(ex) {
        peer.declare(queue);
        peer.consume(queue, requests);
    }
    /// Answer `req` with `body` as a foreign server would: to its reply_to, with its id.
    void reply(const seen_message& req, std::string_view body) {
        peer.publish(req.reply_to.value_or(""), body, std::nullopt, req.correlation_id);
    }
    raw_peer peer;
    inbox requests;
};

/// A Fibonacci rpc_server in this process.
struct fib_server {
    fib_server(boost::asio::any_io_executor ex, const std::string& queue, rpc::fibonacci_service_options fib = {},
               std::uint16_t prefetch = 1)
        : server(ex, broker_options(), options(queue, prefetch), rpc::make_fibonacci_handler(std::move(fib))) {
        server.start();
    }
    ~fib_server() { server.stop(); }
    static rpc::server_options options(const std::string& queue, std::uint16_t prefetch) {
        rpc::server_options o;
        o.queue = queue;
        o.prefetch = prefetch;
        // One worker, as the server's default was before it became 0 (inline): the tests built
        // on this hold a request in a blocking handler while the connection goes on.
        o.workers = 1;
        return o;
    }
    rpc::rpc_server server;
};

/// A started client for `queue`.
inline std::unique_ptr<rpc::rpc_client> make_client(boost::asio::any_io_executor ex, const std::string& queue,
                                                    bool direct_reply_to = false,
                                                    amqp::connection_options conn = broker_options()) {
    rpc::client_options o;
    o.queue = queue;
    o.direct_reply_to = direct_reply_to;
    auto c = std::make_unique<rpc::rpc_client>(ex, std::move(conn), o);
    c->start();
    return c;
}

/// The gtest way to say "no broker here".
#define RPC_REQUIRE_BROKER()                                                                 \
    do {                                                                                     \
        if (::rpc_test::broker_url().empty()) GTEST_SKIP() << "no broker (AMQP_URL unset)"; \
    } while (0)

}  // namespace rpc_test
