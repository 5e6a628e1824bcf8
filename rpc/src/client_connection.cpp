// The client's connections: set-up (start and each reconnection) and their events (close,
// blocked, returns, the reply consumer) fed to the core (see client_impl.hpp).

#include "client_impl.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/printable.hpp>

namespace rpc::detail {

namespace {
// A channel is also closed when its connection ends; only a channel-level reply code (a broker's
// channel.close, or a channel fault we found) ends the channel alone.
bool closes_only_the_channel(const amqp::close_reason& r) {
    if (r.code == amqp::client_error::channel_closed) return true;
    return !r.from_broker && r.reply_code != 0 && !amqp::is_connection_error(r.reply_code);
}
}  // namespace

void client_impl::set_up(std::shared_ptr<amqp::connection> conn, link l, setup_handler done) {
    install_connection_handlers(*conn, l);
    std::weak_ptr<client_impl> weak = shared_from_this();
    setup_hooks hooks;
    hooks.direct_reply_to = opts_.direct_reply_to;
    hooks.prepare_channel = [weak, l](amqp::channel& ch) {
        if (auto self = weak.lock()) self->install_channel_handlers(ch, l);
    };
    hooks.on_reply = [weak](const amqp::delivered_message& m) {
        if (auto self = weak.lock()) self->on_reply(m);
    };
    detail::set_up(std::move(conn), std::move(hooks), std::move(done));
}

std::string client_impl::node_name(std::size_t node) const { return rpc::node_name(nodes_[node]); }

// The set-up's reason, naming the node unless it does already ("cannot connect to h:p (...)").
std::string client_impl::attempt_failure(std::size_t node, const std::string& why) const {
    const std::string name = node_name(node);
    if (why.find(name) != std::string::npos) return why;
    return "node " + name + ": " + why;
}

// One attempt, in the background, to the node the core chose; held requests wait for it.
void client_impl::reconnect(std::uint64_t generation, std::size_t node) {
    auto conn = std::make_shared<amqp::connection>(strand_, nodes_[node]);
    attempt_ = conn;
    set_up(conn, link{conn.get(), generation, node},
           [self = shared_from_this(), conn, generation, node](setup_result r) mutable {
               if (self->attempt_ == conn) self->attempt_.reset();
               if (!r.ec && !(conn->is_open() && r.channel.is_open())) {
                   r.ec = errc::connection_lost;
                   r.why = "connection lost again while reconnecting";
               }
               if (r.ec || !self->core_.connection_up(generation, clock::now(), node)) {
                   if (r.ec) self->core_.reconnect_failed(generation, self->attempt_failure(node, r.why), clock::now());
                   if (conn->is_open()) conn->async_close([conn](error_code) {});
                   return self->run_actions();
               }
               // A replaced connection may still be open (only its channel or consumer went): close
               // it with the handshake, kept alive until that is done.
               auto old = std::exchange(self->conn_, std::move(conn));
               self->node_ = node;
               self->adopt(std::move(r.channel), std::move(r.reply_queue));
               if (old->is_open()) old->async_close([old](error_code) {});
               self->run_actions();
           });
}

void client_impl::install_connection_handlers(amqp::connection& conn, link l) {
    std::weak_ptr<client_impl> weak = shared_from_this();
    conn.on_close([weak, l](const amqp::close_reason& r) {
        if (auto self = weak.lock()) self->lost(l, errc::connection_lost, "connection lost: " + r.to_string());
    });
    conn.on_blocked([weak, generation = l.generation](bool blocked, std::string_view reason) {
        if (auto self = weak.lock()) {
            self->core_.blocked(generation, blocked, reason, clock::now());
            self->run_actions();
        }
    });
}

void client_impl::install_channel_handlers(amqp::channel& ch, link l) {
    std::weak_ptr<client_impl> weak = shared_from_this();
    ch.on_close([weak, l](const amqp::close_reason& r) {
        auto self = weak.lock();
        if (!self) return;
        if (r.code == amqp::client_error::message_too_large) {
            // Our connection layer refused a reply by its declared size; which call it
            // answered is unknown, and the consumer is gone with the channel.
            self->lost(l, errc::message_too_large,
                       "a reply was refused: " + r.reply_text + " (the client's limit); the reply channel was closed");
        } else if (closes_only_the_channel(r)) {
            std::string why = r.to_string();
            if (why.rfind("channel closed", 0) != 0) why = "channel closed: " + why;
            self->lost(l, errc::connection_lost, why);
        } else {
            // The channel went with its connection (missed heartbeats, lost socket, the
            // broker's connection.close): say it as the connection's end, as on_close does.
            self->lost(l, errc::connection_lost, "connection lost: " + r.to_string());
        }
    });
    ch.on_return([weak](const amqp::returned_message& m) {
        if (auto self = weak.lock()) {
            self->core_.returned(m.properties.correlation_id, m.method.reply_code, m.method.reply_text,
                                 m.method.routing_key);
            self->run_actions();
        }
    });
    ch.on_consumer_cancelled([weak, l](std::string_view tag) {
        auto self = weak.lock();
        if (!self) return;
        self->lost(l, errc::connection_lost,
                   "the broker cancelled the reply consumer " + amqp::printable(tag) + " (reply queue " +
                       amqp::printable(self->reply_queue_name_) + " deleted?): no reply can arrive");
    });
}

void client_impl::lost(const link& l, errc code, const std::string& why) {
    // A start attempt on a node that failed: the start goes on with the next node.
    if (l.generation == 0 && l.conn != conn_.get()) return;
    core_.connection_lost(l.generation, code, why + " (node " + node_name(l.node) + ")");
    run_actions();
}

// On the connection's strand, inside ours; the message's views die with this call.
void client_impl::on_reply(const amqp::delivered_message& m) {
    incoming_reply r;
    r.correlation_id = m.properties.correlation_id;
    r.body = amqp::as_string_view(m.body);
    r.content_type = m.properties.content_type;
    r.body_refused = m.body_refused;
    r.body_size = m.body_size;
    r.fault = m.fault;
    amqp::field_table headers;
    if (m.properties.headers && !m.properties.headers->empty()) {
        amqp::diagnostics diag;
        if (!amqp::decode_table(*m.properties.headers, headers, diag)) r.headers = &headers;
    }
    core_.reply_received(r);
    run_actions();
}

}  // namespace rpc::detail
