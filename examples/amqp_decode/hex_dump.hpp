// Hex text in the shapes a learner has it: xxd, hexdump -C, tshark -x, our own trace and
// walkthrough hex lines, or a bare stream of hex digits.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "input.hpp"

namespace amqp_decode {

struct hex_input {
    std::string format;                       ///< "xxd", "hexdump -C", "tshark -x", "amqp trace", "hex text"
    std::vector<conversation> conversations;  ///< the bytes (all formats but tshark -x)
    std::vector<packet> packets;              ///< tshark -x: whole packets, to be split like a capture
};

/// Reads hex text. Returns nullopt when `text` is not hex text in any shape we know (then it is
/// binary, unless `forced`, in which case `error` says why it is not hex). On hex text that does
/// not parse, returns nullopt with `error` set. `dir` labels bytes whose direction the text does
/// not say.
std::optional<hex_input> read_hex(std::string_view text, bool forced, amqp::trace::direction dir, std::string& error);

}  // namespace amqp_decode
