// The tracer's text of one frame → its parts. The hex dump's layout ("    OOOO  xx xx ..  label",
// continuation lines without a label) is the tracer's, pinned by the golden tests.
#include "html_frame.hpp"

#include "hex_lines.hpp"

namespace amqp_decode {
namespace {

/// "    0007  00 3c  class-id = 60 (basic)": offset, bytes ("**" masked), label (may be empty).
bool parse_hex_line(std::string_view l, std::size_t& offset, std::vector<int>& bytes, std::string& label) {
    if (l.substr(0, 4) != "    ") return false;
    std::size_t n = 4;
    while (n < l.size() && hex_value(l[n]) >= 0) ++n;
    if (n < 8 || l.substr(n, 2) != "  ") return false;
    const auto off = parse_offset(l.substr(4, n - 4));
    if (!off) return false;
    std::size_t at = n + 2;
    bytes.clear();
    while (at + 1 < l.size() || at + 2 == l.size()) {
        const std::string_view tok = l.substr(at, 2);
        if (tok == "**") {
            bytes.push_back(-1);
        } else if (hex_value(tok[0]) >= 0 && hex_value(tok[1]) >= 0) {
            bytes.push_back(hex_value(tok[0]) * 16 + hex_value(tok[1]));
        } else {
            break;
        }
        at += 2;
        if (at >= l.size() || l[at] != ' ') break;
        if (at + 1 < l.size() && l[at + 1] == ' ') break;  // two spaces: the label follows
        ++at;
    }
    if (bytes.empty()) return false;
    const std::size_t lab = l.find_first_not_of(' ', at);
    label = lab == std::string_view::npos ? "" : std::string(l.substr(lab));
    offset = *off;
    return true;
}

std::string without_arrow(std::string_view heading) {
    for (std::string_view a : {">> sent", "<< received", "--"})
        if (heading.substr(0, a.size()) == a) {
            heading.remove_prefix(a.size());
            break;
        }
    const std::size_t first = heading.find_first_not_of(' ');
    return first == std::string_view::npos ? "" : std::string(heading.substr(first));
}

}  // namespace

page_frame parse_frame_text(const std::string& text) {
    page_frame f;
    const std::vector<std::string_view> lines = split_lines(text);
    if (lines.empty()) return f;
    f.heading = without_arrow(lines[0]);
    std::size_t offset = 0;
    std::vector<int> bytes;
    std::string label;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::string_view l = lines[i];
        if (l.empty()) continue;
        if (l.substr(0, 7) == "    !! " || l.substr(0, 10) == "    hint: ") {
            f.notes.emplace_back(l.substr(4));
            continue;
        }
        if (parse_hex_line(l, offset, bytes, label)) {
            if (offset != f.bytes.size()) continue;  // not contiguous: never from the tracer
            if (!label.empty() || f.spans.empty()) f.spans.push_back({offset, 0, label, bytes.front() < 0});
            f.spans.back().length += bytes.size();
            for (int b : bytes) {
                f.bytes.push_back(static_cast<std::uint8_t>(b < 0 ? 0 : b));
                f.masked.push_back(b < 0);
            }
            continue;
        }
        f.decoded.emplace_back(l.substr(l.find_first_not_of(' ') == std::string_view::npos ? 0 : 4));
    }
    return f;
}

}  // namespace amqp_decode
