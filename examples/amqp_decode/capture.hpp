// pcap and pcapng captures (through libpcap).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "input.hpp"
#include "tcp.hpp"

namespace amqp_decode {

/// True when `data` starts with a pcap or pcapng file's magic number.
bool looks_like_capture(std::string_view data);

/// Every packet of a capture held in memory, times in seconds. On failure (libpcap refuses the
/// file, or its link type is one we do not parse) returns false with `error` set.
bool read_capture(const std::string& data, std::vector<packet>& packets, link_type& lt, std::string& error);

}  // namespace amqp_decode
