// Content header payloads: class id, weight, body size, property flags, then the present
// basic properties in flag order (bit 15 first).
#include "properties_codec.hpp"
#include "wire_reader.hpp"
#include <amqp/codec/detail/wire_writer.hpp>

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/properties.hpp>

#include <limits>
#include <memory>
#include <string>
#include <type_traits>

namespace amqp {
namespace {

constexpr std::uint16_t known_flags = 0xFFFC;  // bits 15..2
using detail::fixed_part;

// Error paths: out of line and cold, and given only values. If the decoder's address reached
// a call, its reader would live in memory and every property would store its position back.
[[gnu::cold, gnu::noinline]] void property_fail(diagnostics& diag, const char* n, std::size_t at,
                                                const char* msg) noexcept {
    diag.message = msg;
    diag.offset = at;
    diag.field = "basic.properties.";
    diag.field += n;
}
[[gnu::cold, gnu::noinline]] void property_table_fail(diagnostics& diag, const char* n, std::size_t at) noexcept {
    diag.offset += at + 4;  // validate_table's offsets are relative to the table body
    std::string inner = std::move(diag.field);
    diag.field = "basic.properties.";
    diag.field += n;
    if (!inner.empty()) {
        diag.field += '.';
        diag.field += inner;
    }
}

class property_decoder {
public:
    // `skipped` null: strict. Otherwise a table that is well framed (its length fits the payload)
    // but does not validate is left out and described in `*skipped`, and decoding goes on.
    property_decoder(detail::wire_reader& r, std::uint16_t flags, diagnostics& diag,
                     diagnostics* skipped = nullptr) noexcept
        : r_(r), flags_(flags), diag_(diag), skipped_(skipped) {}

    // Each property is reset first, unconditionally, rather than by assigning a fresh
    // basic_properties (which zeroed and copied ~300 bytes per header); then the present
    // ones, usually few, are read off the fall-through path's side branches.
    [[gnu::always_inline]] bool shortstr(int bit, const char* n, std::optional<std::string_view>& p) noexcept {
        absent(p);
        if (!present(bit)) [[likely]]
            return true;
        std::string_view s;
        if (!r_.shortstr(s)) [[unlikely]]
            return fail(n, r_.offset(), "shortstr runs past the end of the payload");
        return present_as(p, s);
    }
    [[gnu::always_inline]] bool u8(int bit, const char* n, std::optional<std::uint8_t>& p) noexcept {
        absent(p);
        if (!present(bit)) [[likely]]
            return true;
        std::uint8_t v = 0;
        if (!r_.u8(v)) [[unlikely]]
            return fail(n, r_.offset(), "octet runs past the end of the payload");
        return present_as(p, v);
    }
    [[gnu::always_inline]] bool u64(int bit, const char* n, std::optional<std::uint64_t>& p) noexcept {
        absent(p);
        if (!present(bit)) [[likely]]
            return true;
        std::uint64_t v = 0;
        if (!r_.u64(v)) [[unlikely]]
            return fail(n, r_.offset(), "timestamp runs past the end of the payload");
        return present_as(p, v);
    }
    [[gnu::always_inline]] bool table(int bit, const char* n, std::optional<table_view>& p) noexcept {
        absent(p);
        if (!present(bit)) [[likely]]
            return true;
        const std::size_t at = r_.offset();
        bytes_view raw;
        if (!r_.longbytes(raw)) [[unlikely]]
            return fail(n, at, "table length runs past the end of the payload");
        if (validate_table(raw, skipped_ ? *skipped_ : diag_)) [[unlikely]] {
            // Its length is known, so what follows it can still be read: the caller may skip it.
            property_table_fail(skipped_ ? *skipped_ : diag_, n, at);
            return skipped_ != nullptr;
        }
        return present_as(p, table_view{raw});
    }

private:
    [[gnu::always_inline]] bool present(int bit) const noexcept { return (flags_ >> bit) & 1u; }
    // A plain store of "disengaged": reset() tests the flag first, a load and a branch per
    // absent property. Fine for these optionals, which are trivially destructible.
    template <class T>
    [[gnu::always_inline]] static bool absent(std::optional<T>& p) noexcept {
        static_assert(std::is_trivially_destructible_v<std::optional<T>>);
        std::construct_at(&p);
        return true;
    }
    // Likewise a plain store of the value: assigning tests whether one was there before.
    template <class T>
    [[gnu::always_inline]] static bool present_as(std::optional<T>& p, const T& v) noexcept {
        std::construct_at(&p, v);
        return true;
    }
    [[gnu::always_inline]] bool fail(const char* n, std::size_t at, const char* msg) noexcept {
        property_fail(diag_, n, at, msg);
        return false;
    }
    detail::wire_reader& r_;
    std::uint16_t flags_;
    diagnostics& diag_;
    diagnostics* skipped_;
};

class flag_collector {
public:
    template <class T>
    bool shortstr(int bit, const char*, const std::optional<T>& p) noexcept {
        return add(bit, p.has_value());
    }
    template <class T>
    bool u8(int bit, const char*, const std::optional<T>& p) noexcept {
        return add(bit, p.has_value());
    }
    template <class T>
    bool u64(int bit, const char*, const std::optional<T>& p) noexcept {
        return add(bit, p.has_value());
    }
    template <class T>
    bool table(int bit, const char*, const std::optional<T>& p) noexcept {
        return add(bit, p.has_value());
    }
    std::uint16_t flags = 0;

private:
    bool add(int bit, bool present) noexcept {
        if (present) flags = static_cast<std::uint16_t>(flags | (1u << bit));
        return true;
    }
};

// Error paths: out of line and cold, formatting only here, so the hot path carries no strings.
enum class header_fault : std::uint8_t { short_payload, continuation, bit1, trailing };

[[gnu::cold, gnu::noinline]] error_code header_fail(diagnostics& diag, header_fault f, std::size_t offset,
                                                    std::size_t n) noexcept {
    diag.offset = offset;
    switch (f) {
        case header_fault::short_payload:
            diag.message = "content header payload of " + std::to_string(n) + " byte(s) is shorter than 14";
            diag.field = "content-header";
            return reply_code::frame_error;
        case header_fault::continuation:
            diag.message = "property flags continuation bit set";
            diag.field = "content-header.property-flags";
            break;
        case header_fault::bit1:
            diag.message = "property flag bit 1 set (no such basic property)";
            diag.field = "content-header.property-flags";
            break;
        case header_fault::trailing:
            diag.message = std::to_string(n) + " trailing byte(s) after the last property";
            diag.field = "content-header";
            break;
    }
    return reply_code::syntax_error;
}

}  // namespace

std::uint16_t basic_properties::flags() const noexcept {
    flag_collector c;
    detail::for_each_property(*this, c);
    return c.flags;
}

namespace {

// Both decoders: `skipped` null is the strict one.
[[gnu::always_inline]] inline error_code decode_header(bytes_view payload, content_header& out, diagnostics& diag,
                                                       diagnostics* skipped) noexcept {
    detail::wire_reader r(payload);
    std::uint16_t flags = 0;
    if (payload.size() < fixed_part) [[unlikely]]
        return header_fail(diag, header_fault::short_payload, 0, payload.size());
    r.u16(out.class_index);
    r.u16(out.weight);
    r.u64(out.body_size);
    r.u16(flags);
    if ((flags & ~known_flags) != 0) [[unlikely]]
        // Bit 0 would announce a second flags word (no class has more than 15 properties) and
        // bit 1 names no basic property; either way we could not re-encode what we read.
        return header_fail(diag, (flags & 1u) ? header_fault::continuation : header_fault::bit1, 12, 0);
    property_decoder d(r, flags, diag, skipped);
    if (!detail::for_each_property(out.properties, d)) return reply_code::syntax_error;
    if (!r.at_end()) [[unlikely]] {
        // Every property was read: the bytes after them are only ignored when salvaging.
        if (skipped == nullptr) return header_fail(diag, header_fault::trailing, r.offset(), r.remaining());
        if (skipped->message.empty()) (void)header_fail(*skipped, header_fault::trailing, r.offset(), r.remaining());
    }
    return {};
}

}  // namespace

error_code decode_content_header(bytes_view payload, content_header& out, diagnostics& diag) noexcept {
    return decode_header(payload, out, diag, nullptr);
}

error_code decode_content_header_salvaging(bytes_view payload, content_header& out, diagnostics& diag,
                                           diagnostics& skipped) noexcept {
    skipped.clear();
    return decode_header(payload, out, diag, &skipped);
}

std::size_t content_header_payload_size(const content_header& h) noexcept {
    detail::property_sizer s;
    detail::for_each_property(h.properties, s);
    return fixed_part + s.size();
}

error_code encode_content_header(const content_header& h, std::uint8_t* out) noexcept {
    if (detail::header_payload_size_checked(h.properties) == 0) return reply_code::syntax_error;
    detail::write_header_payload(out, h.class_index, h.weight, h.body_size, h.properties);
    return {};
}

}  // namespace amqp
