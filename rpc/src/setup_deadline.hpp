// The steps after a connection's open (channels, queues, prefetch, consumers) bounded by its
// connection_timeout, as the open is: a broker that never answers one must not hold a start, or
// the calls waiting for it, for ever. Shared by the client's set-up (client_setup.cpp) and the
// server's (server_lifecycle.cpp). Private to the rpc library.
#pragma once

#include <amqp/connection.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace rpc::detail {

/// Owned by the set-up it bounds. The timer's handler may run on another thread of the executor
/// than the set-up's steps (a thread pool): the two flags they share are atomic.
class setup_deadline {
public:
    explicit setup_deadline(const boost::asio::any_io_executor& ex) : timer_(ex) {}

    /// From now on, `conn`'s connection_timeout. If it passes before cancel(), `conn` is closed at
    /// once, which fails the step in progress: its handler then sees expired(). `owner` (the
    /// set-up, which holds this object and keeps `conn` alive until cancel()) lives until then.
    void arm(amqp::connection& conn, std::shared_ptr<void> owner) {
        timeout_ = conn.options().connection_timeout;
        timer_.expires_after(timeout_);
        timer_.async_wait([this, &conn, owner = std::move(owner)](const boost::system::error_code& ec) {
            if (ec || done_) return;
            expired_ = true;
            conn.async_close(std::chrono::steady_clock::now(), [](amqp::error_code) {});
        });
    }
    /// The step now awaited, named by the timeout's text (a string literal: "queue.declare").
    void step(const char* name) noexcept { step_ = name; }
    /// The set-up ended, either way.
    void cancel() {
        done_ = true;
        timer_.cancel();
    }
    bool expired() const noexcept { return expired_; }
    static amqp::error_code error() { return amqp::make_error_code(amqp::client_error::connect_timeout); }
    /// "the broker did not answer queue.declare within 30000 ms (connection_timeout)"
    std::string why() const {
        return std::string("the broker did not answer ") + step_ + " within " + std::to_string(timeout_.count()) +
               " ms (connection_timeout)";
    }

private:
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds timeout_{0};
    const char* step_ = "";
    std::atomic<bool> expired_{false};
    std::atomic<bool> done_{false};
};

}  // namespace rpc::detail
