#include "session.hpp"

#include <chrono>

namespace amqp_test {

namespace asio = boost::asio;
using amqp::error_code;

session::session(asio::io_context& ioc, std::shared_ptr<test_peer> peer)
    : conn_(std::make_unique<amqp::connection>(ioc.get_executor(), amqp::connection_options{}, peer->make_stream())),
      delivery_wait_(ioc) {
    conn_->on_close([this](const amqp::close_reason&) {
        ++on_close_calls;
        delivery_wait_.cancel();
    });
}

bool session::step_done(const std::string& step, error_code ec) {
    ++completions[step];
    if (!ec) return true;
    failed_step = step;
    failure = ec;
    return false;
}

void session::start() {
    begin("open");
    conn_->async_open([this](error_code ec) {
        if (step_done("open", ec)) open_channel();
    });
}

void session::open_channel() {
    begin("channel");
    conn_->async_open_channel([this](error_code ec, amqp::channel c) {
        ch_ = std::move(c);
        if (step_done("channel", ec)) declare();
    });
}

void session::declare() {
    begin("declare");
    ch_.async_declare_queue(queue("q"), [this](error_code ec, amqp::queue_info) {
        if (step_done("declare", ec)) consume();
    });
}

void session::consume() {
    begin("consume");
    auto on_message = [this](const amqp::delivered_message& m) {
        tag_ = m.method.delivery_tag;
        delivered = true;
        delivery_wait_.cancel();
    };
    ch_.async_consume(consumer("q"), on_message, [this](error_code ec, std::string) {
        if (step_done("consume", ec)) publish_and_wait();
    });
}

void session::publish_and_wait() {
    begin("publish");
    const std::string body = "hello";
    if (!step_done("publish", ch_.publish(to_queue("q"), {}, amqp::as_bytes(body)))) return;
    begin("deliver");
    // Woken by the delivery or by the connection's end (on_close); the expiry only bounds a
    // broken run, it is not a timing assertion.
    delivery_wait_.expires_after(std::chrono::seconds(30));
    delivery_wait_.async_wait([this](error_code) {
        const error_code ec = delivered ? error_code{}
                              : conn_ && conn_->last_close_reason().code
                                  ? conn_->last_close_reason().code
                                  : make_error_code(amqp::client_error::operation_aborted);
        if (step_done("deliver", ec)) ack();
    });
}

void session::ack() {
    begin("ack");
    if (step_done("ack", ch_.ack(tag_))) close();
}

void session::close() {
    begin("close");
    conn_->async_close([this](error_code ec) {
        step_done("close", ec);
        finished = true;
    });
}

}  // namespace amqp_test
