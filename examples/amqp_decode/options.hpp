// amqp_decode's command line: what to read, how to label it, how much to show.
#pragma once

#include <amqp/codec/trace.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace amqp_decode {

inline constexpr int exit_ok = 0;
inline constexpr int exit_malformed = 1;
inline constexpr int exit_usage = 2;

struct usage_error {
    std::string message;
};

enum class input_format { detect, hex, binary, pcap };

struct settings {
    input_format format = input_format::detect;
    amqp::trace::direction dir = amqp::trace::direction::unknown;
    std::uint32_t frame_max = std::numeric_limits<std::uint32_t>::max();
    amqp::trace::format_options opts;
    std::string path = "-";
    std::string html;  ///< --html OUT: write the interactive page there instead of text
    bool help = false;
};

extern const std::string_view usage_text;

/// Throws usage_error.
settings parse_args(int argc, char** argv);

}  // namespace amqp_decode
