// The AMQP 0-9-1 methods an RPC client and server exchange with RabbitMQ, as plain structs.
//
// Argument names, order and types follow the spec XML (Debian amqp-specs,
// 0-9-1-rabbit/amqp0-9-1.stripped.extended.xml); connection.blocked/unblocked are RabbitMQ
// extensions. String and table arguments are views: after decoding they point into the frame's
// payload, and for encoding into whatever the caller owns. Reserved arguments are kept so that
// encode(decode(bytes)) == bytes.
// Errors: returned as error_code plus `diagnostics`, never thrown. Threading: pure functions and
// plain structs; concurrent calls are safe on distinct outputs.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/types.hpp>

#include <cstdint>
#include <string_view>
#include <variant>

namespace amqp {

// Each struct carries its ids (`class_index`, `method_index`: the XML's `index` attributes), its
// dotted name, whether the spec marks it synchronous (the sender waits for a reply) and whether
// a content header and body follow it.
#define AMQP_METHOD_TRAITS(CLASS, METHOD, NAME, SYNC, CONTENT)        \
    static constexpr std::uint16_t class_index = CLASS;              \
    static constexpr std::uint16_t method_index = METHOD;              \
    static constexpr std::string_view name = NAME;                    \
    static constexpr bool synchronous = SYNC;                         \
    static constexpr bool has_content = CONTENT

// ---- connection (class 10) ------------------------------------------------------------------

struct connection_start {
    AMQP_METHOD_TRAITS(10, 10, "connection.start", true, false);
    std::uint8_t version_major = 0;
    std::uint8_t version_minor = 9;
    table_view server_properties;
    std::string_view mechanisms;  ///< longstr, space-separated, e.g. "AMQPLAIN PLAIN"
    std::string_view locales;     ///< longstr, e.g. "en_US"
    friend bool operator==(const connection_start&, const connection_start&) = default;
};
struct connection_start_ok {
    AMQP_METHOD_TRAITS(10, 11, "connection.start-ok", true, false);
    table_view client_properties;
    std::string_view mechanism;  ///< shortstr, e.g. "PLAIN"
    std::string_view response;   ///< longstr; for PLAIN "\0user\0password" (secret: never log it)
    std::string_view locale;     ///< shortstr
    friend bool operator==(const connection_start_ok&, const connection_start_ok&) = default;
};
struct connection_secure {
    AMQP_METHOD_TRAITS(10, 20, "connection.secure", true, false);
    std::string_view challenge;  ///< longstr
    friend bool operator==(const connection_secure&, const connection_secure&) = default;
};
struct connection_secure_ok {
    AMQP_METHOD_TRAITS(10, 21, "connection.secure-ok", true, false);
    std::string_view response;  ///< longstr (secret)
    friend bool operator==(const connection_secure_ok&, const connection_secure_ok&) = default;
};
struct connection_tune {
    AMQP_METHOD_TRAITS(10, 30, "connection.tune", true, false);
    std::uint16_t channel_max = 0;
    std::uint32_t frame_max = 0;
    std::uint16_t heartbeat = 0;
    friend bool operator==(const connection_tune&, const connection_tune&) = default;
};
struct connection_tune_ok {
    AMQP_METHOD_TRAITS(10, 31, "connection.tune-ok", true, false);
    std::uint16_t channel_max = 0;
    std::uint32_t frame_max = 0;
    std::uint16_t heartbeat = 0;
    friend bool operator==(const connection_tune_ok&, const connection_tune_ok&) = default;
};
struct connection_open {
    AMQP_METHOD_TRAITS(10, 40, "connection.open", true, false);
    std::string_view virtual_host = "/";
    std::string_view reserved_1;  ///< "capabilities" in 0-9, empty
    bool reserved_2 = false;      ///< "insist" in 0-9
    friend bool operator==(const connection_open&, const connection_open&) = default;
};
struct connection_open_ok {
    AMQP_METHOD_TRAITS(10, 41, "connection.open-ok", true, false);
    std::string_view reserved_1;  ///< "known-hosts" in 0-9
    friend bool operator==(const connection_open_ok&, const connection_open_ok&) = default;
};
struct connection_close {
    AMQP_METHOD_TRAITS(10, 50, "connection.close", true, false);
    std::uint16_t reply_code = 0;
    std::string_view reply_text;
    std::uint16_t class_id = 0;   ///< of the method that caused the close, or 0
    std::uint16_t method_id = 0;
    friend bool operator==(const connection_close&, const connection_close&) = default;
};
struct connection_close_ok {
    AMQP_METHOD_TRAITS(10, 51, "connection.close-ok", true, false);
    friend bool operator==(const connection_close_ok&, const connection_close_ok&) = default;
};
/// RabbitMQ extension: the broker stopped reading from publishers (resource alarm).
struct connection_blocked {
    AMQP_METHOD_TRAITS(10, 60, "connection.blocked", false, false);
    std::string_view reason;
    friend bool operator==(const connection_blocked&, const connection_blocked&) = default;
};
struct connection_unblocked {
    AMQP_METHOD_TRAITS(10, 61, "connection.unblocked", false, false);
    friend bool operator==(const connection_unblocked&, const connection_unblocked&) = default;
};

// ---- channel (class 20) ---------------------------------------------------------------------

struct channel_open {
    AMQP_METHOD_TRAITS(20, 10, "channel.open", true, false);
    std::string_view reserved_1;  ///< shortstr "out-of-band"
    friend bool operator==(const channel_open&, const channel_open&) = default;
};
struct channel_open_ok {
    AMQP_METHOD_TRAITS(20, 11, "channel.open-ok", true, false);
    std::string_view reserved_1;  ///< longstr "channel-id"
    friend bool operator==(const channel_open_ok&, const channel_open_ok&) = default;
};
struct channel_flow {
    AMQP_METHOD_TRAITS(20, 20, "channel.flow", true, false);
    bool active = true;
    friend bool operator==(const channel_flow&, const channel_flow&) = default;
};
struct channel_flow_ok {
    AMQP_METHOD_TRAITS(20, 21, "channel.flow-ok", false, false);
    bool active = true;
    friend bool operator==(const channel_flow_ok&, const channel_flow_ok&) = default;
};
struct channel_close {
    AMQP_METHOD_TRAITS(20, 40, "channel.close", true, false);
    std::uint16_t reply_code = 0;
    std::string_view reply_text;
    std::uint16_t class_id = 0;
    std::uint16_t method_id = 0;
    friend bool operator==(const channel_close&, const channel_close&) = default;
};
struct channel_close_ok {
    AMQP_METHOD_TRAITS(20, 41, "channel.close-ok", true, false);
    friend bool operator==(const channel_close_ok&, const channel_close_ok&) = default;
};

// ---- exchange (class 40) --------------------------------------------------------------------

struct exchange_declare {
    AMQP_METHOD_TRAITS(40, 10, "exchange.declare", true, false);
    std::uint16_t reserved_1 = 0;  ///< "ticket"
    std::string_view exchange;
    std::string_view type = "direct";  ///< "direct", "fanout", "topic", "headers", or a plugin's type
    bool passive = false;
    bool durable = false;
    bool auto_delete = false;  ///< RabbitMQ's meaning of 0-9-1's reserved-2 (the extended XML's name)
    bool internal = false;     ///< RabbitMQ's meaning of reserved-3: no direct publishing
    bool no_wait = false;
    table_view arguments;  ///< e.g. alternate-exchange
    friend bool operator==(const exchange_declare&, const exchange_declare&) = default;
};
struct exchange_declare_ok {
    AMQP_METHOD_TRAITS(40, 11, "exchange.declare-ok", true, false);
    friend bool operator==(const exchange_declare_ok&, const exchange_declare_ok&) = default;
};
struct exchange_delete {
    AMQP_METHOD_TRAITS(40, 20, "exchange.delete", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view exchange;
    bool if_unused = false;
    bool no_wait = false;
    friend bool operator==(const exchange_delete&, const exchange_delete&) = default;
};
struct exchange_delete_ok {
    AMQP_METHOD_TRAITS(40, 21, "exchange.delete-ok", true, false);
    friend bool operator==(const exchange_delete_ok&, const exchange_delete_ok&) = default;
};

// ---- queue (class 50) -----------------------------------------------------------------------

struct queue_declare {
    AMQP_METHOD_TRAITS(50, 10, "queue.declare", true, false);
    std::uint16_t reserved_1 = 0;  ///< "ticket"
    std::string_view queue;        ///< empty: the broker names the queue
    bool passive = false;
    bool durable = false;
    bool exclusive = false;
    bool auto_delete = false;
    bool no_wait = false;
    table_view arguments;  ///< e.g. x-expires, x-queue-type
    friend bool operator==(const queue_declare&, const queue_declare&) = default;
};
struct queue_declare_ok {
    AMQP_METHOD_TRAITS(50, 11, "queue.declare-ok", true, false);
    std::string_view queue;
    std::uint32_t message_count = 0;
    std::uint32_t consumer_count = 0;
    friend bool operator==(const queue_declare_ok&, const queue_declare_ok&) = default;
};
struct queue_bind {
    AMQP_METHOD_TRAITS(50, 20, "queue.bind", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    std::string_view exchange;
    std::string_view routing_key;  ///< the binding key; a topic exchange matches it as a pattern
    bool no_wait = false;
    table_view arguments;  ///< e.g. x-match for a headers exchange
    friend bool operator==(const queue_bind&, const queue_bind&) = default;
};
struct queue_bind_ok {
    AMQP_METHOD_TRAITS(50, 21, "queue.bind-ok", true, false);
    friend bool operator==(const queue_bind_ok&, const queue_bind_ok&) = default;
};
/// Has no no-wait argument, unlike queue.bind.
struct queue_unbind {
    AMQP_METHOD_TRAITS(50, 50, "queue.unbind", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    std::string_view exchange;
    std::string_view routing_key;
    table_view arguments;
    friend bool operator==(const queue_unbind&, const queue_unbind&) = default;
};
struct queue_unbind_ok {
    AMQP_METHOD_TRAITS(50, 51, "queue.unbind-ok", true, false);
    friend bool operator==(const queue_unbind_ok&, const queue_unbind_ok&) = default;
};
struct queue_purge {
    AMQP_METHOD_TRAITS(50, 30, "queue.purge", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    bool no_wait = false;
    friend bool operator==(const queue_purge&, const queue_purge&) = default;
};
struct queue_purge_ok {
    AMQP_METHOD_TRAITS(50, 31, "queue.purge-ok", true, false);
    std::uint32_t message_count = 0;
    friend bool operator==(const queue_purge_ok&, const queue_purge_ok&) = default;
};
struct queue_delete {
    AMQP_METHOD_TRAITS(50, 40, "queue.delete", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    bool if_unused = false;
    bool if_empty = false;
    bool no_wait = false;
    friend bool operator==(const queue_delete&, const queue_delete&) = default;
};
struct queue_delete_ok {
    AMQP_METHOD_TRAITS(50, 41, "queue.delete-ok", true, false);
    std::uint32_t message_count = 0;
    friend bool operator==(const queue_delete_ok&, const queue_delete_ok&) = default;
};

// ---- basic (class 60) -----------------------------------------------------------------------

struct basic_qos {
    AMQP_METHOD_TRAITS(60, 10, "basic.qos", true, false);
    std::uint32_t prefetch_size = 0;
    std::uint16_t prefetch_count = 0;
    bool global = false;
    friend bool operator==(const basic_qos&, const basic_qos&) = default;
};
struct basic_qos_ok {
    AMQP_METHOD_TRAITS(60, 11, "basic.qos-ok", true, false);
    friend bool operator==(const basic_qos_ok&, const basic_qos_ok&) = default;
};
struct basic_consume {
    AMQP_METHOD_TRAITS(60, 20, "basic.consume", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    std::string_view consumer_tag;  ///< empty: the broker picks one
    bool no_local = false;
    bool no_ack = false;
    bool exclusive = false;
    bool no_wait = false;
    table_view arguments;
    friend bool operator==(const basic_consume&, const basic_consume&) = default;
};
struct basic_consume_ok {
    AMQP_METHOD_TRAITS(60, 21, "basic.consume-ok", true, false);
    std::string_view consumer_tag;
    friend bool operator==(const basic_consume_ok&, const basic_consume_ok&) = default;
};
/// Sent by the client to stop a consumer, and by RabbitMQ when the queue goes away
/// (capability consumer_cancel_notify).
struct basic_cancel {
    AMQP_METHOD_TRAITS(60, 30, "basic.cancel", true, false);
    std::string_view consumer_tag;
    bool no_wait = false;
    friend bool operator==(const basic_cancel&, const basic_cancel&) = default;
};
struct basic_cancel_ok {
    AMQP_METHOD_TRAITS(60, 31, "basic.cancel-ok", true, false);
    std::string_view consumer_tag;
    friend bool operator==(const basic_cancel_ok&, const basic_cancel_ok&) = default;
};
struct basic_publish {
    AMQP_METHOD_TRAITS(60, 40, "basic.publish", false, true);
    std::uint16_t reserved_1 = 0;
    std::string_view exchange;  ///< "" is the default exchange: routing_key names the queue
    std::string_view routing_key;
    bool mandatory = false;  ///< unroutable → basic.return with 312 NO_ROUTE
    bool immediate = false;  ///< not supported by RabbitMQ 3.x (it closes the connection)
    friend bool operator==(const basic_publish&, const basic_publish&) = default;
};
struct basic_return {
    AMQP_METHOD_TRAITS(60, 50, "basic.return", false, true);
    std::uint16_t reply_code = 0;
    std::string_view reply_text;
    std::string_view exchange;
    std::string_view routing_key;
    friend bool operator==(const basic_return&, const basic_return&) = default;
};
struct basic_deliver {
    AMQP_METHOD_TRAITS(60, 60, "basic.deliver", false, true);
    std::string_view consumer_tag;
    std::uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::string_view exchange;
    std::string_view routing_key;
    friend bool operator==(const basic_deliver&, const basic_deliver&) = default;
};
struct basic_get {
    AMQP_METHOD_TRAITS(60, 70, "basic.get", true, false);
    std::uint16_t reserved_1 = 0;
    std::string_view queue;
    bool no_ack = false;
    friend bool operator==(const basic_get&, const basic_get&) = default;
};
struct basic_get_ok {
    AMQP_METHOD_TRAITS(60, 71, "basic.get-ok", true, true);
    std::uint64_t delivery_tag = 0;
    bool redelivered = false;
    std::string_view exchange;
    std::string_view routing_key;
    std::uint32_t message_count = 0;
    friend bool operator==(const basic_get_ok&, const basic_get_ok&) = default;
};
struct basic_get_empty {
    AMQP_METHOD_TRAITS(60, 72, "basic.get-empty", true, false);
    std::string_view reserved_1;  ///< "cluster-id"
    friend bool operator==(const basic_get_empty&, const basic_get_empty&) = default;
};
struct basic_ack {
    AMQP_METHOD_TRAITS(60, 80, "basic.ack", false, false);
    std::uint64_t delivery_tag = 0;
    bool multiple = false;
    friend bool operator==(const basic_ack&, const basic_ack&) = default;
};
struct basic_reject {
    AMQP_METHOD_TRAITS(60, 90, "basic.reject", false, false);
    std::uint64_t delivery_tag = 0;
    bool requeue = true;
    friend bool operator==(const basic_reject&, const basic_reject&) = default;
};
struct basic_recover {
    AMQP_METHOD_TRAITS(60, 110, "basic.recover", true, false);
    bool requeue = false;
    friend bool operator==(const basic_recover&, const basic_recover&) = default;
};
struct basic_recover_ok {
    AMQP_METHOD_TRAITS(60, 111, "basic.recover-ok", true, false);
    friend bool operator==(const basic_recover_ok&, const basic_recover_ok&) = default;
};
/// RabbitMQ extension (capability basic.nack).
struct basic_nack {
    AMQP_METHOD_TRAITS(60, 120, "basic.nack", false, false);
    std::uint64_t delivery_tag = 0;
    bool multiple = false;
    bool requeue = true;
    friend bool operator==(const basic_nack&, const basic_nack&) = default;
};

// ---- confirm (class 85, RabbitMQ extension) -------------------------------------------------

struct confirm_select {
    AMQP_METHOD_TRAITS(85, 10, "confirm.select", true, false);
    bool no_wait = false;
    friend bool operator==(const confirm_select&, const confirm_select&) = default;
};
struct confirm_select_ok {
    AMQP_METHOD_TRAITS(85, 11, "confirm.select-ok", true, false);
    friend bool operator==(const confirm_select_ok&, const confirm_select_ok&) = default;
};

#undef AMQP_METHOD_TRAITS

/// Any method we know. Decoding an id pair not in this list is a 540 NOT_IMPLEMENTED error.
using method = std::variant<
    connection_start, connection_start_ok, connection_secure, connection_secure_ok, connection_tune,
    connection_tune_ok, connection_open, connection_open_ok, connection_close, connection_close_ok,
    connection_blocked, connection_unblocked,
    channel_open, channel_open_ok, channel_flow, channel_flow_ok, channel_close, channel_close_ok,
    exchange_declare, exchange_declare_ok, exchange_delete, exchange_delete_ok,
    queue_declare, queue_declare_ok, queue_bind, queue_bind_ok, queue_unbind, queue_unbind_ok,
    queue_purge, queue_purge_ok, queue_delete, queue_delete_ok,
    basic_qos, basic_qos_ok, basic_consume, basic_consume_ok, basic_cancel, basic_cancel_ok,
    basic_publish, basic_return, basic_deliver, basic_get, basic_get_ok, basic_get_empty, basic_ack,
    basic_reject, basic_recover, basic_recover_ok, basic_nack,
    confirm_select, confirm_select_ok>;

/// "basic.deliver" etc.
std::string_view method_name(const method& m) noexcept;
/// Name for an id pair, or an empty view if we do not know the method.
std::string_view method_name(std::uint16_t class_id, std::uint16_t method_id) noexcept;
std::uint16_t method_class_id(const method& m) noexcept;
std::uint16_t method_method_id(const method& m) noexcept;
/// True when a content header and body frames follow this method.
bool method_has_content(const method& m) noexcept;

/// Decode a method frame's payload (class id, method id, arguments). Views in `out` point into
/// `payload`. Errors (with `diag` filled): payload shorter than 4 bytes or an argument running
/// past the end → 502 SYNTAX_ERROR (501 FRAME_ERROR when shorter than 4); unknown class/method
/// → 540 NOT_IMPLEMENTED; a field table that does not validate → 502; trailing bytes after
/// the last argument → 502. No allocation.
error_code decode_method(bytes_view payload, method& out, diagnostics& diag) noexcept;

/// Size in bytes of the method payload `encode_method` writes (ids + arguments).
std::size_t method_payload_size(const method& m) noexcept;

/// Write the method payload at `out`, which has room for `method_payload_size(m)` bytes.
/// Returns 502 SYNTAX_ERROR (and writes nothing meaningful) if a shortstr exceeds 255 bytes.
error_code encode_method(const method& m, std::uint8_t* out) noexcept;

}  // namespace amqp
