// Exchanges and bindings against the fixture's RabbitMQ: a topic exchange routes by its bindings,
// an unbound key comes back as basic.return 312, and a missing exchange is the broker's 404.
#include "test_broker.hpp"

#include <amqp/connection.hpp>

#include <future>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

using amqp_test::broker_options;
using amqp_test::io_thread;
using amqp_test::ready_within;


amqp::binding_options binding(std::string queue, std::string exchange, std::string key) {
    amqp::binding_options b;
    b.queue = std::move(queue);
    b.exchange = std::move(exchange);
    b.routing_key = std::move(key);
    return b;
}

amqp::publish_options to(std::string_view exchange, std::string_view key) {
    amqp::publish_options o;
    o.exchange = exchange;
    o.routing_key = key;
    o.mandatory = true;
    return o;
}

TEST(Topology, TopicExchangeRoutesByItsBindingsUntilUnbound) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    const std::string exchange = amqp_test::unique_name("topology-test-topic");

    amqp::exchange_options xo;
    xo.name = exchange;
    xo.type = "topic";
    ch.declare_exchange(xo);
    xo.passive = true;  // it exists now: a passive declare only checks
    ch.declare_exchange(xo);

    amqp::queue_options qo;
    qo.exclusive = true;
    const auto q = ch.declare_queue(qo);
    ch.bind_queue(binding(q.name, exchange, "fib.*"));

    std::promise<std::string> delivered;
    amqp::consume_options co;
    co.queue = q.name;
    co.no_ack = true;
    ch.consume(co, [&](const amqp::delivered_message& m) {
        delivered.set_value(std::string(m.method.exchange) + " " + std::string(m.method.routing_key) + " " +
                            std::string(amqp::as_string_view(m.body)));
    });
    std::promise<std::string> returned;
    ch.on_return([&](const amqp::returned_message& m) {
        returned.set_value(std::to_string(m.method.reply_code) + " " + std::string(m.method.routing_key));
    });

    ASSERT_FALSE(ch.publish(to(exchange, "fib.request"), {}, amqp::as_bytes("routed")));
    auto d = delivered.get_future();
    ASSERT_TRUE(ready_within(d));
    EXPECT_EQ(d.get(), exchange + " fib.request routed");

    ch.unbind_queue(binding(q.name, exchange, "fib.*"));
    ASSERT_FALSE(ch.publish(to(exchange, "fib.request"), {}, amqp::as_bytes("unroutable")));
    auto r = returned.get_future();
    ASSERT_TRUE(ready_within(r));
    EXPECT_EQ(r.get(), "312 fib.request");

    ch.delete_exchange(exchange);
    EXPECT_EQ(ch.delete_queue(q.name), 0u);
    EXPECT_TRUE(ch.is_open());
    c.close();
}

TEST(Topology, AsyncFormsCompleteWithTheirOutcome) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    amqp::exchange_options xo;
    xo.name = amqp_test::unique_name("topology-test-async");
    xo.type = "fanout";
    auto step = [](auto start) {
        auto p = std::make_shared<std::promise<amqp::error_code>>();
        auto f = p->get_future();
        start([p](amqp::error_code ec, auto...) { p->set_value(ec); });
        EXPECT_TRUE(ready_within(f));
        return f.get();
    };
    EXPECT_FALSE(step([&](auto h) { ch.async_declare_exchange(xo, h); }));
    const auto q = ch.declare_queue({});
    EXPECT_FALSE(step([&](auto h) { ch.async_bind_queue(binding(q.name, xo.name, ""), h); }));
    EXPECT_FALSE(step([&](auto h) { ch.async_unbind_queue(binding(q.name, xo.name, ""), h); }));
    // The binding is gone; removing it again still succeeds (the header's promise).
    EXPECT_FALSE(step([&](auto h) { ch.async_unbind_queue(binding(q.name, xo.name, ""), h); }));
    EXPECT_FALSE(step([&](auto h) { ch.async_delete_exchange(xo.name, true, h); }));
    EXPECT_FALSE(step([&](auto h) { ch.async_delete_queue(q.name, h); }));
    c.close();
}

TEST(Topology, BindToAMissingExchangeIsTheBrokers404AndEndsOnlyTheChannel) {
    REQUIRE_BROKER(opts);
    io_thread io;
    amqp::connection c(io.executor(), opts);
    c.open();
    auto ch = c.open_channel();
    amqp::queue_options qo;
    qo.exclusive = true;
    const auto q = ch.declare_queue(qo);
    try {
        ch.bind_queue(binding(q.name, amqp_test::unique_name("topology-test-missing"), "#"));
        FAIL() << "bound to an exchange that does not exist";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::reply_code::not_found) << e.what();
        EXPECT_NE(std::string(e.what()).find("no exchange"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(ch.is_open());
    EXPECT_EQ(ch.last_close_reason().code, amqp::reply_code::not_found);
    EXPECT_TRUE(c.is_open());
    auto again = c.open_channel();
    amqp::exchange_options missing;
    missing.name = amqp_test::unique_name("topology-test-missing");
    missing.passive = true;
    EXPECT_THROW(again.declare_exchange(missing), amqp::error);
    c.close();
}

}  // namespace
