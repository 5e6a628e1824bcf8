// What the connection state machine reports back to whoever drives it (the Asio transport, a
// unit test, a fuzzer): one event at a time, pulled with connection_machine::next_event().
// Plain data: an event is read by the machine's owner, on the owner's thread.
#pragma once

#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/types.hpp>
#include <amqp/protocol/client_error.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace amqp::protocol {

/// The machine has no clock of its own: callers pass the time in, as a steady_clock point.
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

/// Which kind of event, and so which fields of `event` are meaningful.
enum class event_kind : std::uint8_t {
    none,                ///< nothing to report until more input (or time) arrives
    opened,              ///< connection.open-ok: the connection is usable
    reply,               ///< `reply` answers the oldest synchronous request on `channel`
    delivery,            ///< basic.deliver: `deliver`, `properties`, `body`
    returned,            ///< basic.return: `returned`, `properties`, `body`
    consumer_cancelled,  ///< the broker cancelled consumer `text` (basic.cancel from the server)
    flow,                ///< channel.flow: `active` (flow-ok already queued)
    blocked,             ///< connection.blocked with reason `text`
    unblocked,           ///< connection.unblocked
    confirm,             ///< publisher confirms settled: numbers `confirm_first`..`delivery_tag` on `channel`
    channel_closed,      ///< `channel` is gone: `reason` (broker channel.close, or a local fault)
    closed,              ///< the connection is over: `reason` (empty code after our own clean close)
};

/// One event. Views (method arguments, properties, body, text) point into the machine's buffers
/// and stay valid until the next call to the machine's input side (feed, next_event, on_timer,
/// on_transport_closed); commands (publish, send_sync...) do not invalidate them.
struct event {
    event_kind kind = event_kind::none;
    std::uint16_t channel = 0;
    method reply;           ///< for `reply`
    basic_deliver deliver;  ///< for `delivery`
    basic_return returned;  ///< for `returned`
    basic_properties properties;
    bytes_view body;
    /// `delivery`/`returned` only, with connection_options::deliver_oversized: the body's
    /// declared size (`body_size`) exceeded max_message_size, so `body` is empty and the body
    /// frames are skipped unread.
    bool body_refused = false;
    std::uint64_t body_size = 0;
    /// `delivery`/`returned` only: not empty when the message was well framed but a property in
    /// its content header breaks our limits or does not decode (a headers table nested too deep,
    /// an unknown field-type tag, trailing bytes...). A per-message fault: the connection and
    /// channel stay open, `body` is empty (its frames are skipped unread), and `properties` holds
    /// every property that could be read (the refused one is absent). Our own printable text,
    /// pointing into the machine's buffer (valid as the other views).
    std::string_view fault;
    std::string_view text;
    bool active = false;
    /// `confirm`: every publish number in [`confirm_first`, `delivery_tag`] that was still waiting
    /// is settled (numbers in the range settled earlier were reported then, so a transport that
    /// keeps its waiting publishes ordered by number completes those up to `delivery_tag` that are
    /// still there). `ack`: the broker confirmed them (basic.ack); otherwise they failed: the
    /// broker refused them (basic.nack) or, with `confirm_lost`, the channel or connection ended
    /// before an answer came (the message may or may not have reached its queues). A `lost`
    /// settlement comes right before the event that ends the channel (`channel_closed`, the
    /// channel.close-ok `reply`) or the connection (`closed`). `multiple` is the broker's flag
    /// (true for a lost range).
    bool ack = false;
    bool multiple = false;
    bool confirm_lost = false;
    std::uint64_t confirm_first = 0;
    std::uint64_t delivery_tag = 0;
    close_reason reason;  ///< for `channel_closed` and `closed`
};

}  // namespace amqp::protocol
