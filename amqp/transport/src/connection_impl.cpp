#include "connection_impl.hpp"
#include "tls_verify.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/protocol/handshake.hpp>
#include <amqp/codec/trace.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

namespace amqp::detail {
namespace {

constexpr std::size_t read_chunk = 64 * 1024;
// How long we wait for close-ok before dropping the socket anyway.
constexpr std::chrono::milliseconds close_ok_wait{5000};

protocol::time_point now() { return protocol::clock::now(); }

close_reason local_reason(error_code ec, std::string text) {
    close_reason r;
    r.code = ec;
    r.reply_text = std::move(text);
    return r;
}

std::string endpoint_text(const connection_options& o) { return o.host + ":" + std::to_string(o.port); }

// The name the broker's certificate must have (and SNI carries, for a host name).
std::string peer_name(const connection_options& o) { return o.tls.server_name.empty() ? o.host : o.tls.server_name; }

std::string trusted_cas(const connection_options& o) {
    return o.tls.ca_file.empty() ? "the system's CA paths" : "CA file " + o.tls.ca_file;
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

connection_impl::connection_impl(asio::any_io_executor ex, connection_options opts)
    : machine_(opts),
      ex_(ex),
      strand_(asio::make_strand(ex)),
      opts_(std::move(opts)),
      resolver_(strand_),
      tcp_(strand_),
      open_timer_(strand_),
      heartbeat_timer_(strand_),
      close_timer_(strand_),
      read_buf_(read_chunk) {
    // --trace / AMQP_TRACE=1: every frame, annotated, to stderr. Off, the machine only tests
    // that no observer is set.
    if (opts_.trace || trace::enabled_by_environment()) {
        trace_opts_ = trace::options_from_environment();
        machine_.set_frame_observer([this](protocol::direction d, const frame_view& f) {
            const auto dir = d == protocol::direction::in ? trace::direction::received : trace::direction::sent;
            trace::format_frame(std::cerr, dir, f, trace_opts_);
        });
    }
}

connection_impl::~connection_impl() = default;

// ---- public entry points (any thread) -----------------------------------------------------------

void connection_impl::start_open(asio::any_completion_handler<void(error_code)> h) {
    std::unique_lock lk(mu_);
    if (started_) {
        lk.unlock();
        complete(std::move(h), make_error_code(client_error::not_open));
        return;
    }
    started_ = true;
    open_handler_.emplace(std::move(h));
    lk.unlock();
    asio::post(strand_, [self = shared_from_this()] { self->do_open(); });
}

void connection_impl::start_open_channel(asio::any_completion_handler<void(error_code, channel)> h) {
    std::unique_lock lk(mu_);
    std::uint16_t id = 0;
    if (auto ec = machine_.open_channel(id)) {
        lk.unlock();
        complete(std::move(h), ec, channel{});
        return;
    }
    auto ch = std::make_shared<channel_impl>(weak_from_this(), id);
    channels_[id] = ch;
    std::weak_ptr<channel_impl> weak = ch;
    ch->ops.push_back(reply_op([ex = ex_, weak, h = std::move(h)](error_code ec, const method*) mutable {
        auto c = weak.lock();
        if (!ec && c) {
            c->open = true;
            complete_on(ex, std::move(h), ec, channel(std::move(c)));
        } else {
            complete_on(ex, std::move(h), ec ? ec : make_error_code(client_error::not_open), channel{});
        }
    }));
    request_write_locked();
}

void connection_impl::start_close(asio::any_completion_handler<void(error_code)> h,
                                  std::optional<asio::steady_timer::time_point> deadline) {
    std::unique_lock lk(mu_);
    const auto st = machine_.state();
    // Closed and already reported (the broker's close, a fault): our close-ok / close 50x may
    // still be on its way out; the branch below waits for the socket, so that a program exiting
    // next does not cut it off.
    if (!started_ || (st == protocol::connection_state::closed && !closed_seen_)) {
        lk.unlock();
        complete(std::move(h), error_code{});
        return;
    }
    user_closed_ = true;
    if (closed_seen_) {
        // The closed event is gone (we are flushing our close 50x, or waiting for close-ok):
        // waiting for it would hang. Wait for the socket instead.
        lk.unlock();
        asio::post(strand_, [self = shared_from_this(), h = std::move(h), deadline]() mutable {
            if (self->socket_closed_) {
                self->complete(std::move(h), error_code{});
                return;
            }
            self->socket_close_waiters_.push_back(std::move(h));
            self->bring_close_deadline_forward(deadline);
            self->arm_close_timer();
        });
        return;
    }
    close_handlers_.push_back(std::move(h));
    if (st == protocol::connection_state::idle) {
        machine_.abort(local_reason(client_error::operation_aborted, "closed before the connection was made"));
    } else {
        machine_.close();
    }
    request_write_locked();
    lk.unlock();
    asio::post(strand_, [self = shared_from_this(), deadline] {
        self->bring_close_deadline_forward(deadline);
        self->process_events();
        self->arm_close_timer();
    });
}

void connection_impl::cancel_open() {
    std::unique_lock lk(mu_);
    if (open_ || !open_handler_) return;
    machine_.abort(local_reason(client_error::operation_aborted, "opening the connection was cancelled"));
    lk.unlock();
    asio::post(strand_, [self = shared_from_this()] { self->process_events(); });
}

void connection_impl::shutdown() {
    std::unique_lock lk(mu_);
    user_closed_ = true;
    machine_.abort(local_reason(client_error::operation_aborted, "the connection object was destroyed"));
    lk.unlock();
    asio::post(strand_, [self = shared_from_this()] { self->process_events(); });
}

void connection_impl::send_sync(channel_impl& ch, const method& m, reply_op op) {
    std::unique_lock lk(mu_);
    if (auto ec = machine_.send_sync(ch.id, m)) {
        lk.unlock();
        std::move(op)(ec, nullptr);
        return;
    }
    ch.ops.push_back(std::move(op));
    request_write_locked();
}

error_code connection_impl::send_async(channel_impl& ch, const method& m) {
    std::lock_guard lk(mu_);
    auto ec = machine_.send_async(ch.id, m);
    if (!ec) request_write_locked();
    return ec;
}

error_code connection_impl::publish(channel_impl& ch, const basic_publish& m, const basic_properties& props,
                                    bytes_view body) {
    std::lock_guard lk(mu_);
    auto ec = machine_.publish(ch.id, m, props, body);
    if (!ec) request_write_locked();
    return ec;
}

void connection_impl::request_write_locked() {
    if (socket_ready_ && !writing_ && !machine_.output().empty()) {
        writing_ = true;
        asio::post(strand_, [self = shared_from_this()] { self->do_write(); });
    }
}

// ---- opening (strand) ---------------------------------------------------------------------------

void connection_impl::do_open() {
    open_timer_.expires_after(opts_.connection_timeout);
    open_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->open_) return;
        self->fail_locally(local_reason(client_error::connect_timeout,
                                        "no open connection to " + endpoint_text(self->opts_) + " within " +
                                            std::to_string(self->opts_.connection_timeout.count()) + " ms"));
    });
    // Refused here, at once: the broker would drop an oversized start-ok with a bare socket close.
    if (std::string why; const auto ec = protocol::check_start_ok_size(opts_, &why)) {
        fail_locally(local_reason(ec, std::move(why)));
        return;
    }
    if (opts_.use_tls) {
        ssl_ctx_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        error_code ec;
        ssl_ctx_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                  asio::ssl::context::no_tlsv1_1,
                              ec);
        std::string what;
        if (opts_.tls.verify_peer) {
            ssl_ctx_->set_verify_mode(asio::ssl::verify_peer, ec);
            if (opts_.tls.ca_file.empty()) {
                ssl_ctx_->set_default_verify_paths(ec);
                what = trusted_cas(opts_);
            } else {
                ssl_ctx_->load_verify_file(opts_.tls.ca_file, ec);
                what = trusted_cas(opts_);
            }
        } else {
            ssl_ctx_->set_verify_mode(asio::ssl::verify_none, ec);
        }
        if (!ec && !opts_.tls.cert_file.empty()) {
            what = "certificate " + opts_.tls.cert_file;
            ssl_ctx_->use_certificate_chain_file(opts_.tls.cert_file, ec);
            if (!ec) {
                const auto& key = opts_.tls.key_file.empty() ? opts_.tls.cert_file : opts_.tls.key_file;
                what = "private key " + key;
                ssl_ctx_->use_private_key_file(key, asio::ssl::context::pem, ec);
            }
        }
        if (ec) {
            fail_locally(local_reason(client_error::tls_error, "cannot load " + what + ": " + ec.message()));
            return;
        }
    }
    resolver_.async_resolve(opts_.host, std::to_string(opts_.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
                                self->on_resolved(ec, std::move(r));
                            });
}

void connection_impl::on_resolved(error_code ec, tcp::resolver::results_type results) {
    if (socket_closed_) return;
    if (ec) {
        fail_locally(local_reason(ec, "cannot resolve " + opts_.host));
        return;
    }
    asio::async_connect(tcp_, results, [self = shared_from_this()](error_code e, const tcp::endpoint&) {
        self->on_connected(e);
    });
}

void connection_impl::on_connected(error_code ec) {
    if (socket_closed_) return;
    if (ec) {
        fail_locally(local_reason(ec, "cannot connect to " + endpoint_text(opts_)));
        return;
    }
    error_code ignored;
    // Small frames (acks, RPC requests) must not wait for Nagle's algorithm.
    tcp_.set_option(tcp::no_delay(true), ignored);
    if (!opts_.use_tls) {
        begin_amqp();
        return;
    }
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(tcp_), *ssl_ctx_);
    const std::string name = peer_name(opts_);
    // SNI carries host names only (RFC 6066), never IP literals.
    if (!is_ip_literal(name)) SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
    if (opts_.tls.verify_peer && !require_peer_name(tls_->native_handle(), name)) {
        fail_locally(local_reason(client_error::tls_error, "cannot verify the broker as '" + name + "'"));
        return;
    }
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this()](error_code e) { self->on_tls_handshake(e); });
}

void connection_impl::on_tls_handshake(error_code ec) {
    if (socket_closed_) return;
    if (ec) {
        std::string text = "TLS handshake with " + endpoint_text(opts_) + " failed: " + ec.message();
        if (const auto why = verify_failure_text(tls_->native_handle(), peer_name(opts_), trusted_cas(opts_));
            !why.empty())
            text += ": " + why;
        fail_locally(local_reason(client_error::tls_error, std::move(text)));
        return;
    }
    begin_amqp();
}

void connection_impl::begin_amqp() {
    {
        std::lock_guard lk(mu_);
        machine_.start(now());
        if (opts_.trace || trace::enabled_by_environment())
            trace::format_protocol_header(std::cerr, trace::direction::sent, protocol_header, trace_opts_);
        socket_ready_ = true;
        request_write_locked();
    }
    process_events();  // a close() that raced with the connect
    read_more();
}

// ---- I/O (strand) -------------------------------------------------------------------------------

template <class Buffers, class Handler>
void connection_impl::stream_read(const Buffers& b, Handler&& h) {
    if (tls_) {
        tls_->async_read_some(b, std::forward<Handler>(h));
    } else {
        tcp_.async_read_some(b, std::forward<Handler>(h));
    }
}

template <class Buffers, class Handler>
void connection_impl::stream_write(const Buffers& b, Handler&& h) {
    if (tls_) {
        asio::async_write(*tls_, b, std::forward<Handler>(h));
    } else {
        asio::async_write(tcp_, b, std::forward<Handler>(h));
    }
}

void connection_impl::read_more() {
    if (socket_closed_ || reading_) return;
    reading_ = true;
    stream_read(asio::buffer(read_buf_),
                [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void connection_impl::on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (socket_closed_) return;
    {
        std::lock_guard lk(mu_);
        if (ec) {
            const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
            if (!tls_ && machine_.state() == protocol::connection_state::awaiting_start) {
                // A TLS listener drops our plain protocol header (a reset, or EOF) before any
                // connection.start: the likeliest cause is the scheme, so say so.
                machine_.abort(local_reason(client_error::connection_lost,
                                            (eof ? std::string("the broker closed the socket") : ec.message()) +
                                                " before connection.start (is this a TLS port? use amqps://)"));
            } else {
                machine_.on_transport_closed(eof ? error_code{} : ec, now());
            }
        } else {
            machine_.feed(bytes_view(read_buf_.data(), n), now());
        }
    }
    process_events();
    if (!ec) read_more();
}

void connection_impl::do_write() {
    {
        std::unique_lock lk(mu_);
        if (!socket_closed_) machine_.take_output(write_buf_);
        if (socket_closed_ || write_buf_.empty()) {
            writing_ = false;
            write_buf_.clear();
            const bool close = machine_.should_close_transport();
            lk.unlock();
            if (close) close_socket();
            return;
        }
    }
    stream_write(asio::buffer(write_buf_),
                 [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); });
}

void connection_impl::on_written(error_code ec) {
    // One huge message must not pin its buffer for the connection's lifetime.
    if (write_buf_.capacity() > (std::size_t{4} << 20)) byte_buffer().swap(write_buf_);
    if (ec && !socket_closed_) {
        {
            std::lock_guard lk(mu_);
            writing_ = false;
            machine_.on_transport_closed(ec, now());
        }
        process_events();
        close_socket();
        return;
    }
    do_write();
}

void connection_impl::arm_heartbeat() {
    std::optional<protocol::time_point> deadline;
    {
        std::lock_guard lk(mu_);
        deadline = machine_.next_deadline();
    }
    if (!deadline || socket_closed_) return;
    heartbeat_timer_.expires_at(*deadline);
    heartbeat_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->socket_closed_) return;
        {
            std::lock_guard lk(self->mu_);
            self->machine_.on_timer(now());
        }
        self->process_events();
        self->arm_heartbeat();
    });
}

void connection_impl::bring_close_deadline_forward(std::optional<asio::steady_timer::time_point> deadline) {
    if (deadline && (!close_deadline_ || *deadline < *close_deadline_)) close_deadline_ = deadline;
}

void connection_impl::arm_close_timer() {
    if (socket_closed_) return;
    auto at = asio::steady_timer::clock_type::now() +
              std::min<std::chrono::milliseconds>(opts_.connection_timeout, close_ok_wait);
    if (close_deadline_ && *close_deadline_ < at) at = *close_deadline_;
    // Armed already for no later: keep it. A caller's deadline can only bring it forward (setting
    // the expiry cancels the pending wait, whose handler then sees operation_aborted).
    if (close_timer_armed_ && at >= close_timer_.expiry()) return;
    close_timer_armed_ = true;
    close_timer_.expires_at(at);
    close_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || self->socket_closed_) return;
        self->fail_locally(local_reason({}, "no connection.close-ok in time"));
        // Already closed, the machine ignores that; a write the peer never reads must not keep
        // the socket (and whoever waits for it) forever.
        self->close_socket();
    });
}

void connection_impl::fail_locally(close_reason r) {
    {
        std::lock_guard lk(mu_);
        machine_.abort(std::move(r));
    }
    process_events();
}

void connection_impl::close_socket() {
    if (socket_closed_) return;
    socket_closed_ = true;
    {
        std::lock_guard lk(mu_);
        socket_ready_ = false;
    }
    error_code ignored;
    resolver_.cancel();
    auto& s = tls_ ? tls_->next_layer() : tcp_;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
    open_timer_.cancel();
    heartbeat_timer_.cancel();
    close_timer_.cancel();
    auto waiters = std::move(socket_close_waiters_);
    socket_close_waiters_.clear();
    for (auto& h : waiters) complete(std::move(h), error_code{});
}

// ---- events (strand) ----------------------------------------------------------------------------

std::optional<asio::any_completion_handler<void(error_code)>> connection_impl::take_open_handler() {
    std::optional<asio::any_completion_handler<void(error_code)>> h;
    if (open_handler_) {
        h.emplace(std::move(*open_handler_));
        open_handler_.reset();
    }
    return h;
}

void connection_impl::process_events() {
    protocol::event ev;
    for (;;) {
        std::unique_lock lk(mu_);
        if (!machine_.next_event(ev)) {
            request_write_locked();
            const bool close_now = machine_.should_close_transport() && !writing_;
            const bool closing = machine_.state() == protocol::connection_state::closing;
            lk.unlock();
            if (close_now) close_socket();
            if (closing) arm_close_timer();
            return;
        }
        switch (ev.kind) {
            case protocol::event_kind::none:
            case protocol::event_kind::flow:
            case protocol::event_kind::confirm:
                break;
            case protocol::event_kind::opened: {
                open_ = true;
                ever_opened_ = true;
                frame_max_ = machine_.frame_max();
                heartbeat_ = machine_.heartbeat();
                channel_max_ = machine_.channel_max();
                auto h = take_open_handler();
                lk.unlock();
                open_timer_.cancel();
                arm_heartbeat();
                if (h) complete(std::move(*h), error_code{});
                break;
            }
            case protocol::event_kind::reply: {
                std::optional<reply_op> op;
                const auto it = channels_.find(ev.channel);
                if (it != channels_.end()) {
                    auto& ch = *it->second;
                    if (!ch.ops.empty()) {
                        op.emplace(std::move(ch.ops.front()));
                        ch.ops.pop_front();
                    }
                    // The machine forgot the channel with close-ok; its id may be reused at once.
                    if (std::holds_alternative<channel_close_ok>(ev.reply)) {
                        ch.open = false;
                        channels_.erase(it);
                    }
                }
                lk.unlock();
                if (op) std::move(*op)(error_code{}, &ev.reply);
                break;
            }
            case protocol::event_kind::delivery: {
                const auto it = channels_.find(ev.channel);
                channel_impl* ch = it == channels_.end() ? nullptr : it->second.get();
                lk.unlock();
                if (!ch) break;
                const auto c = ch->consumers.find(ev.deliver.consumer_tag);
                if (c == ch->consumers.end() || !c->second) break;
                const delivered_message msg{ev.channel, ev.deliver, ev.properties, ev.body,
                                            ev.body_refused, ev.body_size, ev.fault};
                c->second(msg);
                break;
            }
            case protocol::event_kind::returned: {
                return_handler h;
                if (const auto it = channels_.find(ev.channel); it != channels_.end()) h = it->second->on_return;
                lk.unlock();
                if (h)
                    h(returned_message{ev.channel, ev.returned, ev.properties, ev.body, ev.body_refused, ev.body_size,
                                       ev.fault});
                break;
            }
            case protocol::event_kind::consumer_cancelled: {
                std::shared_ptr<channel_impl> ch;
                std::function<void(std::string_view)> h;
                if (const auto it = channels_.find(ev.channel); it != channels_.end()) {
                    ch = it->second;
                    h = ch->on_cancelled;
                }
                lk.unlock();
                if (!ch) break;
                if (const auto c = ch->consumers.find(ev.text); c != ch->consumers.end()) ch->consumers.erase(c);
                if (h) h(ev.text);
                break;
            }
            case protocol::event_kind::blocked:
            case protocol::event_kind::unblocked: {
                const bool b = ev.kind == protocol::event_kind::blocked;
                blocked_ = b;
                auto h = on_blocked_;
                lk.unlock();
                if (h) h(b, ev.text);
                break;
            }
            case protocol::event_kind::channel_closed: {
                std::shared_ptr<channel_impl> ch;
                if (const auto it = channels_.find(ev.channel); it != channels_.end()) {
                    ch = it->second;
                    channels_.erase(it);
                }
                std::deque<reply_op> ops;
                close_handler h;
                if (ch) {
                    ch->open = false;
                    ch->last_reason = ev.reason;
                    ops.swap(ch->ops);
                    h = ch->on_close;
                }
                lk.unlock();
                if (!ch) break;
                for (auto& op : ops) std::move(op)(ev.reason.code, nullptr);
                ch->consumers.clear();
                if (h) h(ev.reason);
                break;
            }
            case protocol::event_kind::closed: {
                open_ = false;
                closed_seen_ = true;
                last_reason_ = ev.reason;
                auto channels = std::move(channels_);
                channels_.clear();
                auto open_handler = take_open_handler();
                auto close_handlers = std::move(close_handlers_);
                close_handlers_.clear();
                const bool user = user_closed_;
                const bool was_open = ever_opened_;
                auto on_close = on_close_;
                std::vector<std::deque<reply_op>> ops;
                std::vector<close_handler> channel_handlers;
                for (auto& [id, ch] : channels) {
                    ch->open = false;
                    ch->last_reason = ev.reason;
                    ops.emplace_back().swap(ch->ops);
                    if (ch->on_close) channel_handlers.push_back(ch->on_close);
                }
                lk.unlock();
                open_timer_.cancel();
                heartbeat_timer_.cancel();
                const error_code reason_ec =
                    ev.reason.code ? ev.reason.code : make_error_code(client_error::operation_aborted);
                const error_code op_ec = user ? make_error_code(client_error::operation_aborted) : reason_ec;
                if (open_handler) complete(std::move(*open_handler), reason_ec);
                for (auto& q : ops)
                    for (auto& op : q) std::move(op)(op_ec, nullptr);
                for (auto& [id, ch] : channels) ch->consumers.clear();
                if (!user && was_open) {
                    for (auto& h : channel_handlers) h(ev.reason);
                    if (on_close) on_close(ev.reason);
                }
                for (auto& h : close_handlers) complete(std::move(h), error_code{});
                break;
            }
        }
    }
}

}  // namespace amqp::detail
