// The AMQP 0-9-1 client connection as a pure state machine ("sans-IO", after Boost.MySQL's
// algorithms and Boost.Redis's FSMs): bytes and time go in, bytes and events come out. It owns
// no socket, no thread and no clock, so a unit test or a fuzzer can drive it byte by byte with a
// fake clock, and the Asio transport only moves bytes and arms one timer.
//
// Driving it:
//
//     connection_machine m(opts);
//     m.start(now);                          // the protocol header is now in m.output()
//     loop:
//       write what take_output() hands over to the socket
//       on bytes read: m.feed(bytes, now); while (m.next_event(ev)) handle(ev);
//       on socket closed/failed: m.on_transport_closed(ec, now); drain events
//       at m.next_deadline(): m.on_timer(now); drain events
//       once m.should_close_transport() and the output is written: close the socket
//
// Errors: a command that cannot be queued returns an error_code (below); whatever the peer or the
// clock does is reported as events (`closed`, `channel_closed`, per-message faults), never thrown.
// Exceptions: std::bad_alloc, and whatever the frame observer throws.
// Threading: not thread-safe; one owner at a time, which serialises every call (the transport runs
// it on its strand). No call blocks.
#pragma once

#include <amqp/protocol/client_error.hpp>
#include <amqp/protocol/options.hpp>
#include <amqp/codec/delivery.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/protocol/confirm_tracker.hpp>
#include <amqp/protocol/event.hpp>
#include <amqp/codec/types.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>

namespace amqp::protocol {

/// Which way a frame went, for the frame observer.
enum class direction : std::uint8_t { in, out };

/// Called for every frame received (after framing checks) and sent; the hook for AMQP_TRACE.
using frame_observer = std::function<void(direction, const frame_view&)>;

/// Where the connection is in its life.
enum class connection_state : std::uint8_t {
    idle,            ///< start() not called yet
    awaiting_start,  ///< protocol header sent; waiting for connection.start
    awaiting_tune,   ///< start-ok sent; waiting for connection.tune (or a refusal)
    awaiting_open,   ///< tune-ok and connection.open sent; waiting for open-ok
    open,            ///< usable
    closing,         ///< connection.close sent (ours or after a fault); waiting for close-ok
    closed,          ///< over; every command fails with not_open (sticky)
};

/// The client side of one AMQP connection: handshake, channels, synchronous request/reply
/// matching, content assembly, heartbeats and both close handshakes.
class connection_machine {
public:
    /// A machine in state `idle`; nothing is queued until start(). `opts`: credentials, vhost,
    /// limits, preferences (host, port and TLS are the transport's).
    explicit connection_machine(protocol_options opts);

    connection_machine(const connection_machine&) = delete;
    connection_machine& operator=(const connection_machine&) = delete;

    // ---- driving ---------------------------------------------------------------------------

    /// Queue the protocol header; the handshake begins. Call once, in state `idle`.
    void start(time_point now);
    /// Bytes from the peer, in chunks of any size. Events views from earlier calls become invalid.
    /// Malformed input closes the connection (connection.close with the reply code goes out, and
    /// a `closed` event follows); after `closed`, input is ignored.
    void feed(bytes_view bytes, time_point now);
    /// feed() without a copy: space for reading up to `n` bytes from the socket straight into the
    /// frame decoder's buffer (during the handshake's first read and once closed: a small staging
    /// buffer, possibly shorter than `n`). Then commit_read(k, now) with the k bytes read (at most
    /// the space's size), which is feed() of those bytes. Views of earlier events become invalid
    /// here already. Between the two calls only next_event() and commands may run (they never
    /// touch the returned space); no feed().
    std::span<std::uint8_t> read_space(std::size_t n);
    void commit_read(std::size_t n, time_point now);
    /// The next event, processing buffered input as far as needed to produce one. Returns false
    /// (and sets `ev.kind = none`) when nothing more can be reported until more input or time.
    bool next_event(event& ev);
    /// The socket reached EOF or failed (`ec` is the transport's error, may be empty for EOF).
    /// Ends the connection: a `closed` event (connection_lost, or authentication_failed right
    /// after start-ok), preceded by lost confirms.
    void on_transport_closed(error_code ec, time_point now);
    /// The time has come (see next_deadline): send a heartbeat or declare the peer dead.
    void on_timer(time_point now);
    /// When on_timer() wants to be called next, if at all.
    std::optional<time_point> next_deadline() const noexcept;
    /// Give up on the connection locally (e.g. the transport's connect timeout): no bytes sent,
    /// a `closed` event with this reason, and should_close_transport().
    void abort(close_reason reason);

    /// Bytes waiting to be written. The transport swaps them out with take_output().
    const byte_buffer& output() const noexcept { return out_; }
    /// Move the pending output into `into` (cleared first), leaving the machine's buffer empty
    /// but with `into`'s old capacity: two buffers alternate with no allocation.
    void take_output(byte_buffer& into) noexcept;
    /// True once the socket should be closed (after writing what output() still holds).
    bool should_close_transport() const noexcept { return close_transport_; }

    // ---- commands (valid once open; return not_open otherwise) --------------------------------

    /// Pick the lowest free channel id and queue channel.open; the `reply` event with
    /// channel.open-ok on that channel says it is open. Errors: not_open; 506 RESOURCE_ERROR when
    /// every channel id up to the negotiated channel_max is in use.
    error_code open_channel(std::uint16_t& id);
    /// Queue a synchronous method (queue.declare, basic.qos, basic.consume, basic.cancel,
    /// channel.close, confirm.select...). At most one is outstanding per channel; later ones wait
    /// their turn. Its answer comes as a `reply` event, in order; a `channel_closed` event fails
    /// the rest. confirm.select puts the channel in confirm mode when it goes on the wire (after
    /// the sync methods queued before it): publishes from then on are numbered (see publish).
    /// Errors: not_open (connection, or a channel not open or closing); 502 SYNTAX_ERROR when the
    /// method does not encode; 501 FRAME_ERROR when it exceeds frame_max.
    error_code send_sync(std::uint16_t channel, const method& m);
    /// Queue an asynchronous method that has no reply (basic.ack/nack/reject, ...). A
    /// confirm.select with no-wait sent this way starts confirm mode at once. Errors as send_sync.
    error_code send_async(std::uint16_t channel, const method& m);
    /// Queue a message: method, header and body frames contiguously in the output.
    /// Errors: not_open, message_too_large (body above max_message_size), 502 SYNTAX_ERROR for a
    /// shortstr over 255 octets, 501 FRAME_ERROR for a header payload over frame_max. On an error
    /// nothing is queued.
    error_code publish(std::uint16_t channel, const basic_publish& m, const basic_properties& props,
                       bytes_view body);
    /// publish, and `seq` = the message's publisher-confirm number on a channel in confirm mode
    /// (1, 2, ... in publish order; 0 when not in confirm mode or on error). The broker's answer
    /// comes as a `confirm` event covering that number: exactly one settlement per number, the
    /// broker's ack or nack, or a lost one when the channel or connection ends first.
    ///
    /// Returned messages: a mandatory publish that no queue takes comes back as a `returned`
    /// event BEFORE the `confirm` (ack) that settles its number (RabbitMQ sends basic.return,
    /// then basic.ack). basic.return carries no number, and acks of other numbers may come in
    /// between, so the caller finds the publish by something it put in the message (e.g. its
    /// correlation_id or message_id), marks it returned, and completes it as returned when its
    /// ack arrives.
    ///
    /// Faults: a basic.ack/basic.nack from the broker naming no waiting number (never published,
    /// already settled, 0), or on a channel not in confirm mode, closes that channel with 406
    /// PRECONDITION_FAILED, as RabbitMQ does for a client's unknown delivery tag
    /// (rabbit_channel's "unknown delivery tag"); its waiting numbers are reported lost.
    error_code publish(std::uint16_t channel, const basic_publish& m, const basic_properties& props,
                       bytes_view body, std::uint64_t& seq);
    /// Begin our side of the close handshake (connection.close with `code`, normally 200).
    /// The `closed` event follows close-ok. No effect once closing/closed.
    void close(std::uint16_t code = 200, std::string_view text = "Goodbye");

    // ---- state --------------------------------------------------------------------------------

    connection_state state() const noexcept { return state_; }
    bool is_open() const noexcept { return state_ == connection_state::open; }
    bool is_channel_open(std::uint16_t id) const noexcept;
    /// True when confirm.select went out on this open or closing channel.
    bool is_confirm_mode(std::uint16_t id) const noexcept;
    /// Publishes on the channel still waiting for the broker's ack or nack (0 if none or unknown).
    std::uint64_t unconfirmed(std::uint16_t id) const noexcept;
    bool is_blocked() const noexcept { return blocked_; }
    std::uint32_t frame_max() const noexcept { return frame_max_; }
    std::uint16_t channel_max() const noexcept { return channel_max_; }
    std::uint16_t heartbeat() const noexcept { return heartbeat_; }
    /// The broker's server-properties table as received (empty before connection.start).
    table_view server_properties() const noexcept { return {server_properties_}; }
    const protocol_options& options() const noexcept { return opts_; }

    /// Watch every frame in and out (tracing). Called from inside feed/next_event and the
    /// commands, with whatever lock the caller holds: it must not call back into the machine.
    /// Outgoing frames include connection.start-ok, whose response carries the password.
    void set_frame_observer(frame_observer f) { observer_ = std::move(f); }

private:
    struct pending_sync {
        byte_buffer frame;  // the encoded method frame, sent when it reaches the front
        std::uint16_t reply_class = 0;
        std::uint16_t reply_method = 0;
        bool starts_confirms = false;  // confirm.select: confirm mode begins when it is written
    };
    enum class channel_phase : std::uint8_t { opening, open, closing };
    enum class content_stage : std::uint8_t { none, header, body };
    struct channel_state {
        channel_phase phase = channel_phase::opening;
        std::deque<pending_sync> sync;
        bool front_sent = false;
        // Our channel.close is on the wire: discard everything but close and close-ok.
        bool close_sent = false;
        // A close we sent on our own (local fault) or after a broker close crossed ours: its
        // close-ok ends the channel silently.
        bool silent_close = false;
        // Content assembly: copies of the method and header payloads (the decoder's views die
        // with the next feed), and the body so far. Reused from message to message.
        content_stage stage = content_stage::none;
        bool discard = false;  // content on a closing channel, refused as too large, or with a header fault
        std::uint16_t content_class = 0;
        std::uint64_t body_remaining = 0;
        byte_buffer method_payload;
        byte_buffer header_payload;
        byte_buffer body;
        confirm_tracker confirms;
    };

    bool take_delivery(event& ev);
    bool accept_input(std::size_t n, time_point now);
    bool handle_frame(const frame_view& f, event& ev);
    bool handle_connection_method(const method& m, event& ev);
    bool handle_channel_method(std::uint16_t id, channel_state& ch, const method& m, event& ev);
    void fit_body_buffer(channel_state& ch, std::uint64_t size) const;
    bool handle_header(std::uint16_t id, channel_state& ch, const frame_view& f, event& ev);
    bool handle_body(std::uint16_t id, channel_state& ch, const frame_view& f, event& ev);
    bool complete_content(std::uint16_t id, channel_state& ch, event& ev);
    void on_start(const connection_start& m);
    void on_tune(const connection_tune& m);
    void send_next_sync(std::uint16_t id, channel_state& ch);
    bool on_confirm(std::uint16_t id, channel_state& ch, std::uint64_t tag, bool multiple, bool ack, event& ev);
    void report_lost_confirms(std::uint16_t id, channel_state& ch);
    void report_all_lost_confirms();
    void report_broker_close(std::uint16_t id, channel_state& ch, const channel_close& c);
    void close_channel_locally(std::uint16_t id, channel_state& ch, std::uint16_t code, std::string text,
                               error_code ec, std::uint16_t class_id, std::uint16_t method_id);

    // Faults: a protocol fault we detected (connection.close with `code` goes out), or a local end.
    void fail(reply_code code, std::string text, std::uint16_t class_id = 0, std::uint16_t method_id = 0);
    void finish(close_reason reason, bool close_transport);
    void queue_event(event ev);

    error_code append_method(std::uint16_t channel, const method& m);
    void observe_output(std::size_t from);
    void sent_something(std::size_t from);

    protocol_options opts_;
    connection_state state_ = connection_state::idle;
    frame_decoder decoder_;
    delivery_view delivery_;  // take_delivery's: its views point into decoder_'s buffer
    diagnostics diag_;
    std::string fault_text_;  // the last per-message fault's text (event::fault points into it)
    byte_buffer out_;
    std::deque<event> queued_;
    std::map<std::uint16_t, channel_state> channels_;
    frame_observer observer_;

    // Before the first frame: the peer's first bytes, to tell a protocol header from frames.
    std::array<std::uint8_t, 8> preamble_{};
    std::size_t preamble_size_ = 0;
    // read_space's staging buffer, and whether the last read_space handed it out.
    byte_buffer read_stage_;
    bool read_staged_ = false;
    bool preamble_done_ = false;

    byte_buffer server_properties_;
    byte_buffer scratch_;  // encoding of client properties etc.
    std::uint32_t frame_max_ = frame_min_size;
    std::uint16_t channel_max_ = 0;
    std::uint16_t heartbeat_ = 0;
    bool blocked_ = false;
    bool close_transport_ = false;
    bool closed_reported_ = false;
    time_point last_recv_{};
    time_point last_send_{};
    time_point now_{};
};

}  // namespace amqp::protocol
