#include <programs/cli.hpp>

#include <rpc/error.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace rpc::cli {
namespace {

// Options every program accepts, on top of its own.
constexpr option_spec common_trace_option{"trace", false};
constexpr std::string_view trace_usage =
    "  --trace              print every AMQP frame sent and received to stderr (or AMQP_TRACE=1)\n";

}  // namespace

std::optional<std::string> arguments::value(std::string_view name) const {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> arguments::all(std::string_view name) const {
    auto it = repeated.find(name);
    return it == repeated.end() ? std::vector<std::string>{} : it->second;
}

bool arguments::flag(std::string_view name) const { return std::find(flags.begin(), flags.end(), name) != flags.end(); }

namespace {

std::string usage_of(std::string_view head, option_groups groups) {
    std::string text(head);
    for (const option_group& g : groups) text += g.usage;
    return text;
}

}  // namespace

arguments parse_arguments(int argc, const char* const* argv, option_groups groups) {
    std::vector<option_spec> options;
    for (const option_group& g : groups) options.insert(options.end(), g.options.begin(), g.options.end());
    arguments out;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (options_done || arg.size() < 2 || arg[0] != '-') {
            out.positionals.emplace_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            out.help = true;
            continue;
        }
        if (arg.substr(0, 2) != "--") throw usage_error("unknown option '" + std::string(arg) + "'");
        std::string_view name = arg.substr(2);
        std::optional<std::string_view> inline_value;
        if (auto eq = name.find('='); eq != std::string_view::npos) {
            inline_value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        if (name == common_trace_option.name) {  // every program has --trace
            if (inline_value) throw usage_error("option '--trace' takes no value");
            out.flags.emplace_back(name);
            continue;
        }
        const auto spec = std::find_if(options.begin(), options.end(),
                                       [&](const option_spec& s) { return s.name == name; });
        if (spec == options.end()) throw usage_error("unknown option '--" + std::string(name) + "'");
        if (!spec->takes_value) {
            if (inline_value) throw usage_error("option '--" + std::string(name) + "' takes no value");
            out.flags.emplace_back(name);
            continue;
        }
        if (!inline_value && i + 1 >= argc) throw usage_error("option '--" + std::string(name) + "' needs a value");
        const std::string v = inline_value ? std::string(*inline_value) : std::string(argv[++i]);
        out.values[std::string(name)] = v;
        out.repeated[std::string(name)].push_back(v);
    }
    return out;
}

std::uint64_t parse_count(std::string_view text, std::uint64_t min, std::uint64_t max, std::string_view what) {
    const auto bad = [&] {
        return usage_error(std::string(what) + " must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max) + ", got '" + std::string(text.substr(0, 40)) + "'");
    };
    if (text.empty() || text.size() > 20) throw bad();
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') throw bad();
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) throw bad();
        v = v * 10 + d;
    }
    if (v < min || v > max) throw bad();
    return v;
}

std::chrono::milliseconds parse_seconds(std::string_view text, std::string_view what) {
    const auto bad = [&] {
        return usage_error(std::string(what) +
                           " must be a positive number of seconds (at most 86400, up to 3 decimals), got '" +
                           std::string(text.substr(0, 40)) + "'");
    };
    const auto dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    if (whole.empty() || whole.size() > 5 || frac.size() > 3 || (dot != std::string_view::npos && frac.empty()))
        throw bad();
    std::int64_t ms = 0;
    for (char c : whole) {
        if (c < '0' || c > '9') throw bad();
        ms = ms * 10 + (c - '0');
    }
    ms *= 1000;
    std::int64_t scale = 100;
    for (char c : frac) {
        if (c < '0' || c > '9') throw bad();
        ms += (c - '0') * scale;
        scale /= 10;
    }
    if (ms <= 0 || ms > 86400 * 1000) throw bad();
    return std::chrono::milliseconds(ms);
}

namespace {
// Lines come from several threads (a server's worker pool and its main thread): one lock keeps
// each line whole instead of interleaving two of them character by character.
//
// On a terminal each line is flushed at once. Otherwise (a pipe, a file) a write per line would
// cost a server one syscall per request: lines wait in stdout's own buffer (where anything else
// written to std::cout keeps its place among them) and a flusher thread writes them out
// flush_delay after the first of them, so a reader through a pipe still sees each line within
// milliseconds. Exit flushes stdio itself; the state is never destroyed, so the detached flusher
// may outlive main.
constexpr auto flush_delay = std::chrono::milliseconds(2);

struct console {
    std::mutex mutex;
    std::condition_variable wake;
    bool pending = false;  // lines buffered and not yet flushed
    bool flusher_started = false;
    const bool terminal = isatty(STDOUT_FILENO) == 1;

    void write(std::string_view line) {
        std::unique_lock lock(mutex);
        std::cout << line << '\n';
        if (terminal) {
            std::cout.flush();
            return;
        }
        if (pending) return;
        pending = true;
        if (!flusher_started) {
            flusher_started = true;
            std::thread([this] { flush_loop(); }).detach();
        }
        lock.unlock();
        wake.notify_one();
    }

    void flush_loop() {
        for (;;) {
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [this] { return pending; });
            }
            std::this_thread::sleep_for(flush_delay);  // let the lines of a burst join
            std::lock_guard lock(mutex);
            std::cout.flush();
            pending = false;
        }
    }
};

console& the_console() {
    static console* const c = new console;  // never destroyed: see above
    return *c;
}
}  // namespace

void say(std::string_view line) { the_console().write(line); }

namespace {
// The last guard before the terminal: whatever a reason holds (peer text is escaped where it is
// put into one, with amqp::printable), it stays one line with no terminal escapes, and bounded.
std::string one_line(std::string_view text) {
    constexpr std::size_t max_reason = 4096;
    std::string out;
    out.reserve(std::min(text.size(), max_reason) + 8);
    for (std::size_t i = 0; i < text.size() && i < max_reason; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != 0x7F) {
            out += static_cast<char>(c);
        } else {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    if (text.size() > max_reason) out += "...";
    return out;
}
}  // namespace

void print_error(std::string_view reason) {
    const std::string line = one_line(reason);
    console& c = the_console();
    const std::lock_guard lock(c.mutex);
    std::cout.flush();  // the lines said before it come first where both streams meet
    std::cerr << " [!] Error: " << line << std::endl;
}

int run(int argc, const char* const* argv, std::string_view usage, option_groups groups,
        const std::function<int(const arguments&)>& body) {
    const std::string text = usage_of(usage, groups);
    std::string prog = argc > 0 ? argv[0] : "program";
    if (auto slash = prog.rfind('/'); slash != std::string::npos) prog.erase(0, slash + 1);
    try {
        const arguments args = parse_arguments(argc, argv, groups);
        if (args.help) {
            std::cout << text << trace_usage << std::flush;
            return exit_ok;
        }
        return body(args);
    } catch (const usage_error& e) {
        std::cerr << prog << ": " << e.what() << "\n" << text << trace_usage << std::flush;
        return exit_usage;
    } catch (const call_error& e) {
        print_error(e.reason());
        return exit_failure;
    } catch (const boost::system::system_error& e) {
        print_error(describe(e));
        return exit_failure;
    } catch (const std::exception& e) {
        print_error(e.what());
        return exit_failure;
    }
}

io_thread::io_thread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

io_thread::~io_thread() {
    work_.reset();
    io_.stop();
    thread_.join();
}

}  // namespace rpc::cli
