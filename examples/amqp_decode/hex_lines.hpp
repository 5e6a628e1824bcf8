// Small helpers shared by the hex-dump readers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "input.hpp"

namespace amqp_decode {

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Lines without their line ends ("\n" or "\r\n").
std::vector<std::string_view> split_lines(std::string_view text);

/// A hex offset column; nullopt if it is not one (or absurdly long).
std::optional<std::size_t> parse_offset(std::string_view digits);

/// Space-separated groups of hex digit pairs ("0100 0e00", "01 00 0e") appended as bytes.
std::optional<std::string> append_hex_tokens(std::string_view area, std::vector<std::uint8_t>& out);

/// A line of our trace or walkthrough: a frame's heading (">> sent ...", "<< received ...",
/// "-- ...") or an annotated hex line ("    0007  00 3c   class-id = 60 (basic)").
bool is_trace_line(std::string_view line);

/// Our trace's (or walkthrough's) frames, each its own stream labelled by its arrow, decoded in
/// the order they were traced. Hex lines without headings are one stream labelled `dir`. A trace
/// made with AMQP_TRACE=time ("[14:03:07.123456 c2] >> sent ...") gives one conversation per
/// connection id, timed from the first heading. Empty (with `error` set) on failure.
std::vector<conversation> read_trace_lines(const std::vector<std::string_view>& lines, amqp::trace::direction dir,
                                           std::string& error);

}  // namespace amqp_decode
