// What the programs (examples/, bench/, the cluster tests' load client) share: a small argv
// parser, the option groups they compose (broker, queue, client, server; each with its usage
// lines and the one function that parses it), number parsing, console output, the I/O thread,
// and the exit-status contract (0 ok, 1 failure with " [!] Error: <reason>", 2 usage).
#pragma once

#include <amqp/connection_options.hpp>
#include <fibonacci/fibonacci.hpp>
#include <rpc/broker_nodes.hpp>
#include <rpc/rpc_client.hpp>
#include <rpc/server_queue.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace rpc {
struct server_options;  // <rpc/rpc_server.hpp>
}

namespace rpc::cli {

/// The broker when neither --url nor AMQP_URL says otherwise.
inline constexpr std::string_view default_url = "amqp://guest:guest@localhost:5672/";

/// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

/// A command line that does not fit the program's usage (→ usage on stderr, exit 2).
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// An option the program accepts: "--name VALUE" / "--name=VALUE" when takes_value, else a flag.
struct option_spec {
    std::string_view name;  ///< without the leading "--"
    bool takes_value = false;
};

/// Options that belong together (the broker's, a client's queue, …), with their lines of the usage
/// text. A program passes the groups it takes to run() or parse_arguments(), its own options as one
/// more group; each shared group below is turned into its struct by the function declared with it,
/// and its usage lines are written once, in the .cpp that holds that function.
struct option_group {
    std::vector<option_spec> options;
    std::string_view usage;  ///< "  --name VALUE         what it does\n" per option, aligned at column 23
};

/// The groups a program takes, in the order their usage lines are printed.
using option_groups = std::initializer_list<std::reference_wrapper<const option_group>>;

/// The command line, split. "--help"/"-h" sets help; "--" ends the options.
struct arguments {
    std::map<std::string, std::string, std::less<>> values;  ///< options with a value (the last one given)
    std::map<std::string, std::vector<std::string>, std::less<>> repeated;  ///< every value, in order
    std::vector<std::string> flags;                                         ///< options without one
    std::vector<std::string> positionals;
    bool help = false;

    std::optional<std::string> value(std::string_view name) const;
    /// Every value of an option that may repeat (--url A --url B), in order.
    std::vector<std::string> all(std::string_view name) const;
    bool flag(std::string_view name) const;
};

/// The command line against every option of `groups`. Throws usage_error for an unknown option or
/// a missing value.
arguments parse_arguments(int argc, const char* const* argv, option_groups groups);

/// A decimal integer in [min, max]; `what` names it in the error ("N", "--prefetch").
std::uint64_t parse_count(std::string_view text, std::uint64_t min, std::uint64_t max, std::string_view what);
/// Positive seconds, integer or with up to 3 decimals ("30", "0.5"), at most one day.
std::chrono::milliseconds parse_seconds(std::string_view text, std::string_view what);

/// One broker: --url URL.
extern const option_group broker_url_options;
/// The URL rule: the --url value, else $AMQP_URL, else default_url; parsed into options.
/// A bad --url is a usage_error; a bad AMQP_URL is a std::runtime_error.
amqp::connection_options broker_options(const arguments& args);

/// A cluster's nodes: --url URL (repeated), --shuffle-nodes.
extern const option_group broker_node_options;
/// The node-list rule: every --url (the option may repeat), else $AMQP_URLS (comma-separated),
/// else $AMQP_URL, else default_url; tried in that order, or shuffled with --shuffle-nodes. A bad
/// --url is a usage_error, a bad variable a std::runtime_error, each naming the URL without its
/// password.
rpc::broker_nodes broker_nodes_from(const arguments& args);

/// Console output: one line on stdout, whole even when several threads say lines at once. On a
/// terminal it is flushed at once; otherwise (a pipe, a file) within a few milliseconds by a
/// background thread, so that a server printing a line per request does not make a write
/// syscall per request, while a reader through a pipe still sees each line promptly. Lines
/// still buffered are written at exit (std::exit, a return from main; std::_Exit only after
/// std::fflush). Thread-safe.
void say(std::string_view line);
/// " [!] Error: <reason>" on stderr, as one line: control octets shown as \xNN, capped at 4096 bytes.
void print_error(std::string_view reason);

/// Run a program body taking the options of `groups`, with the exit-status contract: usage_error →
/// "<prog>: <message>" and the usage on stderr, exit 2; --help → the usage on stdout, exit 0; any
/// other exception → " [!] Error: <what>", exit 1. The usage printed is `usage` (the synopsis and
/// what the program does), then each group's lines in order.
int run(int argc, const char* const* argv, std::string_view usage, option_groups groups,
        const std::function<int(const arguments&)>& body);

/// An io_context running on its own thread until destroyed, for the connection's I/O.
class io_thread {
public:
    io_thread();
    ~io_thread();
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    boost::asio::io_context& context() noexcept { return io_; }
    boost::asio::io_context::executor_type executor() noexcept { return io_.get_executor(); }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::thread thread_;
};

/// A server's request queue, as a server declares it: --queue-type T, --confirms (its replies).
extern const option_group server_durability_options;
/// The same two options as a client uses them: --queue-type T (requests published persistent),
/// --confirms (its requests).
extern const option_group client_durability_options;
/// --queue-type transient|classic|quorum (default transient); another value is a usage_error.
rpc::queue_type queue_type_from(const arguments& args);
/// Publisher confirms wanted: --confirms, or a durable --queue-type (classic, quorum), whose point
/// is not to lose a request.
bool confirms_from(const arguments& args);

/// A server's intake: --queue Q (1 to 255 characters), --prefetch N (1 to 65535).
extern const option_group server_queue_options;
/// Those two into a server's options, with the durability group's (--queue-type, --confirms), each
/// at its default when absent; a bad value is a usage_error.
rpc::server_options server_options_from(const arguments& args);
/// --workers N (0 to 1024) when given. Not in a group: what the workers run, and so the option's
/// default and usage line, is each server's own.
std::optional<std::size_t> workers_from(const arguments& args);

/// A client's request queue: --queue Q, --direct-reply-to.
extern const option_group client_queue_options;
/// Those two (default rpc_queue, an exclusive reply queue) with the durability group's, each at
/// its default when absent.
rpc::client_options client_options_from(const arguments& args);

/// client.call(n, timeout), then client.close() whether the call succeeded or threw: a failed
/// call (error reply, bad reply, timeout) still ends the session with connection.close, so the
/// broker logs a clean close, not a dropped client. Call and close together end by `timeout`
/// from the start: what is left of it bounds the close handshake (a blocked or frozen broker
/// gets its socket closed without close-ok).
rpc::big_int call_then_close(rpc::rpc_client& client, std::uint64_t n, std::chrono::milliseconds timeout);

}  // namespace rpc::cli
