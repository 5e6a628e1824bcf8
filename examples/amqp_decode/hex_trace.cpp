// The hex lines of our own trace and walkthrough → the frames' bytes.
#include "hex_lines.hpp"

#include <cstdio>
#include <map>

namespace amqp_decode {
namespace {

constexpr std::string_view hex_line_indent = "    ";
// "    0007  ": indent, a 4-digit offset (or "...." in the walkthrough), two spaces.
constexpr std::size_t hex_area_column = 10;

/// AMQP_TRACE=time's "[14:03:07.123456 c2] " before a heading: the time (seconds since midnight,
/// -1 if none) and the connection id (0 if none); returns the prefix's length, 0 if there is none.
std::size_t time_prefix(std::string_view l, double& seconds, std::uint64_t& id) {
    seconds = -1;
    id = 0;
    if (l.empty() || l[0] != '[') return 0;
    const std::size_t close = l.find("] ");
    if (close == std::string_view::npos || close > 40) return 0;
    std::string_view in = l.substr(1, close - 1);
    if (in.size() >= 15 && in[2] == ':' && in[5] == ':' && in[8] == '.') {
        int h = 0, m = 0, s = 0, us = 0;
        if (std::sscanf(std::string(in.substr(0, 15)).c_str(), "%2d:%2d:%2d.%6d", &h, &m, &s, &us) != 4) return 0;
        seconds = h * 3600.0 + m * 60.0 + s + us / 1e6;
        in.remove_prefix(in.size() > 15 && in[15] == ' ' ? 16 : 15);
    }
    if (!in.empty()) {
        if (in[0] != 'c' || in.size() < 2) return 0;
        for (char c : in.substr(1)) {
            if (c < '0' || c > '9') return 0;
            id = id * 10 + static_cast<std::uint64_t>(c - '0');
        }
    }
    return close + 2;
}

bool is_heading(std::string_view l, amqp::trace::direction& d) {
    double t = 0;
    std::uint64_t id = 0;
    l.remove_prefix(time_prefix(l, t, id));
    if (l.substr(0, 9) == ">> sent  ") {
        d = amqp::trace::direction::sent;
        return true;
    }
    if (l.substr(0, 12) == "<< received ") {
        d = amqp::trace::direction::received;
        return true;
    }
    for (std::string_view what : {"-- channel ", "-- protocol header", "-- malformed", "-- not a protocol header"})
        if (l.substr(0, what.size()) == what) {
            d = amqp::trace::direction::unknown;
            return true;
        }
    return false;
}

bool is_hex_line(std::string_view l) {
    if (l.size() < hex_area_column + 2 || l.substr(0, 4) != hex_line_indent || l.substr(8, 2) != "  ") return false;
    const std::string_view off = l.substr(4, 4);
    const bool offset_ok = off == "...." || (hex_value(off[0]) >= 0 && hex_value(off[1]) >= 0 &&
                                             hex_value(off[2]) >= 0 && hex_value(off[3]) >= 0);
    if (!offset_ok) return false;
    const std::string_view a = l.substr(hex_area_column);
    return (hex_value(a[0]) >= 0 && hex_value(a[1]) >= 0) || a.substr(0, 2) == "**" || a.substr(0, 2) == ".." ||
           a.substr(0, 7) == "<masked";
}

}  // namespace

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        lines.push_back(l);
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return lines;
}

std::optional<std::size_t> parse_offset(std::string_view digits) {
    if (digits.empty() || digits.size() > 12) return std::nullopt;
    std::size_t v = 0;
    for (char c : digits) {
        const int d = hex_value(c);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::size_t>(d);
    }
    return v;
}

std::optional<std::string> append_hex_tokens(std::string_view area, std::vector<std::uint8_t>& out) {
    std::size_t i = 0;
    while (i < area.size()) {
        if (area[i] == ' ') {
            ++i;
            continue;
        }
        const int hi = hex_value(area[i]);
        const int lo = i + 1 < area.size() ? hex_value(area[i + 1]) : -1;
        if (hi < 0 || lo < 0) return "'" + std::string(area.substr(i, 2)) + "' is not a pair of hex digits";
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
        i += 2;
    }
    return std::nullopt;
}

bool is_trace_line(std::string_view line) {
    amqp::trace::direction d{};
    return is_heading(line, d) || is_hex_line(line);
}

std::vector<conversation> read_trace_lines(const std::vector<std::string_view>& lines, amqp::trace::direction dir,
                                           std::string& error) {
    std::vector<conversation> out;
    std::map<std::uint64_t, std::size_t> by_id;  // connection id -> index in out
    std::size_t masked = 0;                      // ".." bytes (the walkthrough's run-specific values)
    std::size_t passwords = 0;                   // "**" bytes (the PLAIN response)
    double first_time = -1;
    std::size_t order = 0;
    stream* cur = nullptr;
    auto block = [&](amqp::trace::direction d, std::uint64_t id, double t) -> stream& {
        auto [it, fresh] = by_id.emplace(id, out.size());
        if (fresh) {
            conversation c;
            if (id != 0) c.title = "connection c" + std::to_string(id) + " of the trace";
            c.timed = t >= 0;
            out.push_back(std::move(c));
        }
        conversation& c = out[it->second];
        if (t >= 0 && first_time < 0) first_time = t;
        stream s;
        s.dir = d;
        const double when = c.timed && t >= 0 ? t - first_time : static_cast<double>(order);
        ++order;
        s.arrivals.emplace_back(0, when);  // its end is set once its bytes are known
        c.streams.push_back(std::move(s));
        masked = passwords = 0;
        return c.streams.back();
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view l = lines[i];
        amqp::trace::direction d{};
        if (is_heading(l, d)) {
            double t = 0;
            std::uint64_t id = 0;
            time_prefix(l, t, id);
            cur = &block(d == amqp::trace::direction::unknown ? dir : d, id, t);
            continue;
        }
        if (!is_hex_line(l)) continue;
        if (cur == nullptr) cur = &block(dir, 0, -1);
        std::string_view area = l.substr(hex_area_column);
        area = area.substr(0, area.find("  "));
        if (area.substr(0, 7) == "<masked") {
            cur->note = "the walkthrough left out bytes whose length varies from run to run (\"<masked: length "
                        "varies>\"): this frame cannot be rebuilt from its hex lines";
            cur->cut = true;
            continue;
        }
        if (area.substr(0, 3) == "...") {
            cur->note = "the trace shows only the first bytes of a long field (\"" + std::string(area) +
                        "\"): the rest is missing";
            cur->cut = true;
            continue;
        }
        for (std::size_t at = 0; at < area.size(); at += 3) {
            const std::string_view tok = area.substr(at, 2);
            if (tok == "**") {
                cur->bytes.push_back('*');
                ++passwords;
            } else if (tok == "..") {
                cur->bytes.push_back(0);
                ++masked;
            } else if (auto why = append_hex_tokens(tok, cur->bytes)) {
                error = "trace hex line " + std::to_string(i + 1) + ": " + *why;
                return {};
            }
        }
        if (masked != 0 && cur->note.empty())
            cur->note = "the walkthrough masked run-specific bytes of this frame (\"..\"): they stand as 00 here, so "
                        "the sizes and values there are not the real ones";
        if (passwords != 0 && cur->note.empty())
            cur->note = "the trace masked the password (\"**\"): it stands as '*' here";
    }
    if (out.empty()) {
        error = "no hex lines in the trace";
        return {};
    }
    for (auto& c : out)
        for (auto& s : c.streams) s.arrivals.front().first = s.bytes.size();
    return out;
}

}  // namespace amqp_decode
