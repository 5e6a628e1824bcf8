// One captured packet → its TCP segment: link-layer framing, IPv4/IPv6, TCP header.
#include <arpa/inet.h>

#include "tcp.hpp"

namespace amqp_decode {
namespace {

std::uint16_t be16(amqp::bytes_view b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
std::uint32_t be32(amqp::bytes_view b, std::size_t at) {
    return static_cast<std::uint32_t>(b[at]) << 24 | static_cast<std::uint32_t>(b[at + 1]) << 16 |
           static_cast<std::uint32_t>(b[at + 2]) << 8 | b[at + 3];
}

constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_ipv6 = 0x86dd;
constexpr std::uint16_t ethertype_vlan = 0x8100;
constexpr std::uint8_t ip_proto_tcp = 6;

std::string address(int family, const std::uint8_t* a, std::uint16_t port) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, a, buf, sizeof buf);
    return family == AF_INET6 ? "[" + std::string(buf) + "]:" + std::to_string(port)
                              : std::string(buf) + ":" + std::to_string(port);
}

std::optional<tcp_segment> parse_tcp(amqp::bytes_view tcp, int family, const std::uint8_t* src,
                                     const std::uint8_t* dst) {
    if (tcp.size() < 20) return std::nullopt;
    const std::size_t header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    if (header < 20 || header > tcp.size()) return std::nullopt;
    tcp_segment s;
    s.src_port = be16(tcp, 0);
    s.dst_port = be16(tcp, 2);
    s.seq = be32(tcp, 4);
    s.syn = (tcp[13] & 0x02) != 0;
    s.ack = (tcp[13] & 0x10) != 0;
    s.src = address(family, src, s.src_port);
    s.dst = address(family, dst, s.dst_port);
    s.payload = tcp.subspan(header);
    return s;
}

std::optional<tcp_segment> parse_ip(amqp::bytes_view ip) {
    if (ip.empty()) return std::nullopt;
    if ((ip[0] >> 4) == 4) {
        if (ip.size() < 20) return std::nullopt;
        const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
        const std::size_t total = be16(ip, 2);
        // Fragments (more-fragments flag or an offset) would need IP reassembly: loopback and
        // TCP with path-MTU discovery never produce them.
        if (ihl < 20 || total < ihl || total > ip.size() || ip[9] != ip_proto_tcp || (be16(ip, 6) & 0x3fff) != 0)
            return std::nullopt;
        return parse_tcp(ip.subspan(ihl, total - ihl), AF_INET, ip.data() + 12, ip.data() + 16);
    }
    if ((ip[0] >> 4) == 6) {
        if (ip.size() < 40) return std::nullopt;
        const std::size_t len = be16(ip, 4);
        if (ip[6] != ip_proto_tcp || 40 + len > ip.size()) return std::nullopt;  // extension headers: not TCP here
        return parse_tcp(ip.subspan(40, len), AF_INET6, ip.data() + 8, ip.data() + 24);
    }
    return std::nullopt;
}

std::optional<tcp_segment> by_ethertype(std::uint16_t type, amqp::bytes_view rest) {
    if (type == ethertype_ipv4 || type == ethertype_ipv6) return parse_ip(rest);
    return std::nullopt;
}

std::optional<tcp_segment> parse_as(amqp::bytes_view d, link_type lt) {
    switch (lt) {
        case link_type::ethernet: {
            if (d.size() < 14) return std::nullopt;
            std::size_t at = 12;
            std::uint16_t type = be16(d, at);
            if (type == ethertype_vlan && d.size() >= 18) {
                at += 4;
                type = be16(d, at);
            }
            return by_ethertype(type, d.subspan(at + 2));
        }
        case link_type::linux_sll:
            if (d.size() < 16) return std::nullopt;
            return by_ethertype(be16(d, 14), d.subspan(16));
        case link_type::linux_sll2:
            if (d.size() < 20) return std::nullopt;
            return by_ethertype(be16(d, 0), d.subspan(20));
        case link_type::raw_ip:
            return parse_ip(d);
        case link_type::null_loopback:
            // A 4-byte address family in the capturing host's byte order; the IP version nibble
            // that follows says the rest.
            if (d.size() < 4) return std::nullopt;
            return parse_ip(d.subspan(4));
        case link_type::guess:
            for (auto t : {link_type::ethernet, link_type::raw_ip, link_type::linux_sll, link_type::linux_sll2,
                           link_type::null_loopback})
                if (auto s = parse_as(d, t)) return s;
            return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

std::optional<link_type> link_type_from_dlt(int dlt) {
    switch (dlt) {
        case 0:
            return link_type::null_loopback;  // DLT_NULL
        case 1:
            return link_type::ethernet;  // DLT_EN10MB
        case 12:
        case 14:
        case 101:
            return link_type::raw_ip;  // DLT_RAW (and its old numbers)
        case 108:
            return link_type::null_loopback;  // DLT_LOOP
        case 113:
            return link_type::linux_sll;  // DLT_LINUX_SLL
        case 276:
            return link_type::linux_sll2;  // DLT_LINUX_SLL2
        default:
            return std::nullopt;
    }
}

std::optional<tcp_segment> parse_packet(amqp::bytes_view data, link_type lt) { return parse_as(data, lt); }

}  // namespace amqp_decode
