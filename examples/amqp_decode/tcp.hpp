// From captured packets to AMQP byte streams: link, IP and TCP headers parsed, packets grouped by
// TCP connection and direction, each direction reassembled in sequence order.
#pragma once

#include <amqp/codec/types.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "input.hpp"

namespace amqp_decode {

enum class link_type { ethernet, linux_sll, linux_sll2, raw_ip, null_loopback, guess };

/// libpcap's DLT_* number → the link types we parse; nullopt for any other.
std::optional<link_type> link_type_from_dlt(int dlt);

struct tcp_segment {
    std::string src;  ///< "address:port"
    std::string dst;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    bool syn = false;
    bool ack = false;
    amqp::bytes_view payload;  ///< into the packet
};

/// The TCP segment in one packet; nullopt when it holds none (not IP, not TCP, an IP fragment, or
/// cut short). `guess` tries Ethernet, raw IP, Linux cooked and BSD loopback framing in turn (for
/// a `tshark -x` dump, which does not say).
std::optional<tcp_segment> parse_packet(amqp::bytes_view data, link_type lt);

/// One segment of one direction, in capture order.
struct captured_segment {
    std::uint32_t seq = 0;
    bool syn = false;
    double time = 0;
    std::vector<std::uint8_t> payload;
};

/// One direction's bytes in sequence order: retransmitted and overlapping bytes taken once,
/// out-of-order segments put in place. A hole (bytes the capture never saw) ends the stream
/// there, with a note saying how many bytes are missing.
stream reassemble(std::vector<captured_segment> segments);

/// Every TCP connection in `packets` that carries AMQP (a protocol header, or port 5672/5671),
/// in order of first packet: client → broker is `sent`, broker → client `received`. Connections
/// skipped and packets not understood are counted in `notes`.
std::vector<conversation> split_tcp(const std::vector<packet>& packets, link_type lt, bool timed,
                                    std::vector<std::string>& notes);

}  // namespace amqp_decode
