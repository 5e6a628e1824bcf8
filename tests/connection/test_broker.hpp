// Helpers for the integration tests: an io_context on its own thread, and connection options for
// the fixture's broker (plain and TLS).
#pragma once

#include <amqp/connection.hpp>
#include <test_support/broker.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace amqp_test {

/// An io_context run by one background thread for the lifetime of the object.
class io_thread {
public:
    io_thread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
    ~io_thread() {
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    boost::asio::any_io_executor executor() { return io_.get_executor(); }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

/// Options for the fixture's plain AMQP listener, or nullopt when no broker is configured.
inline std::optional<amqp::connection_options> broker_options() {
    const auto url = broker_url();
    if (url.empty()) return std::nullopt;
    amqp::connection_options o;
    std::string why;
    if (amqp::parse_uri(url, o, &why)) {
        ADD_FAILURE() << "broker URL does not parse: " << why;
        return std::nullopt;
    }
    o.connection_timeout = std::chrono::seconds(20);
    return o;
}

/// The directory the fixture writes its files to (amqp_url, amqps_url, tls/).
inline std::filesystem::path fixture_dir() {
    const char* file = std::getenv("AMQP_URL_FILE");
    if (!file || !*file) return {};
    return std::filesystem::path(file).parent_path();
}

/// Options for the fixture's TLS listener (CA and client certificate from its tls/ folder).
inline std::optional<amqp::connection_options> tls_broker_options() {
    std::string url;
    if (const char* u = std::getenv("AMQPS_URL"); u && *u) {
        url = u;
    } else if (auto dir = fixture_dir(); !dir.empty()) {
        std::ifstream in(dir / "amqps_url");
        in >> url;
    }
    if (url.empty()) return std::nullopt;
    amqp::connection_options o;
    if (amqp::parse_uri(url, o)) return std::nullopt;
    std::filesystem::path tls;
    if (const char* d = std::getenv("AMQP_TLS_DIR"); d && *d) {
        tls = d;
    } else {
        tls = fixture_dir() / "tls";
    }
    o.tls.ca_file = (tls / "ca.pem").string();
    o.tls.cert_file = (tls / "client.pem").string();
    o.tls.key_file = (tls / "client.key").string();
    o.connection_timeout = std::chrono::seconds(20);
    return o;
}

/// Wait for a future for at most `limit`; true when it became ready.
template <class T>
bool ready_within(std::future<T>& f, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return f.wait_for(limit) == std::future_status::ready;
}

/// `base` made this process's own, so that parallel runs against one broker do not meet.
inline std::string unique_name(std::string_view base) { return std::string(base) + "-" + std::to_string(::getpid()); }

}  // namespace amqp_test

/// Declares `opts`, the fixture broker's options; skips the test when no broker is configured.
#define REQUIRE_BROKER(opts)                                                   \
    auto opts##_maybe = ::amqp_test::broker_options();                         \
    if (!opts##_maybe) GTEST_SKIP() << "no broker (AMQP_URL / AMQP_URL_FILE)"; \
    amqp::connection_options opts = *opts##_maybe
