// Method payloads: class id, method id, then the arguments described in method_fields.hpp.
#include "method_codec.hpp"
#include "wire_reader.hpp"
#include <amqp/codec/detail/wire_writer.hpp>

#include <amqp/codec/method_fields.hpp>
#include <amqp/codec/methods.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <utility>

namespace amqp {
namespace detail {

namespace {
// "<method>.<argument>", the field a failed argument names.
void set_arg_field(diagnostics& diag, std::string_view method, const char* arg) {
    diag.field.assign(method);
    diag.field += '.';
    diag.field += arg;
}
}  // namespace

error_code arg_fail(diagnostics& diag, std::string_view method, const char* arg, std::size_t offset,
                    arg_fault f) noexcept {
    // By arg_fault: what ran past the end.
    static constexpr const char* what[] = {"octet",   "short",    "long",      "longlong",
                                           "shortstr", "longstr", "bit octet", "table length"};
    static_assert(std::size(what) == static_cast<std::size_t>(arg_fault::table_length) + 1);
    diag.message = what[static_cast<std::size_t>(f)];
    diag.message += " runs past the end of the payload";
    diag.offset = offset;
    set_arg_field(diag, method, arg);
    return reply_code::syntax_error;
}

error_code table_arg_fail(diagnostics& diag, std::string_view method, const char* arg, std::size_t offset) noexcept {
    // validate_table's offsets are relative to the table body; make them payload offsets.
    diag.offset += offset + 4;
    std::string inner = std::move(diag.field);
    set_arg_field(diag, method, arg);
    if (!inner.empty()) {
        diag.field += '.';
        diag.field += inner;
    }
    return reply_code::syntax_error;
}

}  // namespace detail

namespace {

constexpr std::uint32_t key_of(std::uint16_t class_id, std::uint16_t method_id) noexcept {
    return (std::uint32_t{class_id} << 16) | method_id;
}

template <class T>
constexpr std::uint32_t key_of() noexcept {
    return key_of(T::class_index, T::method_index);
}

constexpr std::size_t method_count = std::variant_size_v<method>;

struct key_entry {
    std::uint32_t key;
    std::uint8_t index;  // alternative of `method`
};

// Sorted (key, alternative) pairs, built at compile time from the structs' own ids, so the id
// lookup cannot drift from the declarations.
template <std::size_t... I>
constexpr std::array<key_entry, method_count> make_keys(std::index_sequence<I...>) {
    std::array<key_entry, method_count> a{
        {{key_of<std::variant_alternative_t<I, method>>(), static_cast<std::uint8_t>(I)}...}};
    std::sort(a.begin(), a.end(), [](const key_entry& x, const key_entry& y) { return x.key < y.key; });
    return a;
}
constexpr auto keys = make_keys(std::make_index_sequence<method_count>{});

static_assert(
    [] {
        for (std::size_t i = 1; i < keys.size(); ++i)
            if (keys[i - 1].key == keys[i].key) return false;
        return true;
    }(),
    "two methods share a class/method id");

// Alternative index for an id pair, or method_count if unknown.
std::size_t find_alternative(std::uint16_t class_id, std::uint16_t method_id) noexcept {
    const std::uint32_t k = key_of(class_id, method_id);
    const auto* it = std::lower_bound(keys.begin(), keys.end(), k,
                                      [](const key_entry& e, std::uint32_t v) { return e.key < v; });
    return (it != keys.end() && it->key == k) ? it->index : method_count;
}

// Error paths: out of line and cold, formatting only here, so the hot path carries no strings.
[[gnu::cold, gnu::noinline]] error_code trailing_bytes(diagnostics& diag, std::size_t offset, std::size_t n,
                                                       std::string_view method) noexcept {
    diag.message = std::to_string(n) + " trailing byte(s) after the last argument";
    diag.offset = offset;
    diag.field.assign(method);
    return reply_code::syntax_error;
}
[[gnu::cold, gnu::noinline]] error_code too_short(diagnostics& diag, std::size_t size) noexcept {
    diag.message = "method payload of " + std::to_string(size) +
                   " byte(s) is shorter than the 4-byte class and method ids";
    diag.offset = 0;
    diag.field = "method";
    return reply_code::frame_error;
}
[[gnu::cold, gnu::noinline]] error_code unknown_method(diagnostics& diag, std::uint16_t class_id,
                                                       std::uint16_t method_id) noexcept {
    diag.message = "unknown method " + std::to_string(class_id) + "." + std::to_string(method_id);
    diag.offset = 0;
    diag.field = "method";
    return reply_code::not_implemented;
}

// Takes the payload, not the caller's reader: a reader passed by reference to a call that is
// not inlined lives in memory, and each argument then stores its position back. The struct is
// decoded in a local (registers) and stored once, rather than zeroed in `out` and overwritten.
template <class T>
error_code decode_as(bytes_view payload, method& out, diagnostics& diag) noexcept {
    detail::wire_reader r(payload);
    r.skip(4);  // the ids, read by the caller
    T m{};
    detail::method_decoder d(r, T::name, diag);
    const bool ok = for_each_field(m, d);
    out.emplace<T>(m);
    if (!ok) [[unlikely]]
        return d.error();
    if (!r.at_end()) [[unlikely]]
        return trailing_bytes(diag, r.offset(), r.remaining(), T::name);
    return {};
}

template <std::size_t... I>
constexpr std::array<std::string_view, method_count> make_names(std::index_sequence<I...>) {
    return {{std::variant_alternative_t<I, method>::name...}};
}
constexpr auto names = make_names(std::make_index_sequence<method_count>{});

}  // namespace

std::string_view method_name(const method& m) noexcept { return names[m.index()]; }

std::string_view method_name(std::uint16_t class_id, std::uint16_t method_id) noexcept {
    const std::size_t i = find_alternative(class_id, method_id);
    return i < method_count ? names[i] : std::string_view{};
}

std::uint16_t method_class_id(const method& m) noexcept {
    return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::class_index; }, m);
}
std::uint16_t method_method_id(const method& m) noexcept {
    return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::method_index; }, m);
}
bool method_has_content(const method& m) noexcept {
    return std::visit([](const auto& x) { return std::remove_cvref_t<decltype(x)>::has_content; }, m);
}

namespace {

// Every method but the fast-pathed basic.deliver. Out of line, so that its frame (the inlined
// decoders of forty methods need a large one) is not set up for basic.deliver.
[[gnu::noinline]] error_code decode_any_method(bytes_view payload, method& out, diagnostics& diag) noexcept {
    detail::wire_reader r(payload);
    std::uint16_t class_id = 0;
    std::uint16_t method_id = 0;
    if (!r.u16(class_id) || !r.u16(method_id)) [[unlikely]]
        return too_short(diag, payload.size());
    // Switches rather than the sorted table: one per level keeps each dense enough for a jump
    // table, and each decoder is inlined (the table lookup plus indirect call was a fifth of
    // a deliver's decode time). A missing case shows up as 540 in the golden tests; a
    // duplicate does not compile.
#define AMQP_CASE(T) \
    case T::method_index: return decode_as<T>(payload, out, diag);
    switch (class_id) {
        case 10:
            switch (method_id) {
                AMQP_CASE(connection_start) AMQP_CASE(connection_start_ok) AMQP_CASE(connection_secure)
                AMQP_CASE(connection_secure_ok) AMQP_CASE(connection_tune) AMQP_CASE(connection_tune_ok)
                AMQP_CASE(connection_open) AMQP_CASE(connection_open_ok) AMQP_CASE(connection_close)
                AMQP_CASE(connection_close_ok) AMQP_CASE(connection_blocked) AMQP_CASE(connection_unblocked)
            }
            break;
        case 20:
            switch (method_id) {
                AMQP_CASE(channel_open) AMQP_CASE(channel_open_ok) AMQP_CASE(channel_flow)
                AMQP_CASE(channel_flow_ok) AMQP_CASE(channel_close) AMQP_CASE(channel_close_ok)
            }
            break;
        case 40:
            switch (method_id) {
                AMQP_CASE(exchange_declare) AMQP_CASE(exchange_declare_ok) AMQP_CASE(exchange_delete)
                AMQP_CASE(exchange_delete_ok)
            }
            break;
        case 50:
            switch (method_id) {
                AMQP_CASE(queue_declare) AMQP_CASE(queue_declare_ok) AMQP_CASE(queue_bind) AMQP_CASE(queue_bind_ok)
                AMQP_CASE(queue_unbind) AMQP_CASE(queue_unbind_ok) AMQP_CASE(queue_purge) AMQP_CASE(queue_purge_ok)
                AMQP_CASE(queue_delete) AMQP_CASE(queue_delete_ok)
            }
            break;
        case 60:
            switch (method_id) {
                AMQP_CASE(basic_qos) AMQP_CASE(basic_qos_ok) AMQP_CASE(basic_consume) AMQP_CASE(basic_consume_ok)
                AMQP_CASE(basic_cancel) AMQP_CASE(basic_cancel_ok) AMQP_CASE(basic_publish) AMQP_CASE(basic_return)
                AMQP_CASE(basic_deliver) AMQP_CASE(basic_get) AMQP_CASE(basic_get_ok) AMQP_CASE(basic_get_empty)
                AMQP_CASE(basic_ack) AMQP_CASE(basic_reject) AMQP_CASE(basic_recover) AMQP_CASE(basic_recover_ok)
                AMQP_CASE(basic_nack)
            }
            break;
        case 85:
            switch (method_id) { AMQP_CASE(confirm_select) AMQP_CASE(confirm_select_ok) }
            break;
    }
    return unknown_method(diag, class_id, method_id);
#undef AMQP_CASE
}

}  // namespace

error_code decode_method(bytes_view payload, method& out, diagnostics& diag) noexcept {
    // basic.deliver is the method that arrives with every consumed message: one compare
    // ahead of the id switches (two jump tables) takes it straight to its decoder.
    constexpr std::uint32_t deliver_ids =
        (std::uint32_t{basic_deliver::class_index} << 16) | basic_deliver::method_index;
    if (payload.size() >= 4 && boost::endian::load_big_u32(payload.data()) == deliver_ids) [[likely]]
        return decode_as<basic_deliver>(payload, out, diag);
    return decode_any_method(payload, out, diag);
}

std::size_t method_payload_size(const method& m) noexcept {
    return std::visit([](const auto& x) { return detail::method_size(x); }, m);
}

error_code encode_method(const method& m, std::uint8_t* out) noexcept {
    return std::visit(
        [out](const auto& x) -> error_code {
            if (!detail::method_encodable(x)) return reply_code::syntax_error;
            detail::write_method(x, out);
            return {};
        },
        m);
}

}  // namespace amqp
