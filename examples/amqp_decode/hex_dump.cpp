// Hex text → bytes: which dump it is, and its hex columns without offsets and ASCII.
#include "hex_dump.hpp"

#include <cctype>

#include "hex_lines.hpp"

namespace amqp_decode {
namespace {

bool is_separator(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':' || c == ','; }

/// A bare hex stream (Wireshark's "Copy as Hex Stream", xxd -p, pasted bytes).
std::optional<std::string> parse_plain(std::string_view text, std::vector<std::uint8_t>& out) {
    int high = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (is_separator(c)) {
            if (high >= 0) return "hex digit pair split by a separator at character " + std::to_string(i);
            continue;
        }
        if (high < 0 && c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
            ++i;
            continue;
        }
        const int v = hex_value(static_cast<char>(c));
        if (v < 0) return "character " + std::to_string(i) + " is not a hex digit";
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high * 16 + v));
            high = -1;
        }
    }
    if (high >= 0) return "odd number of hex digits";
    return std::nullopt;
}

bool looks_like_plain_hex(std::string_view text) {
    bool any_digit = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (std::isxdigit(c)) {
            any_digit = true;
        } else if (!(is_separator(c) || ((c == 'x' || c == 'X') && i > 0 && text[i - 1] == '0'))) {
            return false;
        }
    }
    return any_digit;
}

/// "0000  01 00 ..." or "00000000  01 00 ...": an offset of `digits` hex digits, then two spaces
/// and a byte. Returns the offset's length, or 0.
std::size_t offset_then_two_spaces(std::string_view line) {
    std::size_t n = 0;
    while (n < line.size() && hex_value(line[n]) >= 0) ++n;
    if (n < 4 || line.size() < n + 4 || line.substr(n, 2) != "  ") return 0;
    return hex_value(line[n + 2]) >= 0 && hex_value(line[n + 3]) >= 0 ? n : 0;
}

enum class shape { none, xxd, hexdump_c, tshark_x, trace };

/// The most bytes one hexdump '*' line may stand for (AMQP frames are far smaller).
constexpr std::size_t max_repeat_bytes = std::size_t{64} << 20;

shape detect(const std::vector<std::string_view>& lines) {
    for (std::string_view l : lines) {
        if (is_trace_line(l)) return shape::trace;
        std::size_t n = 0;
        while (n < l.size() && hex_value(l[n]) >= 0) ++n;
        if (n >= 4 && l.size() > n + 2 && l[n] == ':' && l[n + 1] == ' ' && hex_value(l[n + 2]) >= 0) return shape::xxd;
        if (const std::size_t off = offset_then_two_spaces(l)) {
            if (off >= 8 && l.find('|') != std::string_view::npos) return shape::hexdump_c;
            return shape::tshark_x;
        }
    }
    return shape::none;
}

/// xxd: "00000010: 0100 0100 0000 0e00 3c00 5000 0000 0000  ........<.P....."
std::optional<std::string> parse_xxd(const std::vector<std::string_view>& lines, std::vector<std::uint8_t>& out) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        const std::size_t colon = l.find(": ");
        if (l.empty() || colon == std::string_view::npos) continue;
        const auto offset = parse_offset(l.substr(0, colon));
        if (!offset) continue;
        if (*offset != out.size())
            return "xxd line " + std::to_string(i + 1) + " starts at offset " + std::to_string(*offset) + ", after " +
                   std::to_string(out.size()) + " bytes (lines missing, or an xxd -s/-o dump)";
        std::string_view area = l.substr(colon + 2);
        area = area.substr(0, area.find("  "));  // the ASCII column starts after two spaces
        if (auto why = append_hex_tokens(area, out)) return "xxd line " + std::to_string(i + 1) + ": " + *why;
    }
    return std::nullopt;
}

/// hexdump -C: "00000010  01 00 01 00 00 00 0e 00  3c 00 50 00 00 00 00 00  |........<.P.....|",
/// "*" for lines equal to the one before, and a last line holding only the total length.
std::optional<std::string> parse_hexdump_c(const std::vector<std::string_view>& lines, std::vector<std::uint8_t>& out) {
    std::vector<std::uint8_t> previous;
    bool repeat = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        if (l == "*") {
            repeat = true;
            continue;
        }
        std::size_t n = 0;
        while (n < l.size() && hex_value(l[n]) >= 0) ++n;
        const auto offset = n >= 8 ? parse_offset(l.substr(0, n)) : std::nullopt;
        if (!offset) continue;
        if (repeat) {
            // "*": the previous line's bytes again, up to this line's offset (a sane one: a
            // garbled offset must not make us fill memory).
            if (*offset > out.size() + max_repeat_bytes)
                return "hexdump -C line " + std::to_string(i + 1) + ": '*' would repeat " +
                       std::to_string(*offset - out.size()) + " bytes (more than " +
                       std::to_string(max_repeat_bytes) + ")";
            while (!previous.empty() && out.size() + previous.size() <= *offset)
                out.insert(out.end(), previous.begin(), previous.end());
            repeat = false;
        }
        if (*offset != out.size())
            return "hexdump -C line " + std::to_string(i + 1) + " starts at offset " + std::to_string(*offset) +
                   ", after " + std::to_string(out.size()) + " bytes (lines missing?)";
        std::string_view area = l.substr(n);
        area = area.substr(0, area.find('|'));
        std::vector<std::uint8_t> line_bytes;
        if (auto why = append_hex_tokens(area, line_bytes))
            return "hexdump -C line " + std::to_string(i + 1) + ": " + *why;
        out.insert(out.end(), line_bytes.begin(), line_bytes.end());
        previous = std::move(line_bytes);
    }
    return std::nullopt;
}

/// tshark -x: "0000  00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00   ..............E." per packet,
/// packets apart by a blank line; with several data sources, a "Frame (N bytes):" heading before
/// the packet's bytes ("Reassembled TCP (N bytes):" blocks are skipped: we reassemble ourselves).
std::optional<std::string> parse_tshark_x(const std::vector<std::string_view>& lines, std::vector<packet>& out) {
    packet current;
    bool skipping = false;
    auto flush = [&] {
        if (!current.data.empty()) {
            current.time = static_cast<double>(out.size());
            out.push_back(std::move(current));
        }
        current = packet{};
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        if (l.empty()) {
            flush();
            skipping = false;
            continue;
        }
        if (!l.empty() && l.back() == ':' && l.find(" bytes)") != std::string_view::npos) {
            flush();
            skipping = l.substr(0, 6) != "Frame ";
            continue;
        }
        const std::size_t n = offset_then_two_spaces(l);
        if (n == 0 || skipping) continue;
        const auto offset = parse_offset(l.substr(0, n));
        if (!offset) continue;
        if (*offset == 0) flush();
        if (*offset != current.data.size())
            return "tshark -x line " + std::to_string(i + 1) + " starts at offset " + std::to_string(*offset) +
                   ", after " + std::to_string(current.data.size()) + " bytes of its packet";
        std::string_view area = l.substr(n + 2);
        area = area.substr(0, area.find("  "));  // the ASCII column starts after three spaces
        if (auto why = append_hex_tokens(area, current.data))
            return "tshark -x line " + std::to_string(i + 1) + ": " + *why;
    }
    flush();
    return std::nullopt;
}

conversation single_stream(std::vector<std::uint8_t> bytes, amqp::trace::direction dir) {
    conversation c;
    stream s;
    s.dir = dir;
    s.arrivals.emplace_back(bytes.size(), 0.0);
    s.bytes = std::move(bytes);
    c.streams.push_back(std::move(s));
    return c;
}

}  // namespace

std::optional<hex_input> read_hex(std::string_view text, bool forced, amqp::trace::direction dir, std::string& error) {
    const std::vector<std::string_view> lines = split_lines(text);
    hex_input in;
    std::vector<std::uint8_t> bytes;
    std::optional<std::string> why;
    switch (detect(lines)) {
        case shape::trace:
            in.format = "amqp trace";
            in.conversations = read_trace_lines(lines, dir, error);
            if (in.conversations.empty()) return std::nullopt;
            return in;
        case shape::xxd:
            in.format = "xxd";
            why = parse_xxd(lines, bytes);
            break;
        case shape::hexdump_c:
            in.format = "hexdump -C";
            why = parse_hexdump_c(lines, bytes);
            break;
        case shape::tshark_x:
            in.format = "tshark -x";
            if ((why = parse_tshark_x(lines, in.packets))) break;
            return in;
        case shape::none:
            if (!forced && !looks_like_plain_hex(text)) return std::nullopt;
            in.format = "hex text";
            why = parse_plain(text, bytes);
            break;
    }
    if (why) {
        error = "input is not " + in.format + (in.format == "hex text" ? "" : " output") + ": " + *why;
        return std::nullopt;
    }
    in.conversations.push_back(single_stream(std::move(bytes), dir));
    return in;
}

}  // namespace amqp_decode
