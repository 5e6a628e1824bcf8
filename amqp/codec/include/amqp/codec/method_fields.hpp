// A compile-time description of every method's arguments, in wire order, with the spec XML's
// argument names. The codec's decoder, encoder and size computation are all driven by it, so
// there is exactly one place that says what a method looks like on the wire; tracers and tests
// (the spec cross-check) can walk it too. The walk throws nothing and touches only what the
// visitor does, so its errors and threading are the visitor's.
#pragma once

#include <amqp/codec/methods.hpp>

#include <concepts>
#include <type_traits>

namespace amqp {

/// A visitor for `for_each_field` provides, for const or non-const references:
///
///     v.u8(name, std::uint8_t&)       // octet
///     v.u16(name, std::uint16_t&)     // short
///     v.u32(name, std::uint32_t&)     // long
///     v.u64(name, std::uint64_t&)     // longlong
///     v.bit(name, bool&)              // bit (consecutive bits share octets, low bit first)
///     v.shortstr(name, std::string_view&)
///     v.longstr(name, std::string_view&)
///     v.table(name, table_view&)
///
/// `name` is the spec's argument name ("consumer-tag"), a string literal. A visitor may stop
/// early by returning false from any call (the walk stops at the first false); calls that
/// return void count as true.
#define AMQP_FIELDS(T)                                                       \
    template <class M, class V>                                              \
        requires std::same_as<std::remove_const_t<M>, T>                     \
    constexpr bool for_each_field(M& m, V&& v)
// Each field expands to a call whose result (if not void) decides whether to go on. No lambda
// in between, so nothing stands in the way of inlining the visitor.
#define AMQP_F(KIND, NAME, MEMBER)                                           \
    if constexpr (std::is_void_v<decltype(v.KIND(NAME, m.MEMBER))>) {        \
        v.KIND(NAME, m.MEMBER);                                              \
    } else if (!v.KIND(NAME, m.MEMBER)) {                                    \
        return false;                                                        \
    }
#define AMQP_END return true

// ---- connection -------------------------------------------------------------------------------
AMQP_FIELDS(connection_start) {
    AMQP_F(u8, "version-major", version_major);
    AMQP_F(u8, "version-minor", version_minor);
    AMQP_F(table, "server-properties", server_properties);
    AMQP_F(longstr, "mechanisms", mechanisms);
    AMQP_F(longstr, "locales", locales);
    AMQP_END;
}
AMQP_FIELDS(connection_start_ok) {
    AMQP_F(table, "client-properties", client_properties);
    AMQP_F(shortstr, "mechanism", mechanism);
    AMQP_F(longstr, "response", response);
    AMQP_F(shortstr, "locale", locale);
    AMQP_END;
}
AMQP_FIELDS(connection_secure) {
    AMQP_F(longstr, "challenge", challenge);
    AMQP_END;
}
AMQP_FIELDS(connection_secure_ok) {
    AMQP_F(longstr, "response", response);
    AMQP_END;
}
AMQP_FIELDS(connection_tune) {
    AMQP_F(u16, "channel-max", channel_max);
    AMQP_F(u32, "frame-max", frame_max);
    AMQP_F(u16, "heartbeat", heartbeat);
    AMQP_END;
}
AMQP_FIELDS(connection_tune_ok) {
    AMQP_F(u16, "channel-max", channel_max);
    AMQP_F(u32, "frame-max", frame_max);
    AMQP_F(u16, "heartbeat", heartbeat);
    AMQP_END;
}
AMQP_FIELDS(connection_open) {
    AMQP_F(shortstr, "virtual-host", virtual_host);
    AMQP_F(shortstr, "reserved-1", reserved_1);
    AMQP_F(bit, "reserved-2", reserved_2);
    AMQP_END;
}
AMQP_FIELDS(connection_open_ok) {
    AMQP_F(shortstr, "reserved-1", reserved_1);
    AMQP_END;
}
AMQP_FIELDS(connection_close) {
    AMQP_F(u16, "reply-code", reply_code);
    AMQP_F(shortstr, "reply-text", reply_text);
    AMQP_F(u16, "class-id", class_id);
    AMQP_F(u16, "method-id", method_id);
    AMQP_END;
}
AMQP_FIELDS(connection_close_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(connection_blocked) {
    AMQP_F(shortstr, "reason", reason);
    AMQP_END;
}
AMQP_FIELDS(connection_unblocked) { (void)m; (void)v; AMQP_END; }

// ---- channel ----------------------------------------------------------------------------------
AMQP_FIELDS(channel_open) {
    AMQP_F(shortstr, "reserved-1", reserved_1);
    AMQP_END;
}
AMQP_FIELDS(channel_open_ok) {
    AMQP_F(longstr, "reserved-1", reserved_1);
    AMQP_END;
}
AMQP_FIELDS(channel_flow) {
    AMQP_F(bit, "active", active);
    AMQP_END;
}
AMQP_FIELDS(channel_flow_ok) {
    AMQP_F(bit, "active", active);
    AMQP_END;
}
AMQP_FIELDS(channel_close) {
    AMQP_F(u16, "reply-code", reply_code);
    AMQP_F(shortstr, "reply-text", reply_text);
    AMQP_F(u16, "class-id", class_id);
    AMQP_F(u16, "method-id", method_id);
    AMQP_END;
}
AMQP_FIELDS(channel_close_ok) { (void)m; (void)v; AMQP_END; }

// ---- exchange ---------------------------------------------------------------------------------
AMQP_FIELDS(exchange_declare) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "type", type);
    AMQP_F(bit, "passive", passive);
    AMQP_F(bit, "durable", durable);
    AMQP_F(bit, "auto-delete", auto_delete);
    AMQP_F(bit, "internal", internal);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_F(table, "arguments", arguments);
    AMQP_END;
}
AMQP_FIELDS(exchange_declare_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(exchange_delete) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(bit, "if-unused", if_unused);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_END;
}
AMQP_FIELDS(exchange_delete_ok) { (void)m; (void)v; AMQP_END; }

// ---- queue ------------------------------------------------------------------------------------
AMQP_FIELDS(queue_declare) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(bit, "passive", passive);
    AMQP_F(bit, "durable", durable);
    AMQP_F(bit, "exclusive", exclusive);
    AMQP_F(bit, "auto-delete", auto_delete);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_F(table, "arguments", arguments);
    AMQP_END;
}
AMQP_FIELDS(queue_declare_ok) {
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(u32, "message-count", message_count);
    AMQP_F(u32, "consumer-count", consumer_count);
    AMQP_END;
}
AMQP_FIELDS(queue_bind) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_F(table, "arguments", arguments);
    AMQP_END;
}
AMQP_FIELDS(queue_bind_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(queue_unbind) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_F(table, "arguments", arguments);
    AMQP_END;
}
AMQP_FIELDS(queue_unbind_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(queue_purge) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_END;
}
AMQP_FIELDS(queue_purge_ok) {
    AMQP_F(u32, "message-count", message_count);
    AMQP_END;
}
AMQP_FIELDS(queue_delete) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(bit, "if-unused", if_unused);
    AMQP_F(bit, "if-empty", if_empty);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_END;
}
AMQP_FIELDS(queue_delete_ok) {
    AMQP_F(u32, "message-count", message_count);
    AMQP_END;
}

// ---- basic ------------------------------------------------------------------------------------
AMQP_FIELDS(basic_qos) {
    AMQP_F(u32, "prefetch-size", prefetch_size);
    AMQP_F(u16, "prefetch-count", prefetch_count);
    AMQP_F(bit, "global", global);
    AMQP_END;
}
AMQP_FIELDS(basic_qos_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(basic_consume) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(shortstr, "consumer-tag", consumer_tag);
    AMQP_F(bit, "no-local", no_local);
    AMQP_F(bit, "no-ack", no_ack);
    AMQP_F(bit, "exclusive", exclusive);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_F(table, "arguments", arguments);
    AMQP_END;
}
AMQP_FIELDS(basic_consume_ok) {
    AMQP_F(shortstr, "consumer-tag", consumer_tag);
    AMQP_END;
}
AMQP_FIELDS(basic_cancel) {
    AMQP_F(shortstr, "consumer-tag", consumer_tag);
    AMQP_F(bit, "no-wait", no_wait);
    AMQP_END;
}
AMQP_FIELDS(basic_cancel_ok) {
    AMQP_F(shortstr, "consumer-tag", consumer_tag);
    AMQP_END;
}
AMQP_FIELDS(basic_publish) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_F(bit, "mandatory", mandatory);
    AMQP_F(bit, "immediate", immediate);
    AMQP_END;
}
AMQP_FIELDS(basic_return) {
    AMQP_F(u16, "reply-code", reply_code);
    AMQP_F(shortstr, "reply-text", reply_text);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_END;
}
AMQP_FIELDS(basic_deliver) {
    AMQP_F(shortstr, "consumer-tag", consumer_tag);
    AMQP_F(u64, "delivery-tag", delivery_tag);
    AMQP_F(bit, "redelivered", redelivered);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_END;
}
AMQP_FIELDS(basic_get) {
    AMQP_F(u16, "reserved-1", reserved_1);
    AMQP_F(shortstr, "queue", queue);
    AMQP_F(bit, "no-ack", no_ack);
    AMQP_END;
}
AMQP_FIELDS(basic_get_ok) {
    AMQP_F(u64, "delivery-tag", delivery_tag);
    AMQP_F(bit, "redelivered", redelivered);
    AMQP_F(shortstr, "exchange", exchange);
    AMQP_F(shortstr, "routing-key", routing_key);
    AMQP_F(u32, "message-count", message_count);
    AMQP_END;
}
AMQP_FIELDS(basic_get_empty) {
    AMQP_F(shortstr, "reserved-1", reserved_1);
    AMQP_END;
}
AMQP_FIELDS(basic_ack) {
    AMQP_F(u64, "delivery-tag", delivery_tag);
    AMQP_F(bit, "multiple", multiple);
    AMQP_END;
}
AMQP_FIELDS(basic_reject) {
    AMQP_F(u64, "delivery-tag", delivery_tag);
    AMQP_F(bit, "requeue", requeue);
    AMQP_END;
}
AMQP_FIELDS(basic_recover) {
    AMQP_F(bit, "requeue", requeue);
    AMQP_END;
}
AMQP_FIELDS(basic_recover_ok) { (void)m; (void)v; AMQP_END; }
AMQP_FIELDS(basic_nack) {
    AMQP_F(u64, "delivery-tag", delivery_tag);
    AMQP_F(bit, "multiple", multiple);
    AMQP_F(bit, "requeue", requeue);
    AMQP_END;
}

// ---- confirm ----------------------------------------------------------------------------------
AMQP_FIELDS(confirm_select) {
    AMQP_F(bit, "nowait", no_wait);  // the XML spells it "nowait" here, unlike other classes
    AMQP_END;
}
AMQP_FIELDS(confirm_select_ok) { (void)m; (void)v; AMQP_END; }

#undef AMQP_FIELDS
#undef AMQP_F
#undef AMQP_END

}  // namespace amqp
