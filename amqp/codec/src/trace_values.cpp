// The tracer's value text: quoted strings and timestamps, and the field-table walker that lays
// out a table's entries for both the decoded view and the hex dump.
#include "quoted.hpp"
#include "trace_layout.hpp"
#include "wire_reader.hpp"

#include <amqp/codec/field_table.hpp>

#include <bit>
#include <cstdio>
#include <ctime>
#include <string>

namespace amqp::trace::detail {

std::string quoted(std::string_view s, std::size_t limit) {
    std::string out;
    amqp::detail::append_quoted(out, s, limit);
    return out;
}

std::string timestamp_text(std::uint64_t seconds) {
    char buf[64] = {};
    // Seconds beyond what time_t/gmtime can express are shown as the bare number.
    if (seconds <= 253402300799ull) {  // 9999-12-31 23:59:59
        const auto t = static_cast<std::time_t>(seconds);
        std::tm tm{};
        if (gmtime_r(&t, &tm) != nullptr && std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
            return std::string(buf) + " (" + std::to_string(seconds) + ")";
    }
    return std::to_string(seconds);
}

namespace {

const char* tag_name(std::uint8_t tag) noexcept {
    switch (tag) {
        case 't': return "boolean";
        case 'b': return "int8";
        case 'B': return "uint8";
        case 's': return "int16";
        case 'u': return "uint16";
        case 'I': return "int32";
        case 'i': return "uint32";
        case 'l': return "int64";
        case 'f': return "float";
        case 'd': return "double";
        case 'D': return "decimal";
        case 'S': return "longstr";
        case 'x': return "byte array";
        case 'T': return "timestamp";
        case 'A': return "array";
        case 'F': return "table";
        case 'V': return "void";
    }
    return "unknown";
}

std::string hex_bytes(bytes_view b, std::size_t limit) {
    std::string out;
    char buf[4];
    for (std::size_t i = 0; i < b.size() && i < limit; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", b[i]);
        out += buf;
    }
    if (b.size() > limit) out += "...";
    return out;
}

// Walks a table or array body; never reads out of bounds and never recurses deeper than the
// codec allows, whatever the bytes (the codec has normally validated them already).
class table_layout {
public:
    explicit table_layout(layout& out) : out_(out) {}

    bool table(bytes_view raw, std::size_t base, const std::string& path, int indent, std::size_t depth) {
        if (depth > max_table_depth) return stop();
        amqp::detail::wire_reader r(raw);
        while (!r.at_end()) {
            const std::size_t at = r.offset();
            std::string_view name;
            if (!r.shortstr(name)) return stop();
            const std::string key = path.empty() ? std::string(name) : path + "." + std::string(name);
            if (!value(r, base, at, key, std::string(name), indent, depth)) return false;
        }
        return true;
    }

    bool array(bytes_view raw, std::size_t base, const std::string& path, int indent, std::size_t depth) {
        if (depth > max_table_depth) return stop();
        amqp::detail::wire_reader r(raw);
        for (std::size_t i = 0; !r.at_end(); ++i) {
            // Appended piecewise: gcc 12 -O2 warns (-Wrestrict, a false positive) on "[" + string&&.
            std::string item(1, '[');
            item += std::to_string(i);
            item += ']';
            if (!value(r, base, r.offset(), path + item, item, indent, depth)) return false;
        }
        return true;
    }

private:
    bool stop() {
        out_.incomplete = true;
        return false;
    }

    // One entry from `start` (its name, or its tag inside an array) to the end of its value.
    bool value(amqp::detail::wire_reader& r, std::size_t base, std::size_t start, const std::string& key,
               const std::string& name, int indent, std::size_t depth) {
        std::uint8_t tag = 0;
        if (!r.u8(tag)) return stop();
        std::string text;
        auto fixed = [&](std::size_t n, bytes_view& b) { return r.bytes(n, b); };
        bytes_view b;
        switch (tag) {
            case 't':
                if (!fixed(1, b)) return stop();
                text = b[0] != 0 ? "true" : "false";
                break;
            case 'b':
                if (!fixed(1, b)) return stop();
                text = std::to_string(static_cast<std::int8_t>(b[0]));
                break;
            case 'B':
                if (!fixed(1, b)) return stop();
                text = std::to_string(b[0]);
                break;
            case 's':
                if (!fixed(2, b)) return stop();
                text = std::to_string(static_cast<std::int16_t>(boost::endian::load_big_u16(b.data())));
                break;
            case 'u':
                if (!fixed(2, b)) return stop();
                text = std::to_string(boost::endian::load_big_u16(b.data()));
                break;
            case 'I':
                if (!fixed(4, b)) return stop();
                text = std::to_string(static_cast<std::int32_t>(boost::endian::load_big_u32(b.data())));
                break;
            case 'i':
                if (!fixed(4, b)) return stop();
                text = std::to_string(boost::endian::load_big_u32(b.data()));
                break;
            case 'l':
                if (!fixed(8, b)) return stop();
                text = std::to_string(static_cast<std::int64_t>(boost::endian::load_big_u64(b.data())));
                break;
            case 'f': {
                if (!fixed(4, b)) return stop();
                char buf[40];
                std::snprintf(buf, sizeof buf, "%.9g",
                              static_cast<double>(std::bit_cast<float>(boost::endian::load_big_u32(b.data()))));
                text = buf;
                break;
            }
            case 'd': {
                if (!fixed(8, b)) return stop();
                char buf[40];
                std::snprintf(buf, sizeof buf, "%.17g", std::bit_cast<double>(boost::endian::load_big_u64(b.data())));
                text = buf;
                break;
            }
            case 'D': {
                if (!fixed(5, b)) return stop();
                const auto v = static_cast<std::int32_t>(boost::endian::load_big_u32(b.data() + 1));
                text = std::to_string(v) + "e-" + std::to_string(b[0]);
                break;
            }
            case 'T':
                if (!fixed(8, b)) return stop();
                text = timestamp_text(boost::endian::load_big_u64(b.data()));
                break;
            case 'V': text = "void"; break;
            case 'S':
                if (!r.longbytes(b)) return stop();
                text = quoted(as_string_view(b));
                break;
            case 'x':
                if (!r.longbytes(b)) return stop();
                text = "bytes(" + hex_bytes(b, 64) + ")";
                break;
            case 'F':
            case 'A': {
                if (!r.longbytes(b)) return stop();
                const bool is_table = tag == 'F';
                std::string what = std::string("'") + static_cast<char>(tag) + "' " + tag_name(tag) + ", " +
                                   std::to_string(b.size()) + " bytes";
                out_.spans.push_back({base + start, r.offset() - b.size() - start, key + ": " + what, false});
                out_.fields.push_back({indent, name, is_table ? "(table)" : "(array)"});
                const std::size_t inner = base + r.offset() - b.size();
                return is_table ? table(b, inner, key, indent + 1, depth + 1)
                                : array(b, inner, key, indent + 1, depth + 1);
            }
            default: return stop();
        }
        std::string type = std::string("'") + static_cast<char>(tag) + "' " + tag_name(tag);
        out_.spans.push_back({base + start, r.offset() - start, key + " = " + text + "  (" + type + ")", false});
        out_.fields.push_back({indent, name, text + "  (" + type + ")"});
        return true;
    }

    layout& out_;
};

}  // namespace

bool walk_table(bytes_view raw, std::size_t base, const std::string& path, int indent, std::size_t depth, layout& out) {
    return table_layout(out).table(raw, base, path, indent, depth);
}

}  // namespace amqp::trace::detail
