// Internal to the tracer: the "layout" of a frame, i.e. which bytes are which field (for the
// hex dump) and what each field means (for the decoded view). Built by walking the raw bytes
// with the same field descriptions the codec uses (method_fields.hpp), so that a field's name
// and position cannot disagree with what the codec reads.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace amqp::trace::detail {

/// A run of bytes of the frame and what they are. `offset` is from the start of the frame.
struct span {
    std::size_t offset = 0;
    std::size_t length = 0;
    std::string label;    ///< "routing-key = \"rpc_queue\"", "frame-end"
    bool masked = false;  ///< secret: print `**` instead of the bytes
};

/// One line of the decoded view: `indent` levels deep, "name: value" (value may be empty for a
/// heading such as a nested table's name).
struct field_line {
    int indent = 0;
    std::string name;
    std::string value;
};

/// Everything known about one frame, in wire order.
struct layout {
    std::vector<span> spans;
    std::vector<field_line> fields;
    /// Set when walking stopped early (bytes that do not decode); the hex dump then shows the
    /// rest of the frame as one "not decoded" span.
    bool incomplete = false;
};

// ---- value text -------------------------------------------------------------------------------

/// `s` in double quotes, with `"`, `\` and non-printable octets escaped (\n, \xNN), at most
/// `limit` bytes (then `...`).
std::string quoted(std::string_view s, std::size_t limit = std::string_view::npos);
/// The spec's name of a class id ("basic"), or nullptr.
const char* class_name(std::uint16_t id) noexcept;
/// "2024-01-31 12:00:00 UTC (1706702400)".
std::string timestamp_text(std::uint64_t seconds);

// ---- walkers (each appends to `out`; `base` is the frame offset of the first byte given) ------

/// The arguments of a method payload after its class and method ids. `method` is the method's
/// dotted name; returns false if the arguments do not decode (out.incomplete is then set).
bool walk_method_arguments(std::uint16_t class_id, std::uint16_t method_id, bytes_view args, std::size_t base,
                           layout& out);

/// A content header payload (class, weight, body size, flags, properties).
bool walk_content_header(bytes_view payload, std::size_t base, layout& out);

/// The entries of a field table's body (after its length prefix). `path` prefixes span labels
/// ("server-properties"), `indent` is the decoded view's depth for the entries.
bool walk_table(bytes_view raw, std::size_t base, const std::string& path, int indent, std::size_t depth, layout& out);

// ---- hex dump --------------------------------------------------------------------------------

/// Append the annotated hex dump of `bytes` (the frame) to `text`: one or more lines per span,
/// 16 bytes per line at most, each span's label on its first line. Bytes no span covers are
/// shown as "(not decoded)". `body_limit` caps the bytes shown of any span marked as a body.
void append_hex_dump(std::string& text, bytes_view bytes, const std::vector<span>& spans, std::size_t max_span_bytes);

}  // namespace amqp::trace::detail
