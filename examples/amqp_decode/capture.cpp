// pcap and pcapng captures → packets with timestamps, through libpcap (which reads both formats).
#include "capture.hpp"

#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

namespace amqp_decode {

bool looks_like_capture(std::string_view data) {
    if (data.size() < 4) return false;
    std::uint32_t magic = 0;
    std::memcpy(&magic, data.data(), 4);
    switch (magic) {
        case 0xa1b2c3d4:
        case 0xd4c3b2a1:  // pcap, microseconds (either byte order)
        case 0xa1b23c4d:
        case 0x4d3cb2a1:  // pcap, nanoseconds
        case 0x0a0d0d0a:  // pcapng section header block
            return true;
        default:
            return false;
    }
}

bool read_capture(const std::string& data, std::vector<packet>& packets, link_type& lt, std::string& error) {
    // libpcap reads from a FILE*; the bytes are already in memory (a file or standard input).
    FILE* f = fmemopen(const_cast<char*>(data.data()), data.size(), "rb");
    if (f == nullptr) {
        error = std::string("fmemopen: ") + std::strerror(errno);
        return false;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    // pcap_fopen_offline takes the FILE and closes it in pcap_close.
    std::unique_ptr<pcap_t, decltype(&pcap_close)> p(
        pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf), &pcap_close);
    if (!p) {
        std::fclose(f);
        error = std::string("not a capture libpcap can read: ") + errbuf;
        return false;
    }
    const int dlt = pcap_datalink(p.get());
    const auto t = link_type_from_dlt(dlt);
    if (!t) {
        const char* name = pcap_datalink_val_to_name(dlt);
        error = "link type " + std::to_string(dlt) + " (" + (name ? name : "?") +
                ") is not one we parse (Ethernet, Linux cooked, raw IP, loopback)";
        return false;
    }
    lt = *t;
    pcap_pkthdr* h = nullptr;
    const u_char* bytes = nullptr;
    int rc = 0;
    while ((rc = pcap_next_ex(p.get(), &h, &bytes)) == 1) {
        packet pk;
        pk.time = static_cast<double>(h->ts.tv_sec) + static_cast<double>(h->ts.tv_usec) * 1e-9;
        pk.data.assign(bytes, bytes + h->caplen);
        packets.push_back(std::move(pk));
    }
    if (rc == PCAP_ERROR) {
        error = std::string("capture ends in a damaged record after ") + std::to_string(packets.size()) +
                " packet(s): " + pcap_geterr(p.get());
        return false;
    }
    return true;
}

}  // namespace amqp_decode
