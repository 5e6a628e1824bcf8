// The server's replies: published to the request's reply_to, and what settles the request after
// (server_options::confirm_replies: the broker's confirm of the reply, not its hand-over).
#include "server_impl.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/printable.hpp>

#include <algorithm>

#include <boost/asio/bind_executor.hpp>

namespace rpc::detail {

/// A reply awaiting the broker's confirm, and the request it settles.
struct server_impl::confirmed_reply {
    std::shared_ptr<session> s;
    service_channel* sc = nullptr;
    std::uint64_t tag = 0;
    std::string reply_to;
    std::optional<std::string> correlation_id;
    std::size_t body_size = 0;
    bool error_reply = false;  // the replacement of a reply too large: not replaced again
};

namespace {

std::optional<std::string_view> view(const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

// The reply's properties, pointing into `r` and `headers` (which holds the encoded table). An
// error: the headers cannot be encoded (the reply goes without them).
amqp::error_code reply_properties(const reply& r, const std::optional<std::string_view>& correlation_id,
                                  amqp::basic_properties& props, amqp::byte_buffer& headers) {
    props.correlation_id = correlation_id;
    if (!r.content_type.empty()) props.content_type = r.content_type;
    if (r.headers.empty()) return {};
    if (amqp::error_code ec = amqp::encode_table(r.headers, headers)) {
        headers.clear();
        return ec;
    }
    props.headers = amqp::table_view{amqp::bytes_view(headers.data(), headers.size())};
    return {};
}

// What the caller gets instead of a reply above the connection's size limit.
reply too_large_reply(std::size_t size, std::uint64_t max_request_size) {
    return make_error_reply("the reply of " + std::to_string(size) +
                            " bytes is too large: the server's max_request_size, which caps replies too, is " +
                            std::to_string(max_request_size));
}

}  // namespace

void server_impl::respond(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                          const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r) {
    if (s->probe_count.load(std::memory_order_acquire) != 0 && take_probe(*s, sc, tag))
        return send_probe(s, sc, reply_to, cid, tag, r);
    send_reply(s, sc, reply_to, cid, tag, r);
}

void server_impl::send_reply(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                             const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r) {
    if (!opts_.confirm_replies) {
        publish_checked(sc.ch, reply_to, cid, r);
        return finished(s, sc, tag);
    }
    auto c = std::make_shared<confirmed_reply>();
    c->s = s;
    c->sc = &sc;
    c->tag = tag;
    c->reply_to.assign(reply_to);
    if (cid) c->correlation_id.emplace(*cid);
    publish_confirmed(std::move(c), r);
}

void server_impl::publish_checked(amqp::channel& ch, std::string_view reply_to,
                                  const std::optional<std::string_view>& cid, const reply& r) {
    amqp::error_code ec = publish_reply(ch, reply_to, cid, r);
    if (ec == amqp::client_error::message_too_large) {
        // The connection's one size limit caps replies too: the caller still gets an answer.
        ec = publish_reply(ch, reply_to, cid, too_large_reply(r.body.size(), opts_.max_request_size));
    }
    if (ec) log("could not publish the reply: " + ec.message());
}

// The reply goes to the default exchange, whose routing key names the queue. Counted.
amqp::error_code server_impl::publish_reply(amqp::channel& ch, std::string_view reply_to,
                                            const std::optional<std::string_view>& correlation_id, const reply& r) {
    amqp::basic_properties props;
    amqp::byte_buffer headers;
    if (amqp::error_code ec = reply_properties(r, correlation_id, props, headers)) {
        ++stats_.publish_failures;
        log("the reply's headers cannot be encoded: " + ec.message() + "; sent without them");
    }
    amqp::publish_options where;
    where.routing_key = reply_to;
    // Counted before the hand-over: the caller may hold the reply before publish() returns here.
    ++stats_.replies;
    const amqp::error_code ec = ch.publish(where, props, amqp::as_bytes(r.body));
    if (ec) {
        --stats_.replies;
        ++stats_.publish_failures;
    }
    return ec;
}

// Mandatory: a reply_to queue that no longer exists comes back as basic.return before the
// confirm, so that the request is settled (the caller is gone) rather than answered forever.
void server_impl::publish_confirmed(std::shared_ptr<confirmed_reply> c, const reply& r) {
    amqp::basic_properties props;
    amqp::byte_buffer headers;
    if (amqp::error_code ec = reply_properties(r, view(c->correlation_id), props, headers)) {
        ++stats_.publish_failures;
        log("the reply's headers cannot be encoded: " + ec.message() + "; sent without them");
    }
    amqp::publish_options where;
    where.routing_key = c->reply_to;
    where.mandatory = true;
    c->body_size = r.body.size();
    amqp::channel& ch = c->sc->ch;
    // The message is copied before async_publish returns: props, headers and r may go.
    ch.async_publish(where, props, amqp::as_bytes(r.body),
                     boost::asio::bind_executor(executor_, [self = shared_from_this(), c](amqp::error_code ec) {
                         self->reply_settled(c, ec);
                     }));
}

void server_impl::reply_settled(const std::shared_ptr<confirmed_reply>& c, amqp::error_code ec) {
    if (!ec) {
        ++stats_.replies;
        return finished(c->s, *c->sc, c->tag);
    }
    if (ec == amqp::client_error::publish_returned) {
        ++stats_.replies_returned;
        log("reply returned: no queue " + amqp::printable(c->reply_to) + " (correlation_id " +
            amqp::printable(c->correlation_id.value_or("")) + "): the caller is gone; request acked");
        return finished(c->s, *c->sc, c->tag);
    }
    if (ec == amqp::client_error::message_too_large && !c->error_reply) {
        // The connection's one size limit caps replies too: the caller still gets an answer.
        c->error_reply = true;
        return publish_confirmed(c, too_large_reply(c->body_size, opts_.max_request_size));
    }
    // Nacked, or the channel went first: the reply may not exist. The request stays the broker's.
    ++stats_.replies_unconfirmed;
    ++stats_.publish_failures;
    log("reply not confirmed (" + ec.message() + ", correlation_id " + amqp::printable(c->correlation_id.value_or("")) +
        "): the request is not acked, the broker redelivers it");
    release(*c->sc, c->tag);
}

bool server_impl::take_probe(session& s, const service_channel& sc, std::uint64_t tag) {
    std::lock_guard lock(s.probe_mutex);
    const auto it = std::find(s.probe_tags.begin(), s.probe_tags.end(), std::pair{&sc, tag});
    if (it == s.probe_tags.end()) return false;
    s.probe_tags.erase(it);
    s.probe_count.store(s.probe_tags.size(), std::memory_order_release);
    return true;
}

// A probe (rpc/reply_strikes.hpp): the reply goes out when no other probe is out on this
// connection, followed by a basic.qos round trip (the prefetch it already has). The broker
// handles a channel's frames in order, so qos-ok means the reply did not crash the channel; a
// 541 close before it is a strike against this address alone (lost()).
void server_impl::send_probe(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                             const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r) {
    {
        std::lock_guard lock(s->probe_mutex);
        if (s->probing) {
            waiting_probe& w = s->probes_waiting.emplace_back();
            w.sc = &sc;
            w.reply_to.assign(reply_to);
            if (cid) w.correlation_id.emplace(*cid);
            w.tag = tag;
            w.r = r;
            return;
        }
        s->probing.emplace(reply_to);
    }
    probe_out(s, sc, reply_to, cid, tag, r);
}

void server_impl::probe_out(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                            const std::optional<std::string_view>& cid, std::uint64_t tag, const reply& r) {
    send_reply(s, sc, reply_to, cid, tag, r);
    sc.ch.async_qos(sc.svc->opts.prefetch,
                    boost::asio::bind_executor(executor_, [self = shared_from_this(), s, to = std::string(reply_to)](
                                                              amqp::error_code ec) { self->probe_back(s, to, ec); }));
}

// The probe's round trip is back: its address is reachable; the next probe goes out. An error:
// the connection is gone (lost() struck the address if the broker closed it with 541), and the
// waiting probes' requests are the broker's again, to be redelivered.
void server_impl::probe_back(const std::shared_ptr<session>& s, const std::string& reply_to, amqp::error_code ec) {
    if (ec) {
        // Never to be sent on this connection: settled here, so that a stop's drain does not
        // wait for them.
        std::deque<waiting_probe> dropped;
        {
            std::lock_guard lock(s->probe_mutex);
            dropped.swap(s->probes_waiting);
        }
        for (waiting_probe& w : dropped) release(*w.sc, w.tag);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        strikes_.clear(reply_to);
        any_condemned_ = strikes_.any_condemned();
    }
    waiting_probe next;
    {
        std::lock_guard lock(s->probe_mutex);
        s->probing.reset();
        if (s->probes_waiting.empty()) return;
        next = std::move(s->probes_waiting.front());
        s->probes_waiting.pop_front();
        s->probing.emplace(next.reply_to);
    }
    probe_out(s, *next.sc, next.reply_to, view(next.correlation_id), next.tag, next.r);
}

// A request whose reply was not confirmed: nacked with requeue while the channel is open (on a
// closed one the broker requeues it by itself), out of the ack window, no longer in flight.
void server_impl::release(service_channel& sc, std::uint64_t tag) {
    amqp::error_code ec;
    {
        // Under the ack lock: the nack goes out before any later multiple=true ack could cover it.
        std::lock_guard lock(sc.ack_mutex);
        if (opts_.batch_acks) sc.acks.released(tag);
        if (sc.ch.is_open()) ec = sc.ch.nack(tag, false, true);
    }
    if (ec) log("could not nack the request: " + ec.message());
    settled(1);
}

}  // namespace rpc::detail
