// amqp_decode: print AMQP 0-9-1 bytes frame by frame, each field named, with an annotated hex
// dump — the same view `--trace` gives of a live connection — from what a learner has: a pcap or
// pcapng capture, a hex dump (xxd, hexdump -C, tshark -x, our trace), hex text or raw bytes.
//
//   amqp_decode [options] [FILE]        (no FILE, or "-": standard input)
//
// Exit status: 0 every byte decoded; 1 malformed input (the codec's reply code, offset and
// field on stderr) or unreadable file; 2 usage error.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include "capture.hpp"
#include "decode.hpp"
#include "hex_dump.hpp"
#include "html_page.hpp"
#include "options.hpp"
#include "tcp.hpp"

namespace amqp_decode {
namespace {

bool read_all(const std::string& path, std::string& raw) {
    if (path == "-") {
        raw.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        return true;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "amqp_decode: cannot open '" << path << "': " << std::strerror(errno) << "\n";
        return false;
    }
    raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

/// Text on stdout, or the interactive page into the --html file.
int emit(const std::vector<conversation>& conversations, const settings& s) {
    if (s.html.empty()) return decode_conversations(std::cout, std::cerr, conversations, s);
    settings page = s;
    page.opts.hex = true;
    page.opts.decoded = true;
    page.opts.hex_body_limit = std::size_t{1} << 30;  // every byte shown (the limit is added to offsets)
    const auto decoded = decode_all(conversations, page);
    std::ofstream out(s.html, std::ios::binary | std::ios::trunc);
    write_page(out, decoded, s.path == "-" ? "standard input" : s.path);
    if (!out.flush()) {
        std::cerr << "amqp_decode: cannot write '" << s.html << "': " << std::strerror(errno) << "\n";
        return exit_malformed;
    }
    int status = exit_ok;
    std::size_t frames = 0;
    for (const auto& c : decoded) {
        frames += c.frames.size();
        for (const auto& f : c.faults) {
            if (f.rfind("hint: ", 0) != 0) status = exit_malformed;
            std::cerr << "amqp_decode: " << f << "\n";
        }
    }
    std::cout << "wrote " << s.html << ": " << decoded.size() << " conversation(s), " << frames << " frame(s)\n";
    return status;
}

/// Packets (a capture, or tshark -x) → one conversation per AMQP connection.
int decode_packets(const std::vector<packet>& packets, link_type lt, bool timed, const std::string& what,
                   const settings& s) {
    std::vector<std::string> notes;
    const auto conversations = split_tcp(packets, lt, timed, notes);
    std::cout << "# " << what << ": " << packets.size() << " packet(s), " << conversations.size()
              << " AMQP connection(s)\n";
    for (const auto& n : notes) std::cout << "# " << n << "\n";
    std::cout << "\n";
    if (conversations.empty()) {
        std::cerr << "amqp_decode: no AMQP connection in the " << what << "\n";
        return exit_malformed;
    }
    return emit(conversations, s);
}

int run(const settings& s) {
    std::string raw;
    if (!read_all(s.path, raw)) return exit_malformed;
    if (raw.empty()) {
        std::cerr << "amqp_decode: no input bytes\n";
        return exit_malformed;
    }
    if (s.format != input_format::hex && looks_like_capture(raw)) {
        std::vector<packet> packets;
        link_type lt{};
        std::string error;
        if (!read_capture(raw, packets, lt, error)) {
            std::cerr << "amqp_decode: " << error << "\n";
            return exit_malformed;
        }
        return decode_packets(packets, lt, true, "capture", s);
    }
    std::vector<conversation> conversations;
    if (s.format != input_format::binary) {
        std::string error;
        auto hex = read_hex(raw, s.format == input_format::hex, s.dir, error);
        if (!error.empty()) {
            std::cerr << "amqp_decode: " << error << "\n";
            return exit_malformed;
        }
        if (hex && !hex->packets.empty()) return decode_packets(hex->packets, link_type::guess, false, hex->format, s);
        if (hex) {
            if (hex->format != "hex text") std::cout << "# " << hex->format << "\n\n";
            conversations = std::move(hex->conversations);
        }
    }
    if (conversations.empty()) {
        stream st;
        st.dir = s.dir;
        st.bytes.assign(raw.begin(), raw.end());
        st.arrivals.emplace_back(st.bytes.size(), 0.0);
        conversation c;
        c.streams.push_back(std::move(st));
        conversations.push_back(std::move(c));
    }
    for (const auto& c : conversations)
        for (const auto& st : c.streams)
            if (!st.bytes.empty()) return emit(conversations, s);
    std::cerr << "amqp_decode: no input bytes\n";
    return exit_malformed;
}

}  // namespace
}  // namespace amqp_decode

int main(int argc, char** argv) {
    using namespace amqp_decode;
    try {
        const settings s = parse_args(argc, argv);
        if (s.help) {
            std::cout << usage_text;
            return exit_ok;
        }
        return run(s);
    } catch (const usage_error& e) {
        std::cerr << "amqp_decode: " << e.message << "\n" << usage_text;
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "amqp_decode: " << e.what() << "\n";
        return exit_malformed;
    }
}
