// A broker that is not there at start: the programs print a clear error and exit non-zero within
// the connection timeout. Two ways to be absent: a closed port (connection refused at once) and a
// blackhole (a socket that accepts the TCP connection through its backlog but never answers the
// protocol header), which only the connection timeout can end.
#include <test_support/child_process.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using rpc_test::child_process;

/// A TCP socket bound to 127.0.0.1 on a free port; listening (a blackhole) or not (closed port:
/// bound only so no one else takes the port while the test runs).
class local_socket {
public:
    explicit local_socket(bool listening) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        EXPECT_GE(fd_, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
        port_ = ntohs(a.sin_port);
        if (listening) {
            EXPECT_EQ(::listen(fd_, 16), 0);
        }
    }
    ~local_socket() { ::close(fd_); }
    local_socket(const local_socket&) = delete;
    local_socket& operator=(const local_socket&) = delete;
    std::string url(int timeout_ms) const {
        return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/?connection_timeout=" +
               std::to_string(timeout_ms);
    }

private:
    int fd_ = -1;
    int port_ = 0;
};

// The wait is a hang detector, not a timing assertion: far above the 2 s connection timeout.
void expect_clear_failure(const std::string& program, const std::string& url, const std::regex& cause) {
    SCOPED_TRACE(program + " " + url);
    child_process p({program, "--url", url}, {{"AMQP_URL", ""}});
    const auto e = p.wait(30s);
    ASSERT_FALSE(e.timed_out) << "hung; stderr: " << p.err();
    ASSERT_TRUE(e.exited) << "killed by signal " << e.signal << "; stderr: " << p.err();
    EXPECT_EQ(e.status, 1) << p.err();
    EXPECT_TRUE(std::regex_search(p.err(), std::regex(" \\[!\\] Error: "))) << p.err();
    EXPECT_TRUE(std::regex_search(p.err(), cause)) << p.err();
    EXPECT_EQ(p.err().find("Sanitizer"), std::string::npos) << p.err();
}

const std::regex refused("refused", std::regex::icase);
const std::regex timed_out("tim(ed|e) ?out", std::regex::icase);

TEST(unreachable, client_to_closed_port_fails_at_once) {
    local_socket closed(false);
    expect_clear_failure(RPC_CLIENT_BIN, closed.url(2000), refused);
}

TEST(unreachable, server_to_closed_port_fails_at_once) {
    local_socket closed(false);
    expect_clear_failure(RPC_SERVER_BIN, closed.url(2000), refused);
}

TEST(unreachable, client_to_blackhole_fails_after_connection_timeout) {
    local_socket blackhole(true);
    expect_clear_failure(RPC_CLIENT_BIN, blackhole.url(2000), timed_out);
}

TEST(unreachable, server_to_blackhole_fails_after_connection_timeout) {
    local_socket blackhole(true);
    expect_clear_failure(RPC_SERVER_BIN, blackhole.url(2000), timed_out);
}

}  // namespace
