// Captured TCP segments → one byte stream per connection and direction.
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>

#include "tcp.hpp"

namespace amqp_decode {
namespace {

bool starts_with_amqp(const std::vector<std::uint8_t>& b) {
    return b.size() >= 4 && std::memcmp(b.data(), "AMQP", 4) == 0;
}

bool amqp_port(std::uint16_t p) { return p == 5672 || p == 5671; }

struct endpoint_pair {
    std::string a, b;  ///< a: the source of the first packet seen
    std::uint16_t a_port = 0, b_port = 0;
    std::vector<captured_segment> from_a, from_b;
    bool syn_from_a = false, syn_from_b = false;  ///< a SYN without ACK: that side connected
};

}  // namespace

stream reassemble(std::vector<captured_segment> segments) {
    stream s;
    if (segments.empty()) return s;
    // Relative sequence numbers (mod 2^32) from the SYN's, else from the lowest seen.
    std::uint32_t base = segments.front().seq;
    bool have_syn = false;
    for (const auto& g : segments)
        if (g.syn) {
            base = g.seq + 1;
            have_syn = true;
            break;
        }
    if (!have_syn) {
        std::int32_t lowest = 0;
        for (const auto& g : segments) lowest = std::min(lowest, static_cast<std::int32_t>(g.seq - base));
        base += static_cast<std::uint32_t>(lowest);
    }
    struct piece {
        std::int64_t rel;
        double time;
        const captured_segment* seg;
    };
    std::vector<piece> pieces;
    for (const auto& g : segments) {
        if (g.payload.empty()) continue;
        // A SYN's sequence number is the ISN; its data (rare) starts one later.
        const std::uint32_t first = g.syn ? g.seq + 1 : g.seq;
        pieces.push_back({static_cast<std::int32_t>(first - base), g.time, &g});
    }
    std::stable_sort(pieces.begin(), pieces.end(), [](const piece& x, const piece& y) { return x.rel < y.rel; });
    std::int64_t next = 0;
    double available = -std::numeric_limits<double>::infinity();
    for (const piece& p : pieces) {
        const auto len = static_cast<std::int64_t>(p.seg->payload.size());
        if (p.rel > next) {
            s.note = "the capture is missing " + std::to_string(p.rel - next) +
                     " byte(s) of this direction at stream offset " + std::to_string(next) +
                     " (packets the capture lost): decoding stops there";
            s.cut = true;
            break;
        }
        if (p.rel + len <= next) {
            continue;  // retransmitted: every byte already taken
        }
        const auto skip = static_cast<std::size_t>(next - p.rel);
        s.bytes.insert(s.bytes.end(), p.seg->payload.begin() + static_cast<std::ptrdiff_t>(skip), p.seg->payload.end());
        available = std::max(available, p.time);
        s.arrivals.emplace_back(s.bytes.size(), available);
        next = p.rel + len;
    }
    return s;
}

std::vector<conversation> split_tcp(const std::vector<packet>& packets, link_type lt, bool timed,
                                    std::vector<std::string>& notes) {
    std::vector<endpoint_pair> pairs;
    std::map<std::string, std::size_t> index;
    std::size_t not_tcp = 0;
    const double t0 = packets.empty() ? 0.0 : packets.front().time;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto seg = parse_packet(packets[i].data, lt);
        if (!seg) {
            ++not_tcp;
            continue;
        }
        const std::string key = seg->src < seg->dst ? seg->src + " " + seg->dst : seg->dst + " " + seg->src;
        auto [it, fresh] = index.emplace(key, pairs.size());
        if (fresh) {
            endpoint_pair p;
            p.a = seg->src;
            p.b = seg->dst;
            p.a_port = seg->src_port;
            p.b_port = seg->dst_port;
            pairs.push_back(std::move(p));
        }
        endpoint_pair& p = pairs[it->second];
        const bool from_a = seg->src == p.a;
        captured_segment c{seg->seq, seg->syn, timed ? packets[i].time - t0 : static_cast<double>(i),
                           std::vector<std::uint8_t>(seg->payload.begin(), seg->payload.end())};
        if (seg->syn && !seg->ack) (from_a ? p.syn_from_a : p.syn_from_b) = true;
        (from_a ? p.from_a : p.from_b).push_back(std::move(c));
    }
    if (not_tcp != 0)
        notes.push_back(std::to_string(not_tcp) + " packet(s) hold no TCP segment over IPv4/IPv6: skipped");

    std::vector<conversation> out;
    for (auto& p : pairs) {
        stream sa = reassemble(std::move(p.from_a));
        stream sb = reassemble(std::move(p.from_b));
        if (sa.bytes.empty() && sb.bytes.empty()) continue;  // a handshake or a probe: nothing to decode
        // The client: the side that sent the SYN; else the one that sent the protocol header;
        // else the one not on the AMQP port.
        bool a_is_client = true;
        if (p.syn_from_b && !p.syn_from_a)
            a_is_client = false;
        else if (!p.syn_from_a && starts_with_amqp(sb.bytes) && !starts_with_amqp(sa.bytes))
            a_is_client = false;
        else if (!p.syn_from_a && !starts_with_amqp(sa.bytes) && amqp_port(p.a_port) && !amqp_port(p.b_port))
            a_is_client = false;
        stream& client = a_is_client ? sa : sb;
        stream& broker = a_is_client ? sb : sa;
        const std::string& client_name = a_is_client ? p.a : p.b;
        const std::string& broker_name = a_is_client ? p.b : p.a;
        const std::uint16_t broker_port = a_is_client ? p.b_port : p.a_port;
        if (!starts_with_amqp(client.bytes) && !starts_with_amqp(broker.bytes) && !amqp_port(broker_port)) {
            notes.push_back("connection " + client_name + " -> " + broker_name +
                            " skipped: no AMQP protocol header and not port 5672/5671");
            continue;
        }
        conversation c;
        c.timed = timed;
        c.title = "connection " + std::to_string(out.size() + 1) + ": client " + client_name + " -> broker " +
                  broker_name + "  (client to broker is '>> sent', broker to client '<< received')";
        client.dir = amqp::trace::direction::sent;
        broker.dir = amqp::trace::direction::received;
        c.streams.push_back(std::move(client));
        c.streams.push_back(std::move(broker));
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace amqp_decode
