// The server's stop, asynchronous on the server's executor: cancel the consumers, drain the
// requests in flight within drain_timeout (server_drain), close the channels, then the connection,
// and complete every stop() made meanwhile with the same result.
#include "server_impl.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/post.hpp>

namespace rpc::detail {

void server_impl::stop(boost::asio::any_completion_handler<void(bool)> handler) {
    std::shared_ptr<session> s;
    bool finished_now = false;
    {
        std::lock_guard lock(mutex_);
        if (stop_result_) return complete_later(executor_, std::move(handler), *stop_result_);
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([weak = weak_from_this()](boost::asio::cancellation_type) {
                if (auto self = weak.lock()) self->halt();
            });
        }
        stop_handlers_.push_back(std::move(handler));
        if (stopping_ && drain_.draining()) return;
        stopping_ = true;
        reconnect_timer_.cancel();
        s = session_;
        if (s)
            for (const auto& sc : s->channels)
                if (sc->ch.is_open() && !sc->consumer_tag.empty()) drain_.cancelling(1);
        finished_now = drain_.begin(std::chrono::steady_clock::now(), opts_.drain_timeout);
        if (!finished_now) {
            drain_timer_.expires_at(drain_.deadline());
            drain_timer_.async_wait([weak = weak_from_this()](const amqp::error_code& ec) {
                auto self = weak.lock();
                if (ec || !self) return;
                bool ended = false;
                {
                    std::lock_guard l(self->mutex_);
                    ended = self->drain_.expired(std::chrono::steady_clock::now());
                }
                if (ended) self->finish_stop();
            });
        }
    }
    // No more deliveries: those in transit still come and are answered within the drain.
    if (s) {
        for (const auto& sc : s->channels)
            if (sc->ch.is_open() && !sc->consumer_tag.empty())
                sc->ch.async_cancel(sc->consumer_tag, [self = shared_from_this()](amqp::error_code ec) {
                    // Aborted or closed: the drain ended first and the connection closed, which
                    // cancels every consumer anyway.
                    const bool closing = ec == amqp::client_error::operation_aborted ||
                                         ec == amqp::client_error::connection_closed ||
                                         ec == amqp::client_error::channel_closed;
                    if (ec && !closing) self->log("could not cancel the consumer: " + ec.message());
                    bool ended = false;
                    {
                        std::lock_guard l(self->mutex_);
                        ended = self->drain_.cancelled();
                    }
                    if (ended) self->finish_stop();
                });
    }
    if (finished_now) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

void server_impl::halt() {
    bool ended = false;
    {
        std::lock_guard lock(mutex_);
        ended = drain_.halt();
    }
    if (ended) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

void server_impl::settled(std::size_t n) {
    if (n == 0) return;
    bool ended = false;
    {
        std::lock_guard lock(mutex_);
        ended = drain_.settled(n);
    }
    // Posted: the last ack is on its way out; close behind it, not from inside the ack path.
    if (ended) boost::asio::post(executor_, [self = shared_from_this()] { self->finish_stop(); });
}

// The drain ended: close, then complete every stop.
void server_impl::finish_stop() {
    std::shared_ptr<session> s;
    std::size_t unfinished = 0;
    bool graceful = false;
    {
        std::lock_guard lock(mutex_);
        if (stop_result_ || !drain_.finished()) return;
        stop_result_ = drain_.complete();
        unfinished = drain_.in_flight();
        graceful = !drain_.cut_short();
        drain_timer_.cancel();
        s = session_;
    }
    if (unfinished > 0) {
        log("stopping with " + std::to_string(unfinished) + " request(s) unfinished; the broker will redeliver them");
        // Requests still queued for a worker are not run: closing the connection releases them.
        if (pool_) pool_->stop();
    }
    auto complete = [self = shared_from_this()] {
        std::vector<boost::asio::any_completion_handler<void(bool)>> handlers;
        bool result = false;
        {
            std::lock_guard lock(self->mutex_);
            handlers.swap(self->stop_handlers_);
            result = *self->stop_result_;
        }
        for (auto& h : handlers) complete_later(self->executor_, std::move(h), result);
    };
    if (!s || !s->conn->is_open()) return complete();
    auto close_connection = [self = shared_from_this(), s, complete] {
        s->conn->async_close([self, s, complete](amqp::error_code ec) {
            if (ec && ec != amqp::client_error::connection_closed) self->log("close: " + ec.message());
            complete();
        });
    };
    // A drain cut short (halt, deadline: the broker may be frozen) closes the connection at once,
    // which closes its channels and returns their unacked deliveries to the queue. A drain that
    // ended by itself first closes each channel (channel.close, close-ok), then the connection.
    std::vector<amqp::channel*> open;
    if (graceful)
        for (const auto& sc : s->channels)
            if (sc->ch.is_open()) open.push_back(&sc->ch);
    if (open.empty()) return close_connection();
    auto left = std::make_shared<std::size_t>(open.size());
    for (amqp::channel* ch : open)
        ch->async_close([left, close_connection](amqp::error_code) {
            if (--*left == 0) close_connection();
        });
}

void server_impl::close_session(const std::shared_ptr<session>& s) {
    if (s && s->conn && s->conn->is_open()) s->conn->async_close([s](amqp::error_code) {});
}

void server_impl::abandon() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        reconnect_timer_.cancel();
        drain_timer_.cancel();
    }
    if (pool_) {
        pool_->stop();
        pool_->join();
    }
}

}  // namespace rpc::detail
