// One frame as the tracer printed it, taken apart for the interactive page: its heading, faults,
// decoded view, and the byte ranges of its fields (from the annotated hex dump).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace amqp_decode {

struct page_span {
    std::size_t offset = 0;
    std::size_t length = 0;
    std::string label;  ///< "routing-key = \"rpc_queue\""
    bool masked = false;
};

struct page_frame {
    std::string heading;               ///< the tracer's first line, without the direction arrow
    std::vector<std::string> notes;    ///< "!! ..." faults and "hint: ..." lines
    std::vector<std::string> decoded;  ///< the decoded view's lines
    std::vector<std::uint8_t> bytes;   ///< masked bytes are 0 here: their values never reach the page
    std::vector<bool> masked;          ///< per byte
    std::vector<page_span> spans;      ///< in frame order, covering every byte shown
};

/// Takes apart the text of one frame printed with the hex dump on and no body limit.
page_frame parse_frame_text(const std::string& text);

}  // namespace amqp_decode
