// Helpers shared by the connection's broker tests (tests/connection, and the connection-loss
// tests in tests/faults): option builders, a queue.declare whose outcome is awaited, and a
// fixture whose line to the broker runs through a relay the test can cut or silence.
#pragma once

#include "test_broker.hpp"

#include <test_support/test_relay.hpp>

#include <amqp/connection.hpp>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace amqp_test {

// Designated initializers of partial structs trip -Wmissing-field-initializers; build them here.
inline amqp::queue_options queue(std::string name, bool exclusive = false, bool passive = false) {
    amqp::queue_options o;
    o.name = std::move(name);
    o.exclusive = exclusive;
    o.passive = passive;
    return o;
}
inline amqp::consume_options consumer(std::string q, bool no_ack = false) {
    amqp::consume_options o;
    o.queue = std::move(q);
    o.no_ack = no_ack;
    return o;
}
inline amqp::publish_options to(std::string_view routing_key, bool mandatory = false) {
    amqp::publish_options o;
    o.routing_key = routing_key;
    o.mandatory = mandatory;
    return o;
}

// The same options, pointed at a relay to the broker that the test can cut or silence.
inline amqp::connection_options through(const amqp_test::test_relay& relay, amqp::connection_options opts) {
    opts.host = "127.0.0.1";
    opts.port = relay.port();
    return opts;
}

// Starts a queue.declare (by default a server-named exclusive queue) and returns its outcome to
// come. `wrap` may bind the handler, e.g. to a cancellation slot. A callback, not use_future: an
// exception_ptr crossing threads trips TSan in libstdc++.
template <class Wrap = std::identity>
std::future<amqp::error_code> start_declare(amqp::channel& ch, amqp::queue_options q = queue("", true),
                                            Wrap wrap = {}) {
    auto done = std::make_shared<std::promise<amqp::error_code>>();
    auto f = done->get_future();
    ch.async_declare_queue(std::move(q), wrap([done](amqp::error_code ec, amqp::queue_info) { done->set_value(ec); }));
    return f;
}

// Tests that cut or silence the line: the broker's options pointed at a relay, and an I/O
// thread. Skipped without a broker.
class RelayedBroker : public ::testing::Test {
protected:
    void SetUp() override {
        auto direct = broker_options();
        if (!direct) GTEST_SKIP() << "no broker (AMQP_URL / AMQP_URL_FILE)";
        relay_.emplace(direct->port);
        opts = through(*relay_, *direct);
    }
    amqp_test::test_relay& relay() { return *relay_; }

    amqp::connection_options opts;
    io_thread io;

private:
    std::optional<amqp_test::test_relay> relay_;
};

}  // namespace amqp_test
