// The tracer's annotated hex dump: each field's bytes on their own line(s), labelled.
#include "trace_layout.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace amqp::trace::detail {
namespace {

constexpr std::size_t bytes_per_line = 16;
// "xx " per byte, without the last space: the label column starts after this.
constexpr std::size_t hex_column = bytes_per_line * 3 - 1;

void append_line(std::string& text, std::size_t offset, bytes_view bytes, bool masked, const std::string& label) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "    %04zx  ", offset);
    text += buf;
    std::string hex;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i != 0) hex += ' ';
        if (masked) {
            hex += "**";
        } else {
            std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
            hex += buf;
        }
    }
    text += hex;
    if (!label.empty()) {
        text.append(hex_column - std::min(hex.size(), hex_column), ' ');
        text += "  ";
        text += label;
    }
    // Lines carry no trailing blanks, so the output diffs cleanly.
    while (!text.empty() && text.back() == ' ') text.pop_back();
    text += '\n';
}

void append_span(std::string& text, bytes_view frame, const span& s, std::size_t max_span_bytes) {
    const std::size_t end = std::min(s.offset + s.length, frame.size());
    if (s.offset >= end) return;
    const std::size_t shown_end = std::min(end, s.offset + std::max<std::size_t>(max_span_bytes, 1));
    for (std::size_t at = s.offset; at < shown_end; at += bytes_per_line) {
        const std::size_t n = std::min(bytes_per_line, shown_end - at);
        append_line(text, at, frame.subspan(at, n), s.masked, at == s.offset ? s.label : std::string());
    }
    if (shown_end < end) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "    %04zx  ... %zu more bytes\n", shown_end, end - shown_end);
        text += buf;
    }
}

}  // namespace

void append_hex_dump(std::string& text, bytes_view frame, const std::vector<span>& spans, std::size_t max_span_bytes) {
    std::size_t covered = 0;
    for (const span& s : spans) {
        if (s.offset < covered) continue;  // overlapping spans are a walker bug; never print twice
        if (s.offset > covered)
            append_span(text, frame, {covered, s.offset - covered, "(not decoded)", false}, max_span_bytes);
        append_span(text, frame, s, max_span_bytes);
        covered = s.offset + s.length;
        if (covered >= frame.size()) break;
    }
    if (covered < frame.size())
        append_span(text, frame, {covered, frame.size() - covered, "(not decoded)", false}, max_span_bytes);
}

}  // namespace amqp::trace::detail
