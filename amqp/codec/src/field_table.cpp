// Field tables and arrays: validation without allocation, decoding into the value model, and
// encoding. Nesting is bounded by max_table_depth, so the recursion depth is bounded too: a
// peer cannot make us overflow the stack (rabbitmq-c's oss-fuzz 56296 was exactly that).
#include "wire_reader.hpp"
#include <amqp/codec/detail/wire_writer.hpp>

#include <amqp/codec/field_table.hpp>

#include <array>
#include <bit>
#include <limits>
#include <string>

namespace amqp {
namespace {

using detail::wire_reader;

// Walks a table's wire form; when `Build`, also fills the value model. One walker for both
// so that validation and decoding cannot disagree about what is well-formed.
template <bool Build>
class table_walker {
public:
    table_walker(const std::uint8_t* base, diagnostics& diag) noexcept : base_(base), diag_(diag) {}

    bool table(bytes_view raw, std::size_t depth, field_table* out) {
        if (depth > max_table_depth) return too_deep(raw.data());
        wire_reader r(raw);
        while (!r.at_end()) {
            std::string_view name;
            if (!r.shortstr(name)) return fail(r.position(), "field name runs past the end of the table", {});
            field_value* v = nullptr;
            if constexpr (Build) v = &out->emplace_back(std::string(name), field_value{}).second;
            if (!value(r, depth, v, name)) return false;
        }
        return true;
    }

    bool array(bytes_view raw, std::size_t depth, field_array* out) {
        if (depth > max_table_depth) return too_deep(raw.data());
        wire_reader r(raw);
        for (std::size_t i = 0; !r.at_end(); ++i) {
            field_value* v = nullptr;
            if constexpr (Build) v = &out->emplace_back();
            if (!value(r, depth, v, {})) {
                // Named only on failure: validation must not allocate.
                // Built piecewise: gcc 12 -O3 warns falsely (-Wrestrict) on "[" + std::string.
                std::string path(1, '[');
                path += std::to_string(i);
                path += ']';
                if (!diag_.field.empty()) {
                    path += '.';
                    path += diag_.field;
                }
                diag_.field = std::move(path);
                return false;
            }
        }
        return true;
    }

private:
    template <class T>
    static T load(bytes_view b) noexcept {
        T v{};
        if constexpr (sizeof(T) == 1) {
            v = static_cast<T>(b[0]);
        } else if constexpr (sizeof(T) == 2) {
            v = static_cast<T>(boost::endian::load_big_u16(b.data()));
        } else if constexpr (sizeof(T) == 4) {
            v = std::bit_cast<T>(boost::endian::load_big_u32(b.data()));
        } else {
            v = std::bit_cast<T>(boost::endian::load_big_u64(b.data()));
        }
        return v;
    }

    template <class T>
    bool fixed(wire_reader& r, field_value* out, std::string_view name) {
        const std::uint8_t* at = r.position();
        bytes_view b;
        if (!r.bytes(sizeof(T), b)) return fail(at, "value runs past the end of the table", name);
        if constexpr (Build) out->value = load<T>(b);
        return true;
    }

    bool value(wire_reader& r, std::size_t depth, field_value* out, std::string_view name) {
        const std::uint8_t* at = r.position();
        std::uint8_t tag = 0;
        if (!r.u8(tag)) return fail(at, "type tag missing at the end of the table", name);
        switch (tag) {
            case 't': {
                bytes_view b;
                if (!r.bytes(1, b)) return fail(r.position(), "value runs past the end of the table", name);
                if constexpr (Build) out->value = b[0] != 0;
                return true;
            }
            case 'b': return fixed<std::int8_t>(r, out, name);
            case 'B': return fixed<std::uint8_t>(r, out, name);
            case 's': return fixed<std::int16_t>(r, out, name);
            case 'u': return fixed<std::uint16_t>(r, out, name);
            case 'I': return fixed<std::int32_t>(r, out, name);
            case 'i': return fixed<std::uint32_t>(r, out, name);
            case 'l': return fixed<std::int64_t>(r, out, name);
            case 'f': return fixed<float>(r, out, name);
            case 'd': return fixed<double>(r, out, name);
            case 'T': {
                bytes_view b;
                if (!r.bytes(8, b)) return fail(r.position(), "value runs past the end of the table", name);
                if constexpr (Build) out->value = timestamp{load<std::uint64_t>(b)};
                return true;
            }
            case 'D': {
                bytes_view b;
                if (!r.bytes(5, b)) return fail(r.position(), "value runs past the end of the table", name);
                if constexpr (Build) out->value = decimal{b[0], load<std::int32_t>(b.subspan(1))};
                return true;
            }
            case 'V':
                if constexpr (Build) out->value = std::monostate{};
                return true;
            case 'S':
            case 'x': {
                bytes_view b;
                if (!r.longbytes(b)) return fail(r.position(), "string length runs past the end of the table", name);
                if constexpr (Build) {
                    if (tag == 'S') out->value = std::string(as_string_view(b));
                    else out->value = byte_array{std::string(as_string_view(b))};
                }
                return true;
            }
            case 'F': {
                bytes_view b;
                if (!r.longbytes(b))
                    return fail(r.position(), "nested table length runs past the end of the table", name);
                field_table* t = nullptr;
                if constexpr (Build) t = &out->value.template emplace<field_table>();
                return nested(table(b, depth + 1, t), name);
            }
            case 'A': {
                bytes_view b;
                if (!r.longbytes(b)) return fail(r.position(), "array length runs past the end of the table", name);
                field_array* a = nullptr;
                if constexpr (Build) a = &out->value.template emplace<field_array>();
                return nested(array(b, depth + 1, a), name);
            }
            default: {
                std::string msg = "unknown field type tag ";
                if (tag >= 0x20 && tag < 0x7f) {
                    msg += '\'';
                    msg += static_cast<char>(tag);
                    msg += '\'';
                } else {
                    msg += "0x";
                    constexpr char hex[] = "0123456789abcdef";
                    msg += hex[tag >> 4];
                    msg += hex[tag & 15];
                }
                return fail(at, msg, name);
            }
        }
    }

    // Prefix the failing inner field's name with this one's, giving a path like "a.b.[2]".
    bool nested(bool ok, std::string_view name) {
        if (!ok && !name.empty()) {
            std::string path(name);
            if (!diag_.field.empty()) {
                path += '.';
                path += diag_.field;
            }
            diag_.field = std::move(path);
        }
        return ok;
    }

    bool too_deep(const std::uint8_t* at) {
        return fail(at, "tables nested deeper than " + std::to_string(max_table_depth) + " levels", {});
    }

    bool fail(const std::uint8_t* at, std::string msg, std::string_view name) {
        diag_.message = std::move(msg);
        diag_.offset = static_cast<std::size_t>(at - base_);
        diag_.field.assign(name);
        return false;
    }

    const std::uint8_t* base_;
    diagnostics& diag_;
};

// ---- encoding ---------------------------------------------------------------------------------

constexpr std::size_t max_long = std::numeric_limits<std::uint32_t>::max();

// Encoded size of a value/table, or false when it cannot be encoded (too deep, too long).
class table_measure {
public:
    bool table(const field_table& t, std::size_t depth, std::size_t& size) noexcept {
        if (depth > max_table_depth) return false;
        std::size_t total = 0;
        for (const auto& [name, v] : t) {
            if (name.size() > 255) return false;
            std::size_t vs = 0;
            if (!value(v, depth, vs)) return false;
            total += 1 + name.size() + vs;
        }
        size = total;
        return true;
    }
    bool array(const field_array& a, std::size_t depth, std::size_t& size) noexcept {
        if (depth > max_table_depth) return false;
        std::size_t total = 0;
        for (const auto& v : a) {
            std::size_t vs = 0;
            if (!value(v, depth, vs)) return false;
            total += vs;
        }
        size = total;
        return true;
    }
    // Includes the tag octet.
    bool value(const field_value& v, std::size_t depth, std::size_t& size) noexcept {
        std::size_t body = 0;
        bool ok = true;
        std::visit(
            [&](const auto& x) {
                using T = std::remove_cvref_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::monostate>) body = 0;
                else if constexpr (std::is_same_v<T, bool>) body = 1;
                else if constexpr (std::is_arithmetic_v<T>) body = sizeof(T);
                else if constexpr (std::is_same_v<T, decimal>) body = 5;
                else if constexpr (std::is_same_v<T, timestamp>) body = 8;
                else if constexpr (std::is_same_v<T, std::string>) {
                    ok = x.size() <= max_long;
                    body = 4 + x.size();
                } else if constexpr (std::is_same_v<T, byte_array>) {
                    ok = x.data.size() <= max_long;
                    body = 4 + x.data.size();
                } else if constexpr (std::is_same_v<T, field_table>) {
                    std::size_t n = 0;
                    ok = table(x, depth + 1, n) && n <= max_long;
                    body = 4 + n;
                } else {
                    static_assert(std::is_same_v<T, field_array>);
                    std::size_t n = 0;
                    ok = array(x, depth + 1, n) && n <= max_long;
                    body = 4 + n;
                }
            },
            v.value);
        size = 1 + body;
        return ok;
    }
};

// Writes a measured table; nested lengths are back-patched, so nothing is measured twice.
class table_writer {
public:
    explicit table_writer(std::uint8_t* out) noexcept : w_(out) {}
    std::uint8_t* position() const noexcept { return w_.position(); }

    void table(const field_table& t) noexcept {
        for (const auto& [name, v] : t) {
            w_.shortstr(name);
            value(v);
        }
    }
    void array(const field_array& a) noexcept {
        for (const auto& v : a) value(v);
    }

private:
    template <class F>
    void prefixed(F&& body) noexcept {
        std::uint8_t* len = w_.position();
        w_.u32(0);
        body();
        boost::endian::store_big_u32(len, static_cast<std::uint32_t>(w_.position() - len - 4));
    }

    void value(const field_value& v) noexcept {
        w_.u8(static_cast<std::uint8_t>(v.tag()));
        std::visit(
            [&](const auto& x) {
                using T = std::remove_cvref_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::monostate>) {
                } else if constexpr (std::is_same_v<T, bool>) {
                    w_.u8(x ? 1 : 0);
                } else if constexpr (std::is_same_v<T, float>) {
                    w_.u32(std::bit_cast<std::uint32_t>(x));
                } else if constexpr (std::is_same_v<T, double>) {
                    w_.u64(std::bit_cast<std::uint64_t>(x));
                } else if constexpr (std::is_integral_v<T> && sizeof(T) == 1) {
                    w_.u8(static_cast<std::uint8_t>(x));
                } else if constexpr (std::is_integral_v<T> && sizeof(T) == 2) {
                    w_.u16(static_cast<std::uint16_t>(x));
                } else if constexpr (std::is_integral_v<T> && sizeof(T) == 4) {
                    w_.u32(static_cast<std::uint32_t>(x));
                } else if constexpr (std::is_integral_v<T> && sizeof(T) == 8) {
                    w_.u64(static_cast<std::uint64_t>(x));
                } else if constexpr (std::is_same_v<T, decimal>) {
                    w_.u8(x.scale);
                    w_.u32(static_cast<std::uint32_t>(x.value));
                } else if constexpr (std::is_same_v<T, timestamp>) {
                    w_.u64(x.seconds);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    w_.longbytes(x.data(), x.size());
                } else if constexpr (std::is_same_v<T, byte_array>) {
                    w_.longbytes(x.data.data(), x.data.size());
                } else if constexpr (std::is_same_v<T, field_table>) {
                    prefixed([&] { table(x); });
                } else {
                    prefixed([&] { array(x); });
                }
            },
            v.value);
    }

    detail::wire_writer w_;
};

// The fast verdict: the same grammar as table_walker, with no position bookkeeping. Only when
// it says no does the detailed walker run, to say why and where. Sizes come from the tag table
// shared with the in-place reader (field_table.hpp).
using detail::bad_tag;
using detail::long_value;
using detail::nested_table;
using detail::value_kinds;

bool well_formed_values(const std::uint8_t* p, const std::uint8_t* end, bool named, std::size_t depth) noexcept;

// One value (tag already read) at `p`; advances `p` past it.
[[gnu::always_inline]] inline bool well_formed_value(std::uint8_t tag, const std::uint8_t*& p, const std::uint8_t* end,
                                                     std::size_t depth) noexcept {
    const std::uint8_t kind = value_kinds[tag];
    if (kind <= 8) [[likely]] {
        // As in detail::take_value: a 1-byte value's size from the branch, not the table load.
        const std::size_t n = kind == 1 ? detail::opaque_one() : kind;
        if (!detail::fits(p, n, end)) return false;
        p += n;
        return true;
    }
    const auto left = static_cast<std::size_t>(end - p);
    if (kind == bad_tag || left < 4) return false;
    const std::size_t n = boost::endian::load_big_u32(p);
    if (n > left - 4) return false;
    p += 4;
    const std::uint8_t* body = p;
    p += n;
    if (kind == long_value) return true;
    return well_formed_values(body, p, kind == nested_table, depth + 1);
}

// A table's entries (`named`: shortstr name, then a tagged value) or an array's tagged values.
bool well_formed_values(const std::uint8_t* p, const std::uint8_t* end, bool named, std::size_t depth) noexcept {
    if (depth > max_table_depth) return false;
    while (p != end) {
        if (named) {
            const std::size_t name_len = *p;
            // The name, then at least the tag octet.
            if (!detail::before(p, 1 + name_len, end)) return false;
            p += 1 + name_len;
        }
        const std::uint8_t tag = *p++;
        if (!well_formed_value(tag, p, end, depth)) return false;
    }
    return true;
}

bool well_formed_table(bytes_view raw, std::size_t depth) noexcept {
    return well_formed_values(raw.data(), raw.data() + raw.size(), true, depth);
}

}  // namespace

bool detail::well_formed_array(const std::uint8_t* p, const std::uint8_t* end, std::size_t depth) noexcept {
    return well_formed_values(p, end, false, depth);
}

error_code validate_table(bytes_view raw, diagnostics& diag) noexcept {
    if (well_formed_table(raw, 1)) [[likely]]
        return {};
    return detail::explain_table_fault(raw, diag);
}

error_code detail::explain_table_fault(bytes_view raw, diagnostics& diag) noexcept {
    table_walker<false> w(raw.data(), diag);
    if (!w.table(raw, 1, nullptr)) return reply_code::syntax_error;
    // The two walkers disagree: a bug, reported rather than hidden.
    diag.message = "internal: table validators disagree";
    diag.offset = 0;
    diag.field.clear();
    return reply_code::internal_error;
}

error_code decode_table(table_view t, field_table& out, diagnostics& diag) {
    out.clear();
    table_walker<true> w(t.raw.data(), diag);
    if (!w.table(t.raw, 1, &out)) return reply_code::syntax_error;
    return {};
}

std::size_t table_encoded_size(const field_table& t) noexcept {
    std::size_t n = 0;
    table_measure{}.table(t, 1, n);
    return n;
}

error_code encode_table(const field_table& t, byte_buffer& out) {
    std::size_t n = 0;
    if (!table_measure{}.table(t, 1, n)) return reply_code::syntax_error;
    const std::size_t old = out.size();
    out.resize(old + n);
    table_writer w(out.data() + old);
    w.table(t);
    return {};
}

}  // namespace amqp
