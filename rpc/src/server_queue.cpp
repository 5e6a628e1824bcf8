#include <rpc/server_queue.hpp>

#include <amqp/codec/printable.hpp>

namespace rpc {

std::string_view to_string(queue_type t) noexcept {
    switch (t) {
        case queue_type::classic: return "classic";
        case queue_type::quorum: return "quorum";
        case queue_type::transient: break;
    }
    return "transient";
}

std::optional<queue_type> parse_queue_type(std::string_view text) noexcept {
    for (queue_type t : {queue_type::transient, queue_type::classic, queue_type::quorum})
        if (text == to_string(t)) return t;
    return std::nullopt;
}

amqp::queue_options queue_declaration(std::string name, queue_type t) {
    amqp::queue_options q;
    q.name = std::move(name);
    q.durable = t != queue_type::transient;
    // A quorum queue cannot be exclusive or auto-delete: neither is ever set here.
    if (t == queue_type::quorum) q.arguments.emplace_back("x-queue-type", amqp::field_value(std::string("quorum")));
    return q;
}

std::string declare_refusal_hint(std::string_view queue, queue_type t, const amqp::close_reason& r) {
    constexpr std::uint16_t precondition_failed = 406;
    const std::string_view text = r.reply_text;
    const std::string q = amqp::printable(queue);  // quoted
    // RabbitMQ 4.3 closes the whole connection (541 INTERNAL_ERROR) naming the deprecated feature;
    // another broker may refuse with 406: either way the fix is a durable queue.
    if (text.find("transient_nonexcl_queues") != std::string_view::npos ||
        (t == queue_type::transient && r.reply_code == precondition_failed &&
         text.find("inequivalent arg") == std::string_view::npos))
        return "the broker refuses transient (non-durable, non-exclusive) queues such as " + q +
               ": declare it durable with --queue-type classic|quorum (server_options::queue_type)";
    if (r.reply_code == precondition_failed &&
        (text.find("inequivalent arg 'x-queue-type'") != std::string_view::npos ||
         text.find("inequivalent arg 'durable'") != std::string_view::npos))
        return "queue " + q + " exists already with another durability or type than --queue-type " +
               std::string(to_string(t)) +
               " declares: use the existing queue's type (--queue-type transient|classic|quorum), or delete the "
               "queue (rabbitmqctl delete_queue " +
               amqp::printable(queue) + ") so that it is declared anew";
    return {};
}

}  // namespace rpc
