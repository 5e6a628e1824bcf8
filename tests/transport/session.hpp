// A client session as a chain of steps (open → channel → declare → consume → publish → deliver
// → ack → close) over the test stream, recording how each step ended, so that a test can check
// that a fault anywhere ends it in one clear error reported once.
#pragma once

#include "scripted_broker.hpp"
#include "test_stream.hpp"

#include <amqp/connection.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace amqp_test {

class session {
public:
    session(boost::asio::io_context& ioc, std::shared_ptr<test_peer> peer);

    /// Begin with async_open; the rest follows from the completions.
    void start();

    /// Steps begun, in order, and how often each one's completion ran (must be once).
    std::vector<std::string> started;
    std::map<std::string, int> completions;
    std::string failed_step;  ///< empty: no step failed
    amqp::error_code failure;
    bool finished = false;  ///< async_close completed
    bool delivered = false;
    int on_close_calls = 0;

    amqp::connection& conn() { return *conn_; }
    /// Destroy the connection object (as a program leaving its scope does).
    void drop_connection() { conn_.reset(); }

private:
    bool step_done(const std::string& step, amqp::error_code ec);
    void begin(const std::string& step) { started.push_back(step); }
    void open_channel();
    void declare();
    void consume();
    void publish_and_wait();
    void ack();
    void close();

    std::unique_ptr<amqp::connection> conn_;
    amqp::channel ch_;
    boost::asio::steady_timer delivery_wait_;
    std::uint64_t tag_ = 0;
};

}  // namespace amqp_test
