// The tracer's view of method arguments and content headers: walks the raw bytes with the
// codec's own field descriptions (method_fields.hpp), recording each field's position, name and
// value. Stops at the first field that does not decode, so a malformed frame is still annotated
// up to the fault.
#include "trace_layout.hpp"
#include "wire_reader.hpp"

#include <amqp/codec/method_fields.hpp>
#include <amqp/codec/methods.hpp>

#include <cstdio>
#include <string>
#include <utility>

namespace amqp::trace::detail {

const char* class_name(std::uint16_t id) noexcept {
    switch (id) {
        case 10: return "connection";
        case 20: return "channel";
        case 40: return "exchange";
        case 50: return "queue";
        case 60: return "basic";
        case 85: return "confirm";
        case 90: return "tx";
    }
    return nullptr;
}

namespace {

// Arguments whose value is a credential: shown masked, in the decoded view and the hex.
bool secret(std::string_view method, std::string_view field) noexcept {
    return field == "response" &&
           (method == "connection.start-ok" || method == "connection.secure-ok");
}

class argument_walker {
public:
    argument_walker(bytes_view args, std::size_t base, std::string_view method, layout& out) noexcept
        : r_(args), base_(base), method_(method), out_(out) {}

    bool u8(const char* n, std::uint8_t& v) { return number(n, v); }
    bool u16(const char* n, std::uint16_t& v) { return number(n, v); }
    bool u32(const char* n, std::uint32_t& v) { return number(n, v); }
    bool u64(const char* n, std::uint64_t& v) { return number(n, v); }

    bool bit(const char* n, bool& v) {
        if (bit_pos_ == 8) {
            const std::size_t at = r_.offset();
            if (!r_.u8(bits_)) return stop();
            bit_span_ = out_.spans.size();
            out_.spans.push_back({base_ + at, 1, "bits:", false});
            bit_pos_ = 0;
        }
        v = ((bits_ >> bit_pos_) & 1u) != 0;
        ++bit_pos_;
        out_.spans[bit_span_].label += std::string(" ") + n + "=" + (v ? "1" : "0");
        out_.fields.push_back({1, n, v ? "true" : "false"});
        return true;
    }

    bool shortstr(const char* n, std::string_view& s) {
        bit_pos_ = 8;
        const std::size_t at = r_.offset();
        if (!r_.shortstr(s)) return stop();
        string_field(n, at, 1, s);
        return true;
    }
    bool longstr(const char* n, std::string_view& s) {
        bit_pos_ = 8;
        const std::size_t at = r_.offset();
        if (!r_.longstr(s)) return stop();
        string_field(n, at, 4, s);
        return true;
    }
    bool table(const char* n, table_view& t) {
        bit_pos_ = 8;
        const std::size_t at = r_.offset();
        if (!r_.longbytes(t.raw)) return stop();
        const std::string size = std::to_string(t.raw.size()) + " bytes";
        out_.spans.push_back({base_ + at, 4, std::string(n) + ": table length " + size, false});
        out_.fields.push_back({1, n, t.raw.empty() ? "{} (empty table)" : "(table, " + size + ")"});
        return walk_table(t.raw, base_ + at + 4, n, 2, 1, out_);
    }

    bool at_end() const noexcept { return r_.at_end(); }
    std::size_t offset() const noexcept { return r_.offset(); }

private:
    template <class T>
    bool number(const char* n, T& v) {
        bit_pos_ = 8;
        const std::size_t at = r_.offset();
        bool ok = false;
        if constexpr (sizeof(T) == 1) ok = r_.u8(v);
        else if constexpr (sizeof(T) == 2) ok = r_.u16(v);
        else if constexpr (sizeof(T) == 4) ok = r_.u32(v);
        else ok = r_.u64(v);
        if (!ok) return stop();
        const std::string text = std::to_string(v) + note(n, v);
        out_.spans.push_back({base_ + at, sizeof(T), std::string(n) + " = " + text, false});
        out_.fields.push_back({1, n, text});
        return true;
    }

    // What a number means, where the spec gives it a meaning worth spelling out.
    std::string note(std::string_view n, std::uint64_t v) {
        if (n == "reply-code") {
            return std::string(" (") + reply_code_name(static_cast<std::uint16_t>(v)) + ")";
        }
        if (n == "class-id") {
            last_class_ = static_cast<std::uint16_t>(v);
            const char* c = class_name(last_class_);
            return c != nullptr ? std::string(" (") + c + ")" : std::string(v == 0 ? " (none)" : "");
        }
        if (n == "method-id") {
            const std::string_view m = method_name(last_class_, static_cast<std::uint16_t>(v));
            return m.empty() ? std::string() : " (" + std::string(m) + ")";
        }
        if (n == "heartbeat") return v == 0 ? " (off)" : " seconds";
        if ((n == "frame-max" || n == "channel-max") && v == 0) return " (no limit)";
        return {};
    }

    void string_field(const char* n, std::size_t at, std::size_t prefix, std::string_view s) {
        const std::string len = std::to_string(s.size());
        const char* type = prefix == 1 ? "shortstr" : "longstr";
        if (secret(method_, n)) {
            const std::string masked = "<masked " + len + " bytes>";
            out_.spans.push_back({base_ + at, prefix, std::string(n) + ": " + type + " length " + len, false});
            if (!s.empty()) out_.spans.push_back({base_ + at + prefix, s.size(), std::string(n) + " = " + masked, true});
            out_.fields.push_back({1, n, masked});
            return;
        }
        const std::string text = quoted(s);
        out_.spans.push_back(
            {base_ + at, prefix + s.size(), std::string(n) + " = " + text + "  (" + type + ", " + len + " bytes)", false});
        out_.fields.push_back({1, n, text});
    }

    bool stop() {
        out_.incomplete = true;
        return false;
    }

    amqp::detail::wire_reader r_;
    std::size_t base_;
    std::string_view method_;
    layout& out_;
    std::uint8_t bits_ = 0;
    int bit_pos_ = 8;
    std::size_t bit_span_ = 0;
    std::uint16_t last_class_ = 0;
};

template <std::size_t I = 0>
bool walk_as(std::uint16_t class_id, std::uint16_t method_id, bytes_view args, std::size_t base, layout& out) {
    if constexpr (I == std::variant_size_v<method>) {
        out.incomplete = true;  // an unknown method: its arguments cannot be named
        return false;
    } else {
        using M = std::variant_alternative_t<I, method>;
        if (M::class_index != class_id || M::method_index != method_id)
            return walk_as<I + 1>(class_id, method_id, args, base, out);
        M m{};
        argument_walker w(args, base, M::name, out);
        if (!for_each_field(m, w)) return false;
        if (!w.at_end()) {
            out.incomplete = true;
            return false;
        }
        return true;
    }
}

// The basic class's properties in flag order (bit 15 first), as in spec section 4.2.6 / the XML.
enum class prop_kind : std::uint8_t { shortstr, octet, table, timestamp };
struct prop_desc {
    int bit;
    const char* name;
    prop_kind kind;
};
constexpr prop_desc basic_props[] = {
    {15, "content-type", prop_kind::shortstr},  {14, "content-encoding", prop_kind::shortstr},
    {13, "headers", prop_kind::table},          {12, "delivery-mode", prop_kind::octet},
    {11, "priority", prop_kind::octet},         {10, "correlation-id", prop_kind::shortstr},
    {9, "reply-to", prop_kind::shortstr},       {8, "expiration", prop_kind::shortstr},
    {7, "message-id", prop_kind::shortstr},     {6, "timestamp", prop_kind::timestamp},
    {5, "type", prop_kind::shortstr},           {4, "user-id", prop_kind::shortstr},
    {3, "app-id", prop_kind::shortstr},         {2, "reserved", prop_kind::shortstr},  // 0-9-1's name; "cluster-id" in 0-9
};

}  // namespace

bool walk_method_arguments(std::uint16_t class_id, std::uint16_t method_id, bytes_view args,
                           std::size_t base, layout& out) {
    return walk_as(class_id, method_id, args, base, out);
}

bool walk_content_header(bytes_view payload, std::size_t base, layout& out) {
    amqp::detail::wire_reader r(payload);
    auto stop = [&out] {
        out.incomplete = true;
        return false;
    };
    std::uint16_t class_id = 0, weight = 0, flags = 0;
    std::uint64_t body_size = 0;
    if (!r.u16(class_id)) return stop();
    const char* cname = class_name(class_id);
    const std::string class_text = std::to_string(class_id) + (cname ? std::string(" (") + cname + ")" : "");
    out.spans.push_back({base + 0, 2, "class-id = " + class_text, false});
    out.fields.push_back({1, "class-id", class_text});
    if (!r.u16(weight)) return stop();
    out.spans.push_back({base + 2, 2, "weight = " + std::to_string(weight), false});
    out.fields.push_back({1, "weight", std::to_string(weight)});
    if (!r.u64(body_size)) return stop();
    out.spans.push_back({base + 4, 8, "body-size = " + std::to_string(body_size), false});
    out.fields.push_back({1, "body-size", std::to_string(body_size)});
    if (!r.u16(flags)) return stop();
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%04x", flags);
    std::string names;
    for (const auto& p : basic_props)
        if ((flags >> p.bit) & 1u) names += std::string(names.empty() ? "" : " ") + p.name;
    if (flags & 3u) names += std::string(names.empty() ? "" : " ") + "<unknown bits 1-0>";
    out.spans.push_back({base + 12, 2, std::string("property-flags = ") + hex + " (" + names + ")", false});
    out.fields.push_back({1, "property-flags", std::string(hex) + " (" + (names.empty() ? "none" : names) + ")"});
    if (flags & 3u) return stop();

    for (const auto& p : basic_props) {
        if (!((flags >> p.bit) & 1u)) continue;
        const std::size_t at = r.offset();
        std::string text;
        switch (p.kind) {
            case prop_kind::shortstr: {
                std::string_view s;
                if (!r.shortstr(s)) return stop();
                text = quoted(s);
                out.spans.push_back({base + at, 1 + s.size(),
                                     std::string(p.name) + " = " + text + "  (shortstr, " +
                                         std::to_string(s.size()) + " bytes)",
                                     false});
                break;
            }
            case prop_kind::octet: {
                std::uint8_t v = 0;
                if (!r.u8(v)) return stop();
                text = std::to_string(v);
                if (p.bit == 12) text += v == 2 ? " (persistent)" : v == 1 ? " (transient)" : "";
                out.spans.push_back({base + at, 1, std::string(p.name) + " = " + text, false});
                break;
            }
            case prop_kind::timestamp: {
                std::uint64_t v = 0;
                if (!r.u64(v)) return stop();
                text = timestamp_text(v);
                out.spans.push_back({base + at, 8, std::string(p.name) + " = " + text, false});
                break;
            }
            case prop_kind::table: {
                bytes_view raw;
                if (!r.longbytes(raw)) return stop();
                const std::string size = std::to_string(raw.size()) + " bytes";
                out.spans.push_back({base + at, 4, std::string(p.name) + ": table length " + size, false});
                out.fields.push_back({1, p.name, raw.empty() ? "{} (empty table)" : "(table, " + size + ")"});
                if (!walk_table(raw, base + at + 4, p.name, 2, 1, out)) return false;
                continue;
            }
        }
        out.fields.push_back({1, p.name, text});
    }
    if (!r.at_end()) return stop();
    return true;
}

}  // namespace amqp::trace::detail
