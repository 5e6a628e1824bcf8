// The run loop: commands carried to the strand, the open, and pump(), which executes what the
// protocol machine asks of the stream and the clock.
#include "connection_impl.hpp"
#include "network_stream.hpp"
#include "owned_method.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/trace.hpp>
#include <amqp/protocol/handshake.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <boost/asio/ssl/error.hpp>

namespace amqp::detail {
namespace {

// Read straight into the frame decoder, up to one default-sized frame (131 072) at a time: a
// 1 MiB body takes 8 reads, not 16 as with 64 KiB, and the broker is not left waiting on our
// receive window while we go round the event loop.
constexpr std::size_t read_chunk = 128 * 1024;
// How long we wait for close-ok before dropping the socket anyway.
constexpr std::chrono::milliseconds close_ok_wait{5000};

close_reason local_reason(error_code ec, std::string text) {
    close_reason r;
    r.code = ec;
    r.reply_text = std::move(text);
    return r;
}

// An executor that is a strand already (the RPC client runs its connection on its own strand) is
// the connection's strand as it is: a strand made over it would pass every handler through two
// strand queues, each with its lock, its allocation and its executor copies.
asio::strand<asio::any_io_executor> strand_of(const asio::any_io_executor& ex) {
    if (const auto* s = ex.target<asio::strand<asio::any_io_executor>>()) return *s;
    return asio::make_strand(ex);
}

}  // namespace

connection_impl::connection_impl(asio::any_io_executor ex, connection_options opts,
                                 std::unique_ptr<transport::stream> stream)
    : ex_(ex),
      strand_(strand_of(ex)),
      opts_(std::move(opts)),
      machine_(opts_),
      stream_(std::move(stream)),
      timer_(strand_) {
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

connection_impl::~connection_impl() {
    if (!registry_) return;
    std::lock_guard lk(registry_->mu);
    registry_->all.erase(this);
}

void connection_impl::attach() {
    auto& ctx = asio::query(ex_, asio::execution::context);
    registry_ = asio::use_service<handler_registry>(ctx).connections();
    std::lock_guard lk(registry_->mu);
    registry_->all.emplace(this, weak_from_this());
}

void connection_impl::drop_handlers() {
    // Moved out first, destroyed when this returns: a handler's destructor may call back into
    // this connection (its owner going away calls shutdown()).
    std::vector<asio::any_completion_handler<void()>> commands;
    {
        std::lock_guard lk(handoff_mu_);
        commands.swap(handoff_);
    }
    std::optional<void_handler> open;
    if (open_handler_) open.emplace(std::move(*open_handler_));
    open_handler_.reset();
    auto closing = std::exchange(close_handlers_, {});
    auto waiting = std::exchange(stream_close_waiters_, {});
    auto on_close = std::exchange(on_close_, {});
    auto on_blocked = std::exchange(on_blocked_, {});
    auto channels = std::exchange(channels_, {});
    for (auto& [id, ch] : channels) {
        auto ops = std::exchange(ch->ops, {});
        auto consumers = std::exchange(ch->consumers, {});
        auto on_return = std::exchange(ch->on_return, {});
        auto on_cancelled = std::exchange(ch->on_cancelled, {});
        auto ch_close = std::exchange(ch->on_close, {});
        auto confirms = ch->confirms.take_all();
    }
}

close_reason connection_impl::last_reason() const {
    std::lock_guard lk(snapshot_mu_);
    return last_reason_;
}

field_table connection_impl::server_properties() const {
    field_table t;
    diagnostics d;
    std::lock_guard lk(snapshot_mu_);
    (void)decode_table(table_view{server_props_}, t, d);
    return t;
}

// ---- commands (any thread, carried to the strand) ----------------------------------------------

void connection_impl::start_open(void_handler h) {
    on_strand([this, h = std::move(h)]() mutable {
        if (status_ != status::idle) {
            complete(std::move(h), make_error_code(client_error::not_open));
            return;
        }
        status_ = status::opening;
        open_handler_.emplace(std::move(h));
        do_open();
    });
}

void connection_impl::start_open_channel(asio::any_completion_handler<void(error_code, channel)> h) {
    on_strand([this, h = std::move(h)]() mutable {
        std::uint16_t id = 0;
        if (auto ec = machine_.open_channel(id)) {
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
        pump();
    });
}

void connection_impl::start_close(void_handler h, std::optional<asio::steady_timer::time_point> deadline) {
    on_strand([this, h = std::move(h), deadline]() mutable {
        if (status_ == status::idle) {
            complete(std::move(h), error_code{});
            return;
        }
        user_closed_ = true;
        if (deadline) close_by(*deadline);
        if (status_ == status::closed) {
            // Reported closed already (the broker's close, a fault): our close-ok / close 50x may
            // still be on its way out, so wait for the stream, that a program exiting next does
            // not cut it off.
            if (link_ == link::down) {
                complete(std::move(h), error_code{});
                return;
            }
            stream_close_waiters_.push_back(std::move(h));
            close_by(now() + std::min<std::chrono::milliseconds>(opts_.connection_timeout, close_ok_wait));
            arm_timer();
            return;
        }
        close_handlers_.push_back(std::move(h));
        if (machine_.state() == protocol::connection_state::idle) {
            machine_.abort(local_reason(client_error::operation_aborted, "closed before the connection was made"));
        } else {
            machine_.close();
        }
        pump();
    });
}

void connection_impl::cancel_open() {
    on_strand([this] {
        if (status_ != status::opening) return;
        machine_.abort(local_reason(client_error::operation_aborted, "opening the connection was cancelled"));
        pump();
    });
}

void connection_impl::shutdown() {
    on_strand([this] {
        user_closed_ = true;
        machine_.abort(local_reason(client_error::operation_aborted, "the connection object was destroyed"));
        pump();
    });
}

void connection_impl::send_sync(const std::shared_ptr<channel_impl>& ch, const method& m, reply_op op) {
    auto run = [this, ch](const method& mm, reply_op o) {
        // A channel handle outliving its channel must not reach a new channel with the same id.
        const auto it = channels_.find(ch->id);
        error_code ec = it == channels_.end() || it->second != ch ? make_error_code(client_error::not_open)
                                                                  : machine_.send_sync(ch->id, mm);
        if (ec) {
            std::move(o)(ec, nullptr);
            return;
        }
        ch->ops.push_back(std::move(o));
        pump();
    };
    if (strand_.running_in_this_thread()) {
        run(m, std::move(op));
        return;
    }
    auto owned = std::make_shared<owned_method>();
    if (auto ec = owned->assign(m)) {
        std::move(op)(ec, nullptr);
        return;
    }
    on_strand([run, owned, op = std::move(op)]() mutable { run(owned->get(), std::move(op)); });
}

error_code connection_impl::send_async(const std::shared_ptr<channel_impl>& ch, const method& m) {
    if (strand_.running_in_this_thread()) {
        const auto it = channels_.find(ch->id);
        if (it == channels_.end() || it->second != ch) return client_error::not_open;
        auto ec = machine_.send_async(ch->id, m);
        if (!ec) pump();
        return ec;
    }
    if (!is_open() || !ch->open) return client_error::not_open;
    auto owned = std::make_shared<owned_method>();
    if (auto ec = owned->assign(m)) return ec;
    on_strand([this, ch, owned] {
        const auto it = channels_.find(ch->id);
        if (it == channels_.end() || it->second != ch) return;
        if (!machine_.send_async(ch->id, owned->get())) pump();
    });
    return {};
}

error_code connection_impl::publish(const std::shared_ptr<channel_impl>& ch, const basic_publish& m,
                                    const basic_properties& props, bytes_view body) {
    if (strand_.running_in_this_thread()) {
        const auto it = channels_.find(ch->id);
        if (it == channels_.end() || it->second != ch) return client_error::not_open;
        auto ec = machine_.publish(ch->id, m, props, body);
        if (!ec) pump();
        return ec;
    }
    if (!is_open() || !ch->open) return client_error::not_open;
    if (body.size() > opts_.max_message_size) return client_error::message_too_large;
    auto owned = std::make_shared<owned_message>();
    if (auto ec = owned->assign(m, props, body, frame_max())) return ec;
    on_strand([this, ch, owned] {
        const auto it = channels_.find(ch->id);
        if (it == channels_.end() || it->second != ch) return;
        if (!machine_.publish(ch->id, owned->method(), owned->properties(), owned->body())) pump();
    });
    return {};
}

void connection_impl::publish(const std::shared_ptr<channel_impl>& ch, std::shared_ptr<const owned_message> msg,
                              void_handler h) {
    on_strand([this, ch, msg = std::move(msg), h = std::move(h)]() mutable {
        const auto it = channels_.find(ch->id);
        if (it == channels_.end() || it->second != ch) {
            complete(std::move(h), make_error_code(client_error::not_open));
            return;
        }
        std::uint64_t seq = 0;
        if (auto ec = machine_.publish(ch->id, msg->method(), msg->properties(), msg->body(), seq)) {
            complete(std::move(h), ec);
            return;
        }
        if (seq == 0) {
            complete(std::move(h), error_code{});  // not in confirm mode: handed over is all there is
        } else {
            ch->confirms.add(seq, msg->method(), msg->body(), std::move(h));
        }
        pump();
    });
}

void connection_impl::run_handoff() {
    std::vector<asio::any_completion_handler<void()>> batch;
    {
        std::lock_guard lk(handoff_mu_);
        batch.swap(handoff_);
        handoff_posted_ = false;
    }
    for (auto& f : batch) std::move(f)();
}

// ---- opening (strand) ---------------------------------------------------------------------------

void connection_impl::do_open() {
    open_by_ = now() + opts_.connection_timeout;
    // Refused here, at once: the broker would drop an oversized start-ok with a bare socket close.
    if (std::string why; const auto ec = protocol::check_start_ok_size(opts_, &why)) {
        fail_locally(ec, std::move(why));
        return;
    }
    if (!stream_) {
        error_code ec;
        std::string why;
        stream_ = make_network_stream(strand_, opts_, ec, why);
        if (!stream_) {
            fail_locally(ec, std::move(why));
            return;
        }
    }
    link_ = link::connecting;
    arm_timer();
    stream_->async_connect(asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::string why) {
        self->on_connected(ec, std::move(why));
    }));
}

void connection_impl::on_connected(error_code ec, std::string why) {
    if (link_ != link::connecting) return;  // given up meanwhile
    if (ec) {
        fail_locally(ec, std::move(why));
        return;
    }
    link_ = link::up;
    machine_.start(now());
    if (opts_.trace || trace::enabled_by_environment())
        trace::format_protocol_header(std::cerr, trace::direction::sent, protocol_header, trace_opts_);
    pump();
}

// ---- the run loop (strand) ----------------------------------------------------------------------

void connection_impl::pump() {
    if (pumping_) return;  // a handler's command: the pump below picks its effects up
    pumping_ = true;
    protocol::event ev;
    while (machine_.next_event(ev)) handle(ev);
    pumping_ = false;
    if (machine_.state() == protocol::connection_state::closing)
        close_by(now() + std::min<std::chrono::milliseconds>(opts_.connection_timeout, close_ok_wait));
    if (link_ == link::up) {
        if (!writing_ && !machine_.output().empty()) start_write();
        // Close once what the machine still had to say (close-ok, close 50x) is written.
        if (!writing_ && machine_.should_close_transport()) {
            close_link();
            return;
        }
        if (!reading_) start_read();
    } else if (link_ != link::down && machine_.should_close_transport()) {
        close_link();  // given up before the stream was up
        return;
    }
    arm_timer();
}

void connection_impl::start_read() {
    reading_ = true;
    const auto space = machine_.read_space(read_chunk);
    stream_->async_read_some(asio::buffer(space.data(), space.size()),
                             asio::bind_executor(strand_, [self = shared_from_this()](error_code ec, std::size_t n) {
                                 self->on_read(ec, n);
                             }));
}

void connection_impl::on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (link_ != link::up) return;
    if (!ec) {
        machine_.commit_read(n, now());
    } else {
        const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
        if (!stream_->is_tls() && machine_.state() == protocol::connection_state::awaiting_start) {
            // A TLS listener drops our plain protocol header (a reset, or EOF) before any
            // connection.start: the likeliest cause is the scheme, so say so.
            machine_.abort(local_reason(client_error::connection_lost,
                                        (eof ? std::string("the broker closed the socket") : ec.message()) +
                                            " before connection.start (is this a TLS port? use amqps://)"));
        } else {
            machine_.on_transport_closed(eof ? error_code{} : ec, now());
        }
    }
    pump();
}

void connection_impl::close_by(protocol::time_point t) {
    if (!close_by_ || t < *close_by_) close_by_ = t;
}

// One timer for every deadline: the open's, the close's and the machine's (heartbeats).
void connection_impl::arm_timer() {
    std::optional<protocol::time_point> at;
    const auto earliest = [&at](std::optional<protocol::time_point> t) {
        if (t && (!at || *t < *at)) at = t;
    };
    if (status_ == status::opening) earliest(open_by_);
    earliest(close_by_);
    if (link_ == link::up) earliest(machine_.next_deadline());
    if (link_ == link::down) at.reset();
    if (at == timer_at_) return;
    // A later deadline keeps the earlier wait armed: it fires early, on_timer finds nothing due and
    // pump() arms the timer again. Every message moves the heartbeat deadlines later, and re-arming
    // at each wake-up cost a cancelled wait (its aborted completion through the strand) per message.
    if (at && timer_at_ && *timer_at_ < *at) return;
    timer_at_ = at;
    if (!at) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(*at);
    timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code ec) {
        if (ec == asio::error::operation_aborted) return;  // re-armed or closed
        self->timer_at_.reset();
        self->on_timer();
    }));
}

void connection_impl::on_timer() {
    if (link_ == link::down) return;
    const auto t = now();
    if (status_ == status::opening && open_by_ && t >= *open_by_) {
        fail_locally(client_error::connect_timeout, "no open connection to " + endpoint_text(opts_) + " within " +
                                                        std::to_string(opts_.connection_timeout.count()) + " ms");
        return;
    }
    if (close_by_ && t >= *close_by_) {
        fail_locally({}, "no connection.close-ok in time");
        // Already closed, the machine ignores that; a write the peer never reads must not keep
        // the stream (and whoever waits for it) forever.
        close_link();
        return;
    }
    if (link_ == link::up)
        if (const auto d = machine_.next_deadline(); d && t >= *d) machine_.on_timer(t);
    pump();
}

void connection_impl::fail_locally(error_code ec, std::string text) {
    machine_.abort(local_reason(ec, std::move(text)));
    pump();
}

void connection_impl::close_link() {
    if (link_ == link::down) return;
    link_ = link::down;
    if (stream_) stream_->close();
    timer_.cancel();
    timer_at_.reset();
    auto waiters = std::move(stream_close_waiters_);
    stream_close_waiters_.clear();
    for (auto& h : waiters) complete(std::move(h), error_code{});
}

}  // namespace amqp::detail
