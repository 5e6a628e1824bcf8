// Private: a user's completion handler that may finish two ways, whichever comes first: the
// broker's reply (on the strand), or a per-operation cancellation signal (Asio's model, emitted
// from the user's side). A request already on the wire cannot be taken back; its late reply is
// dropped by the caller (who can see that take() came back empty).
#pragma once

#include "connection_impl.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>

namespace amqp::detail {

template <class... Args>
class cancellable_op {
public:
    using handler_type = asio::any_completion_handler<void(error_code, Args...)>;

    /// Wrap `h`; when its handler has a connected cancellation slot, a cancellation completes
    /// it at once with operation_aborted (results default-constructed).
    static std::shared_ptr<cancellable_op> make(asio::any_io_executor ex, handler_type h) {
        auto slot = asio::get_associated_cancellation_slot(h);
        auto self = std::shared_ptr<cancellable_op>(new cancellable_op(std::move(ex), std::move(h)));
        if (slot.is_connected()) {
            // The slot keeps this no-op-after-completion handler until the user's signal is
            // reused or destroyed; clearing it from our strand would race with an emit.
            slot.assign([weak = std::weak_ptr<cancellable_op>(self)](asio::cancellation_type t) {
                if (t == asio::cancellation_type::none) return;
                if (auto s = weak.lock()) s->finish(make_error_code(client_error::operation_aborted), Args{}...);
            });
        }
        return self;
    }

    /// The handler, if nobody completed it yet.
    std::optional<handler_type> take() {
        std::lock_guard lk(mu_);
        std::optional<handler_type> h;
        if (h_) {
            h.emplace(std::move(*h_));
            h_.reset();
        }
        return h;
    }

    /// Complete with these results unless already completed; false if it was.
    bool finish(error_code ec, Args... args) {
        auto h = take();
        if (!h) return false;
        complete_on(ex_, std::move(*h), ec, std::move(args)...);
        return true;
    }

    const asio::any_io_executor& executor() const noexcept { return ex_; }

private:
    cancellable_op(asio::any_io_executor ex, handler_type h) : ex_(std::move(ex)) { h_.emplace(std::move(h)); }

    asio::any_io_executor ex_;
    std::mutex mu_;
    std::optional<handler_type> h_;
};

}  // namespace amqp::detail
