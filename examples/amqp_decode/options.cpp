// amqp_decode's command line.
#include "options.hpp"

#include <charconv>

namespace amqp_decode {

const std::string_view usage_text =
    "usage: amqp_decode [--hex | --binary] [--sent | --received] [--frame-max N]\n"
    "                   [--body-preview N] [--no-hex] [--no-fields] [--html OUT] [FILE | -]\n"
    "\n"
    "Decodes AMQP 0-9-1 bytes read from FILE or standard input and prints every frame: its\n"
    "header, each method argument / content property by name, and an annotated hex dump.\n"
    "\n"
    "The input may be (detected):\n"
    "  a capture      pcap or pcapng (tcpdump -w, tshark -w, Wireshark): split into TCP\n"
    "                 connections, each direction reassembled and decoded from its protocol\n"
    "                 header, with timestamps\n"
    "  a hex dump     xxd, hexdump -C, tshark -x (whole packets: split like a capture), the\n"
    "                 hex lines of our trace or walkthrough (offset and label columns dropped)\n"
    "  hex text       pairs of hex digits, with any spaces, newlines, ':' or ',' between them\n"
    "                 and optional 0x prefixes (Wireshark's \"Copy as Hex Stream\", xxd -p)\n"
    "  raw bytes      an optional protocol header, then frames, from either peer\n"
    "\n"
    "  --hex          the input is hex text or a hex dump (do not guess)\n"
    "  --binary       the input is raw bytes (do not guess)\n"
    "  --sent         label the frames as sent by us (client to broker)\n"
    "  --received     label the frames as received (broker to client)\n"
    "  --frame-max N  reject frames larger than N bytes, as a connection that negotiated\n"
    "                 frame_max N would (default: no limit)\n"
    "  --body-preview N  body bytes shown as text (default 64)\n"
    "  --no-hex       omit the hex dumps\n"
    "  --no-fields    omit the decoded fields\n"
    "  --html OUT     write one self-contained HTML page to OUT instead: the conversation in\n"
    "                 two columns (client, broker), each frame's fields linked to its bytes\n"
    "\n"
    "Exit status: 0 all bytes decoded, 1 malformed input or a broken channel rule (reply code,\n"
    "offset and field on stderr), 2 usage error.\n";

namespace {

std::uint64_t parse_number(std::string_view text, std::uint64_t min, std::uint64_t max, std::string_view what) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
        throw usage_error{std::string(what) + " wants a number from " + std::to_string(min) + " to " +
                          std::to_string(max) + ", not '" + std::string(text) + "'"};
    return v;
}

}  // namespace

settings parse_args(int argc, char** argv) {
    settings s;
    bool have_path = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto is = [&](std::string_view name) {
            return a == name || (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=');
        };
        auto value = [&](std::string_view name) -> std::string_view {
            if (a.size() > name.size()) return a.substr(name.size() + 1);
            if (i + 1 >= argc) throw usage_error{std::string(name) + " needs a value"};
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            s.help = true;
        } else if (a == "--hex") {
            s.format = input_format::hex;
        } else if (a == "--binary") {
            s.format = input_format::binary;
        } else if (a == "--sent") {
            s.dir = amqp::trace::direction::sent;
        } else if (a == "--received") {
            s.dir = amqp::trace::direction::received;
        } else if (a == "--no-hex") {
            s.opts.hex = false;
        } else if (a == "--no-fields") {
            s.opts.decoded = false;
        } else if (is("--frame-max")) {
            s.frame_max = static_cast<std::uint32_t>(
                parse_number(value("--frame-max"), 4096, std::numeric_limits<std::uint32_t>::max(), "--frame-max"));
        } else if (is("--html")) {
            s.html = std::string(value("--html"));
        } else if (is("--body-preview")) {
            s.opts.body_preview = parse_number(value("--body-preview"), 0, 1u << 20, "--body-preview");
        } else if (a.size() > 1 && a[0] == '-') {
            throw usage_error{"unknown option '" + std::string(a) + "'"};
        } else if (have_path) {
            throw usage_error{"more than one input file"};
        } else {
            s.path = std::string(a);
            have_path = true;
        }
    }
    return s;
}

}  // namespace amqp_decode
