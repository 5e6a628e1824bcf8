// amqp_decode: print raw AMQP 0-9-1 bytes frame by frame, each field named, with an annotated hex
// dump — the same view `--trace` gives of a live connection. For bytes copied from Wireshark
// ("Copy as Hex Stream"), `xxd -p`, a log, or a file of raw bytes.
//
//   amqp_decode [options] [FILE]        (no FILE, or "-": standard input)
//
// Exit status: 0 every byte decoded; 1 malformed input (the codec's reply code, offset and
// field on stderr) or unreadable file; 2 usage error.
#include <amqp/error.hpp>
#include <amqp/trace.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_malformed = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage_text =
    "usage: amqp_decode [--hex | --binary] [--sent | --received] [--frame-max N]\n"
    "                   [--body-preview N] [--no-hex] [--no-fields] [FILE | -]\n"
    "\n"
    "Decodes AMQP 0-9-1 bytes (an optional protocol header, then frames, from either peer)\n"
    "read from FILE or standard input, and prints every frame: its header, each method\n"
    "argument / content property by name, and an annotated hex dump.\n"
    "\n"
    "  --hex          input is hex text: pairs of hex digits, with any spaces, newlines,\n"
    "                 ':' or ',' between them and optional 0x prefixes (Wireshark's\n"
    "                 \"Copy as Hex Stream\", xxd -p)\n"
    "  --binary       input is raw bytes\n"
    "                 (default: hex if the input holds only such text, else binary)\n"
    "  --sent         label the frames as sent by us (client to broker)\n"
    "  --received     label the frames as received (broker to client)\n"
    "  --frame-max N  reject frames larger than N bytes, as a connection that negotiated\n"
    "                 frame_max N would (default: no limit)\n"
    "  --body-preview N  body bytes shown as text (default 64)\n"
    "  --no-hex       omit the hex dumps\n"
    "  --no-fields    omit the decoded fields\n"
    "\n"
    "Exit status: 0 all bytes decoded, 1 malformed input (reply code, offset and field on\n"
    "stderr), 2 usage error.\n";

struct usage_error {
    std::string message;
};

enum class input_format { detect, hex, binary };

struct settings {
    input_format format = input_format::detect;
    amqp::trace::direction dir = amqp::trace::direction::unknown;
    std::uint32_t frame_max = std::numeric_limits<std::uint32_t>::max();
    amqp::trace::format_options opts;
    std::string path = "-";
};

std::uint64_t parse_number(std::string_view text, std::uint64_t min, std::uint64_t max, std::string_view what) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < min || v > max)
        throw usage_error{std::string(what) + " wants a number from " + std::to_string(min) + " to " +
                          std::to_string(max) + ", not '" + std::string(text) + "'"};
    return v;
}

settings parse_args(int argc, char** argv, bool& help) {
    settings s;
    bool have_path = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&](std::string_view name) -> std::string_view {
            if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=')
                return a.substr(name.size() + 1);
            if (i + 1 >= argc) throw usage_error{std::string(name) + " needs a value"};
            return argv[++i];
        };
        auto is = [&](std::string_view name) {
            return a == name || (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=');
        };
        if (a == "-h" || a == "--help") {
            help = true;
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
            s.frame_max = static_cast<std::uint32_t>(parse_number(value("--frame-max"), 4096,
                                                                  std::numeric_limits<std::uint32_t>::max(), "--frame-max"));
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

bool is_hex_digit(unsigned char c) { return std::isxdigit(c) != 0; }
bool is_separator(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':' || c == ','; }

/// Hex text → bytes. Returns an explanation on failure.
std::optional<std::string> parse_hex(std::string_view text, std::vector<std::uint8_t>& out) {
    int high = -1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (is_separator(c)) {
            if (high >= 0) return "hex digit pair split by a separator at character " + std::to_string(i);
            continue;
        }
        if (high < 0 && c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
            ++i;
            continue;
        }
        if (!is_hex_digit(c)) return "character " + std::to_string(i) + " is not a hex digit";
        const int v = std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10;
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high * 16 + v));
            high = -1;
        }
    }
    if (high >= 0) return "odd number of hex digits";
    return std::nullopt;
}

/// Could this be hex text? (Binary AMQP never is: "AMQP" and frame types 1,2,3,8 are not text.)
bool looks_like_hex(std::string_view text) {
    bool any_digit = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (is_hex_digit(c)) {
            any_digit = true;
        } else if (!(is_separator(c) || ((c == 'x' || c == 'X') && i > 0 && text[i - 1] == '0'))) {
            return false;
        }
    }
    return any_digit;
}

int run(const settings& s) {
    std::string raw;
    if (s.path == "-") {
        raw.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(s.path, std::ios::binary);
        if (!in) {
            std::cerr << "amqp_decode: cannot open '" << s.path << "': " << std::strerror(errno) << "\n";
            return exit_malformed;
        }
        raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    std::vector<std::uint8_t> bytes;
    const bool hex = s.format == input_format::hex || (s.format == input_format::detect && looks_like_hex(raw));
    if (hex) {
        if (auto why = parse_hex(raw, bytes)) {
            std::cerr << "amqp_decode: input is not hex text: " << *why << "\n";
            return exit_malformed;
        }
    } else {
        bytes.assign(raw.begin(), raw.end());
    }
    if (bytes.empty()) {
        std::cerr << "amqp_decode: no input bytes\n";
        return exit_malformed;
    }

    const amqp::trace::stream_result r = amqp::trace::format_stream(std::cout, s.dir, bytes, s.opts, s.frame_max);
    std::cout.flush();
    if (r.ec) {
        std::cerr << "amqp_decode: ";
        if (r.ec.category() == amqp::reply_category())
            std::cerr << r.ec.value() << " " << amqp::reply_code_name(static_cast<std::uint16_t>(r.ec.value()));
        else
            std::cerr << r.ec.message();
        std::cerr << " at input offset " << r.diag.offset;
        if (!r.diag.field.empty()) std::cerr << ", field " << r.diag.field;
        std::cerr << ": " << r.diag.message << " (" << r.frames << " whole frame(s) read)\n";
        return exit_malformed;
    }
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        bool help = false;
        const settings s = parse_args(argc, argv, help);
        if (help) {
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
