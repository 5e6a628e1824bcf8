// How a server declares its request queue: transient (the tutorial's), durable classic, or
// quorum (replicated over a cluster's nodes), and what to tell the user when the broker refuses
// the declaration.
#pragma once

#include <amqp/connection.hpp>
#include <amqp/protocol/client_error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rpc {

/// The kind of request queue a service declares (and a client's requests are made for).
enum class queue_type {
    /// The tutorial's queue_declare(queue=...): not durable, not exclusive. Lost with its node or
    /// a broker restart, requests included. The seed's pika programs declare it so: a server
    /// declaring the queue otherwise makes their declaration fail (406 PRECONDITION_FAILED).
    /// RabbitMQ 4.3 and later refuse it by default (deprecated feature transient_nonexcl_queues).
    transient,
    /// Durable classic queue: survives a broker restart (its persistent messages too), lives on
    /// one node.
    classic,
    /// Durable quorum queue (x-queue-type: quorum): replicated, survives the loss of a minority of
    /// a cluster's nodes. Never exclusive or auto-delete.
    quorum,
};

/// "transient", "classic", "quorum".
std::string_view to_string(queue_type t) noexcept;
/// The inverse of to_string; nullopt for any other text.
std::optional<queue_type> parse_queue_type(std::string_view text) noexcept;

/// The queue.declare a service sends for `name` of type `t`.
amqp::queue_options queue_declaration(std::string name, queue_type t);

/// What to do about a broker's refusal `r` of the declaration of `queue` as `t`, in one sentence
/// naming the fix (the --queue-type option / server_options::queue_type, or deleting the existing
/// queue); empty when the refusal is not one of these: a broker that refuses transient
/// non-exclusive queues (RabbitMQ 4.3: connection.close 541 naming transient_nonexcl_queues), a
/// transient declaration refused with 406 PRECONDITION_FAILED, a queue that exists with another
/// durability or type (406 "inequivalent arg 'durable'" / "'x-queue-type'").
std::string declare_refusal_hint(std::string_view queue, queue_type t, const amqp::close_reason& r);

}  // namespace rpc
