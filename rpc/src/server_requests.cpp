// The server's request path: take a delivery, run the service's handler (inline, on a worker, or
// asynchronously), publish the reply, ack.
#include "server_impl.hpp"

#include <rpc/request_deadline.hpp>

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/printable.hpp>

#include <exception>

#include <boost/asio/post.hpp>

namespace rpc {
namespace detail {

namespace {

// The inline request's buffers are reused up to this capacity, released above it.
constexpr std::size_t reused_body_max = 64 * 1024;

void assign(std::string& to, const std::optional<std::string_view>& from) {
    if (from) to.assign(*from);
    else to.clear();
}

// service_options::body_only: the body and what names the request; the rest cleared (`req` may
// be reused from another service's request).
void fill_body_only(request& req, const amqp::delivered_message& m) {
    const amqp::basic_properties& p = m.properties;
    req.body.assign(amqp::as_string_view(m.body));
    assign(req.correlation_id, p.correlation_id);
    assign(req.reply_to, p.reply_to);
    req.redelivered = m.method.redelivered;
    for (std::string* s : {&req.content_type, &req.content_encoding, &req.message_id, &req.type, &req.app_id,
                           &req.user_id, &req.expiration, &req.exchange, &req.routing_key})
        s->clear();
    req.headers.clear();
    req.timestamp.reset();
    req.priority.reset();
    req.delivery_mode.reset();
}

// Copy what the delivery's views show into `req` (reusing its buffers).
void fill(request& req, const amqp::delivered_message& m, bool body_only = false) {
    if (body_only) return fill_body_only(req, m);
    const amqp::basic_properties& p = m.properties;
    req.body.assign(amqp::as_string_view(m.body));
    assign(req.content_type, p.content_type);
    assign(req.content_encoding, p.content_encoding);
    req.headers.clear();
    if (p.headers && !p.headers->empty()) {
        amqp::diagnostics diag;
        // Validated when the content header was decoded (a table that is not is a fault, rejected
        // before here): decoding cannot fail.
        (void)amqp::decode_table(*p.headers, req.headers, diag);
    }
    assign(req.correlation_id, p.correlation_id);
    assign(req.reply_to, p.reply_to);
    assign(req.message_id, p.message_id);
    assign(req.type, p.type);
    assign(req.app_id, p.app_id);
    assign(req.user_id, p.user_id);
    assign(req.expiration, p.expiration);
    req.timestamp = p.timestamp;
    req.priority = p.priority;
    req.delivery_mode = p.delivery_mode;
    req.redelivered = m.method.redelivered;
    req.exchange.assign(m.method.exchange);
    req.routing_key.assign(m.method.routing_key);
}

bool has_reply_to(const amqp::delivered_message& m) { return m.properties.reply_to && !m.properties.reply_to->empty(); }

std::optional<std::string_view> view(const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

}  // namespace

bool reply_state::answer(reply r) {
    if (answered.exchange(true)) return false;
    server->complete(s, *sc, reply_to, correlation_id, delivery_tag, r);
    return true;
}

reply_state::~reply_state() {
    if (answered || !server) return;
    ++server->stats_.handler_failures;
    answered = true;
    server->complete(s, *sc, reply_to, correlation_id, delivery_tag,
                     make_error_reply("internal error: the service ended without replying"));
}

// On the connection's strand.
void server_impl::on_request(const std::shared_ptr<session>& s, service_channel& sc, const amqp::delivered_message& m) {
    ++stats_.requests;
    // Settled here and now, before any later delivery arrives: so it never enters the ack
    // window, and no multiple=true ack (always for a later tag) can name it.
    if (m.body_refused || !m.fault.empty()) return reject(sc, m);
    if (any_condemned_.load(std::memory_order_relaxed) && has_reply_to(m) && condemned(*m.properties.reply_to))
        return drop_unreachable(sc, m);
    {
        std::lock_guard lock(mutex_);
        drain_.taken();
    }
    if (opts_.batch_acks) {
        bool in_order = false;
        {
            std::lock_guard lock(sc.ack_mutex);
            in_order = sc.acks.taken(m.method.delivery_tag);
        }
        if (!in_order) log("delivery tag " + std::to_string(m.method.delivery_tag) + " out of order; acks may fail");
    }
    const service& svc = *sc.svc;
    if (m.properties.headers && deadline_passed(*m.properties.headers, std::chrono::system_clock::now())) {
        ++stats_.expired_dropped;
        log("request past its deadline acked and dropped, not handled (correlation_id " +
            amqp::printable(m.properties.correlation_id.value_or("")) + ")");
        return finished(s, sc, m.method.delivery_tag);
    }
    if (!has_reply_to(m)) {
        ++stats_.no_reply_to;
        log("request without reply_to acked and dropped (correlation_id " +
            amqp::printable(m.properties.correlation_id.value_or("")) + ")");
        return finished(s, sc, m.method.delivery_tag);
    }
    if (m.method.redelivered && reply_strikes::is_direct(*m.properties.reply_to)) {
        // Answered as a probe (server_replies.cpp), in case its reply is what closed the connection.
        std::lock_guard lock(s->probe_mutex);
        s->probe_tags.emplace_back(&sc, m.method.delivery_tag);
        s->probe_count.store(s->probe_tags.size(), std::memory_order_release);
    }
    if (svc.async) return run_async(s, sc, m);
    const std::optional<std::string_view> cid = m.properties.correlation_id;
    if (!pool_ || cheap(svc, m)) {
        // The views stay valid for the whole handler: copy only what the handler's request
        // owns, into buffers reused from one request to the next.
        request& req = inline_request_;
        fill(req, m, svc.opts.body_only);
        reply r = run_handler(svc, req);
        respond(s, sc, *m.properties.reply_to, cid, m.method.delivery_tag, r);
        // An owning handler that moved the body into its reply: its buffer serves the next request.
        if (svc.owning && r.body.capacity() > req.body.capacity()) req.body.swap(r.body);
        // Reused, the copy would keep the largest request's size for good.
        if (req.body.capacity() > reused_body_max) std::string().swap(req.body);
        return;
    }
    // Leave the strand at once: copy what the views show.
    request req;
    fill(req, m, svc.opts.body_only);
    boost::asio::post(*pool_, [self = shared_from_this(), s, &sc, req = std::move(req), tag = m.method.delivery_tag,
                               has_cid = cid.has_value()]() mutable {
        // An owning handler may move the request's fields out: keep where the reply goes.
        std::string reply_to, correlation_id;
        if (sc.svc->owning) {
            reply_to = req.reply_to;
            correlation_id = req.correlation_id;
        }
        reply r = self->run_handler(*sc.svc, req);
        const bool own = static_cast<bool>(sc.svc->owning);
        const std::optional<std::string_view> id = has_cid ? std::optional<std::string_view>(own ? correlation_id
                                                                                                 : req.correlation_id)
                                                           : std::nullopt;
        self->respond(s, sc, own ? reply_to : req.reply_to, id, tag, r);
    });
}

// An asynchronous handler gets its own copy of the request and a reply_sender that completes it.
void server_impl::run_async(const std::shared_ptr<session>& s, service_channel& sc, const amqp::delivered_message& m) {
    auto state = std::make_shared<reply_state>();
    state->server = shared_from_this();
    state->s = s;
    state->sc = &sc;
    state->reply_to.assign(*m.properties.reply_to);
    if (m.properties.correlation_id) state->correlation_id.emplace(*m.properties.correlation_id);
    state->delivery_tag = m.method.delivery_tag;
    request req;
    fill(req, m);
    const service& svc = *sc.svc;
    const boost::asio::any_io_executor ex = svc.opts.executor ? svc.opts.executor : executor_;
    boost::asio::post(ex, [&svc, req = std::move(req), sender = reply_sender(std::move(state))]() mutable {
        try {
            svc.async(std::move(req), sender);
        } catch (...) {
            sender.fail(std::current_exception());
        }
    });
}

// server_options::runs_inline: a request the owner says is cheap skips the pool.
bool server_impl::cheap(const service& svc, const amqp::delivered_message& m) const noexcept {
    if (!svc.opts.runs_inline) return false;
    try {
        return svc.opts.runs_inline(amqp::as_string_view(m.body));
    } catch (...) {
        return false;
    }
}

reply server_impl::run_handler(const service& svc, request& req) {
    try {
        if (svc.owning) return svc.owning(std::move(req));
        return svc.sync(req);
    } catch (...) {
        ++stats_.handler_failures;
        return error_reply(std::current_exception());
    }
}

// A delivery the handler cannot be given (a body above max_request_size, never read; a content
// header our limits refuse): requeued, it would come back to this server or another forever.
// Rejected without requeue instead (a dead-letter exchange, if the queue has one, keeps it),
// and the caller told why.
void server_impl::reject(service_channel& sc, const amqp::delivered_message& m) {
    ++stats_.rejected;
    const std::string why = m.body_refused ? "request body of " + std::to_string(m.body_size) +
                                                 " bytes is too large: the server's max_request_size is " +
                                                 std::to_string(opts_.max_request_size)
                                           : "request refused: " + std::string(m.fault);
    std::string line = amqp::printable(why) + " rejected (correlation_id " +
                       amqp::printable(m.properties.correlation_id.value_or("")) + ")";
    // The error reply is queued before the reject, as a reply before its ack: a connection lost
    // between the two leaves the request to be redelivered and answered again, never settled
    // with its answer lost.
    if (!has_reply_to(m)) {
        line += "; no reply_to, not answered";
    } else if (!m.properties.correlation_id) {
        line += "; no correlation_id, not answered";
    } else if (amqp::error_code ec = publish_reply(sc.ch, *m.properties.reply_to, m.properties.correlation_id,
                                                   make_error_reply(why))) {
        line += "; could not publish the error reply: " + ec.message();
    }
    if (amqp::error_code ec = sc.ch.reject(m.method.delivery_tag, false); ec)
        line += "; could not reject it: " + ec.message();
    log(line);
}

bool server_impl::condemned(std::string_view reply_to) {
    std::lock_guard lock(mutex_);
    return strikes_.condemned(reply_to);
}

// Its reply twice closed the connection (541): requeued, it would come back for ever. Rejected
// without requeue (a dead-letter exchange, if the queue has one, keeps it), before it enters
// the ack window, as reject() does.
void server_impl::drop_unreachable(service_channel& sc, const amqp::delivered_message& m) {
    ++stats_.unreachable_dropped;
    std::string line = "request to " + amqp::printable(*m.properties.reply_to) + " (correlation_id " +
                       amqp::printable(m.properties.correlation_id.value_or("")) +
                       ") rejected unanswered: replies to that address closed the connection";
    if (amqp::error_code ec = sc.ch.reject(m.method.delivery_tag, false); ec)
        line += "; could not reject it: " + ec.message();
    log(line);
}

void server_impl::complete(const std::shared_ptr<session>& s, service_channel& sc, std::string_view reply_to,
                           const std::optional<std::string>& correlation_id, std::uint64_t tag, const reply& r) {
    respond(s, sc, reply_to, view(correlation_id), tag, r);
}

// The request's reply is published (queued ahead of anything sent later): it may be acked.
// The ack goes out from a flush posted to the I/O thread: everything finished by the time it
// runs shares its frames. Inline, the flush runs after the strand's handler returns and before
// the write the replies started (that write is posted behind it), so one write carries a
// read's replies and a single ack. On workers, requests finished meanwhile by the others join
// it (a traced rpc_bench run, 16 in flight, 4 workers: 0.3 ack frames per request, against
// 0.74 when acks waited for the oldest and 1.0 acked from each worker). Never held behind an
// older request still running: that starves the prefetch window (the broker stops delivering
// until the ack), and one slow request held every later one (78 of 100 calls timed out).
void server_impl::finished(const std::shared_ptr<session>& s, service_channel& sc, std::uint64_t tag) {
    std::unique_lock lock(sc.ack_mutex);
    if (!opts_.batch_acks) {
        // The tutorial's way: this request alone, whatever finished before or after it.
        lock.unlock();
        ++stats_.acks;
        if (amqp::error_code ec = sc.ch.ack(tag); ec) log("could not ack the request: " + ec.message());
        settled(1);
        return;
    }
    sc.acks.finished(tag);
    // With the prefetch used up no further delivery can join the batch before an ack (always
    // so with prefetch 1): ack now, without the posted flush and its trip through the loop.
    const std::uint16_t prefetch = sc.svc->opts.prefetch;
    if (prefetch == 0 || sc.acks.outstanding() < prefetch) {
        if (sc.flush_posted) return;
        sc.flush_posted = true;
        lock.unlock();
        boost::asio::post(executor_, [self = shared_from_this(), s, &sc] {
            std::unique_lock l(sc.ack_mutex);
            sc.flush_posted = false;
            self->send_acks(sc, l);
        });
        return;
    }
    send_acks(sc, lock);
}

// Every finished request of the window: the front run in one frame, each one finished behind
// a running request in its own (held back, it would keep its place in the prefetch window).
// With sc.ack_mutex held, released before returning (and before logging).
void server_impl::send_acks(service_channel& sc, std::unique_lock<std::mutex>& lock) {
    std::size_t n = 0;
    amqp::error_code ec;
    for (ack_window::ack a = sc.acks.take_ack(); a.count > 0; a = sc.acks.take_ack()) {
        n += a.count;
        ++stats_.acks;
        if (amqp::error_code e = sc.ch.ack(a.tag, a.multiple()); e && !ec) ec = e;
    }
    lock.unlock();
    if (ec) log("could not ack the request(s): " + ec.message());
    settled(n);
}

}  // namespace detail

bool reply_sender::operator()(reply r) const { return state_->answer(std::move(r)); }

bool reply_sender::fail(std::exception_ptr e) const {
    if (state_->answered) return false;
    ++state_->server->stats_.handler_failures;
    return state_->answer(error_reply(std::move(e)));
}

}  // namespace rpc
