// What both programs of the "upper" service need: the broker URL, and an io_context running on a
// thread of its own (the library's blocking calls must not run on the executor's thread).
#pragma once

#include <amqp/connection_options.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace upper {

/// The URL's connection options, or nullopt after printing why it is not a valid AMQP URL.
inline std::optional<amqp::connection_options> broker(const char* program, const char* url) {
    amqp::connection_options conn;
    std::string why;
    if (amqp::parse_uri(url, conn, &why)) {
        std::cerr << program << ": bad URL: " << why << "\n";
        return std::nullopt;
    }
    return conn;
}

/// An io_context run by one thread from construction to destruction.
class io_thread {
public:
    io_thread() : runner_([this] { io_.run(); }) {}
    ~io_thread() {
        work_.reset();
        io_.stop();
        runner_.join();
    }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    boost::asio::io_context& context() { return io_; }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    std::thread runner_;
};

}  // namespace upper
