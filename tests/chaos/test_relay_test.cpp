// The test relay's own faults, each checked on a loopback pair (no broker): a fault that did
// nothing would make the chaos test pass without testing anything. No timing assertions: "nothing
// arrives" is checked only while a fault holds the bytes for as long as the test wants.
#include <test_support/test_relay.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using amqp_test::relay_direction;
using amqp_test::test_relay;

// A listening "broker", a relay to it, and one connection through the relay: client <-> broker.
class RelayFaults : public ::testing::Test {
protected:
    void SetUp() override {
        listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        ASSERT_EQ(listen(listener_, 4), 0);
        socklen_t len = sizeof a;
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        relay_.emplace(ntohs(a.sin_port));
        client_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_port = htons(relay_->port());
        ASSERT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        broker_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(broker_, 0);
    }
    void TearDown() override {
        for (int fd : {client_, broker_, listener_})
            if (fd >= 0) close(fd);
    }

    static void send_all(int fd, const std::string& s) {
        ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
    }
    // Reads until `n` bytes came, the peer closed or failed, or `timeout` passed.
    static std::string receive(int fd, std::size_t n, std::chrono::milliseconds timeout = 10s, int* error = nullptr) {
        std::string got;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (got.size() < n) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[4096];
            const ssize_t r = recv(fd, buf, std::min(sizeof buf, n - got.size()), 0);
            if (r <= 0) {
                if (error) *error = r == 0 ? 0 : errno;
                break;
            }
            got.append(buf, static_cast<std::size_t>(r));
        }
        return got;
    }

    std::optional<test_relay> relay_;
    int listener_ = -1, client_ = -1, broker_ = -1;
};

TEST_F(RelayFaults, RelaysBothWaysAndRecordsWhatItRelayed) {
    relay_->record();
    send_all(client_, "hello");
    EXPECT_EQ(receive(broker_, 5), "hello");
    send_all(broker_, "world");
    EXPECT_EQ(receive(client_, 5), "world");
    EXPECT_EQ(relay_->sent_to_broker(0), "hello");
    EXPECT_EQ(relay_->received_from_broker(0), "world");
    EXPECT_EQ(relay_->accepted(), 1);
}

TEST_F(RelayFaults, StallHoldsBytesUntilItEndsThenDeliversThemInOrder) {
    relay_->stall(60s);
    send_all(client_, "one");
    send_all(client_, "two");
    EXPECT_EQ(receive(broker_, 6, 200ms), "");
    relay_->heal();
    EXPECT_EQ(receive(broker_, 6), "onetwo");
}

TEST_F(RelayFaults, HalfOpenStopsOneDirectionOnly) {
    relay_->half_open(relay_direction::to_broker, true);
    send_all(client_, "up");
    send_all(broker_, "down");
    EXPECT_EQ(receive(client_, 4), "down");
    EXPECT_EQ(receive(broker_, 2, 200ms), "");
    relay_->half_open(relay_direction::to_broker, false);
    EXPECT_EQ(receive(broker_, 2), "up");
    EXPECT_EQ(relay_->counts().half_opens, 1u);
}

TEST_F(RelayFaults, DropSwallowsEverythingAndCountsIt) {
    relay_->set_drop(true);
    send_all(client_, "lost");
    send_all(broker_, "gone!");
    EXPECT_EQ(receive(client_, 5, 200ms), "");
    for (int i = 0; i < 500 && relay_->counts().dropped_bytes < 9; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(relay_->counts().dropped_bytes, 9u);
    relay_->set_drop(false);
    send_all(client_, "kept");
    EXPECT_EQ(receive(broker_, 4), "kept");
}

TEST_F(RelayFaults, LatencyDelaysDeliveryByAtLeastItsLength) {
    relay_->set_latency(300ms);
    const auto t0 = std::chrono::steady_clock::now();
    send_all(client_, "late");
    EXPECT_EQ(receive(broker_, 4), "late");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // a lower bound: the relay holds it that long
}

TEST_F(RelayFaults, ByteAtATimeWritesEachByteAlone) {
    relay_->set_byte_at_a_time(true);
    const std::string msg(100, 'x');
    send_all(broker_, msg);
    EXPECT_EQ(receive(client_, msg.size()), msg);
    EXPECT_EQ(relay_->counts().single_byte_writes, msg.size());
}

TEST_F(RelayFaults, ResetGivesBothSidesConnectionReset) {
    ASSERT_TRUE(relay_->reset_one(0));
    int client_error = -1, broker_error = -1;
    receive(client_, 1, 10s, &client_error);
    receive(broker_, 1, 10s, &broker_error);
    EXPECT_EQ(client_error, ECONNRESET);
    EXPECT_EQ(broker_error, ECONNRESET);
    EXPECT_EQ(relay_->live(), 0u);
    EXPECT_FALSE(relay_->reset_one(0));
}

TEST_F(RelayFaults, CutGivesBothSidesEndOfFile) {
    relay_->cut_all();
    int client_error = -1, broker_error = -1;
    receive(client_, 1, 10s, &client_error);
    receive(broker_, 1, 10s, &broker_error);
    EXPECT_EQ(client_error, 0);
    EXPECT_EQ(broker_error, 0);
    EXPECT_EQ(relay_->counts().cuts, 1u);
}

TEST_F(RelayFaults, HeldBytesFromTheBrokerComeInOneWriteOnRelease) {
    relay_->hold_from_broker();
    send_all(broker_, "abc");
    send_all(broker_, "def");
    for (int i = 0; i < 500 && relay_->held_bytes() < 6; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(relay_->held_bytes(), 6u);
    EXPECT_EQ(receive(client_, 6, 200ms), "");
    relay_->release_held();
    EXPECT_EQ(receive(client_, 6), "abcdef");
}

}  // namespace
