// A broker in a few rules, for the transport's unit tests: it answers what the client writes
// with the bytes RabbitMQ would send (built with tests/support/broker_script.hpp), enough for
// open → channel → declare → consume → publish → deliver → ack → close.
#pragma once

#include "test_stream.hpp"

#include <test_support/broker_script.hpp>

#include <amqp/connection.hpp>

#include <functional>
#include <string>

namespace amqp_test {

struct scripted_broker_options {
    std::uint16_t heartbeat = 60;
    bool answer_connection_close = true;       ///< false: a peer that never says close-ok
    bool hang_up_on_connection_close = false;  ///< EOF instead of close-ok
    /// Set: each published message (its channel, routing key, body) goes here instead of being
    /// delivered back; the test answers it (basic.ack, basic.nack, basic.return) itself.
    std::function<void(std::uint16_t channel, const std::string& routing_key, const amqp::byte_buffer& body)>
        on_publish;
};

inline amqp::queue_options queue(std::string name) {
    amqp::queue_options o;
    o.name = std::move(name);
    return o;
}
inline amqp::consume_options consumer(std::string queue) {
    amqp::consume_options o;
    o.queue = std::move(queue);
    return o;
}
inline amqp::publish_options to_queue(std::string_view queue) {
    amqp::publish_options o;
    o.routing_key = queue;
    return o;
}

/// Make `peer` behave as a broker. Frames split across writes are reassembled.
void act_as_broker(test_peer& peer, scripted_broker_options o = {});

}  // namespace amqp_test
