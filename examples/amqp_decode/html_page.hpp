// The interactive page: one self-contained HTML file (inline CSS and JavaScript, nothing fetched).
#pragma once

#include "decode.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace amqp_decode {

/// Writes the conversations as a page: client frames on the left, broker frames on the right,
/// in the order they were sent, with times; each frame expands into its fields, and pointing at
/// (or clicking) a field highlights its bytes in the frame's hex view, and the reverse. Reply
/// codes are explained inline; masked bytes (the PLAIN password) are shown as ** and their values
/// are not in the file. The frames' text must have been printed with the hex dump on.
void write_page(std::ostream& out, const std::vector<decoded_conversation>& conversations, const std::string& source);

}  // namespace amqp_decode
