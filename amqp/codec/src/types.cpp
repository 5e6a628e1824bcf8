// The field-table value model: type tags, lookup and a readable one-line form.
#include "quoted.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/printable.hpp>
#include <amqp/codec/types.hpp>

#include <cstdio>
#include <string>

namespace amqp {

char field_value::tag() const noexcept {
    // Indexed by the variant's alternative order (see types.hpp).
    static constexpr char tags[] = "VtbBsuIilfdDSATFx";
    static_assert(sizeof(tags) - 1 == std::variant_size_v<variant_type>);
    return tags[value.index()];
}

const field_value* find_field(const field_table& t, std::string_view name) noexcept {
    for (const auto& [n, v] : t)
        if (n == name) return &v;
    return nullptr;
}

namespace detail {

void append_quoted(std::string& out, std::string_view s, std::size_t limit) {
    out += '"';
    std::size_t n = 0;
    for (unsigned char c : s) {
        if (n++ == limit) {
            out += "\"...";
            return;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c >= 0x20 && c < 0x7f) {
                    out += static_cast<char>(c);
                } else {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                }
        }
    }
    out += '"';
}

}  // namespace detail

std::string printable(std::string_view s, std::size_t limit) {
    std::string out;
    detail::append_quoted(out, s, limit);
    return out;
}

namespace {

void append_value(std::string& out, const field_value& v);

void append_table(std::string& out, const field_table& t) {
    out += '{';
    bool first = true;
    for (const auto& [name, v] : t) {
        if (!first) out += ", ";
        first = false;
        out += name;
        out += ": ";
        append_value(out, v);
    }
    out += '}';
}

void append_value(std::string& out, const field_value& v) {
    std::visit(
        [&](const auto& x) {
            using T = std::remove_cvref_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
                out += "void";
            } else if constexpr (std::is_same_v<T, bool>) {
                out += x ? "true" : "false";
            } else if constexpr (std::is_floating_point_v<T>) {
                char buf[40];
                std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(x));
                out += buf;
            } else if constexpr (std::is_integral_v<T>) {
                out += std::to_string(static_cast<long long>(x));
            } else if constexpr (std::is_same_v<T, decimal>) {
                out += "decimal(" + std::to_string(x.value) + "e-" + std::to_string(x.scale) + ")";
            } else if constexpr (std::is_same_v<T, timestamp>) {
                out += "timestamp(" + std::to_string(x.seconds) + ")";
            } else if constexpr (std::is_same_v<T, std::string>) {
                detail::append_quoted(out, x);
            } else if constexpr (std::is_same_v<T, byte_array>) {
                out += "bytes(";
                char buf[4];
                for (unsigned char c : x.data) {
                    std::snprintf(buf, sizeof buf, "%02x", c);
                    out += buf;
                }
                out += ")";
            } else if constexpr (std::is_same_v<T, field_table>) {
                append_table(out, x);
            } else {
                out += '[';
                bool first = true;
                for (const auto& e : x) {
                    if (!first) out += ", ";
                    first = false;
                    append_value(out, e);
                }
                out += ']';
            }
        },
        v.value);
}

}  // namespace

std::string to_string(const field_table& t) {
    std::string out;
    append_table(out, t);
    return out;
}

std::string to_string(const field_value& v) {
    std::string out;
    append_value(out, v);
    return out;
}

}  // namespace amqp
