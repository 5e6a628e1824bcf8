// A TCP relay between a client under test and the broker, so a test can cut the connection
// at a chosen moment (the broker sees a client vanish; the client sees its socket fail), without
// touching the broker that other tests share. One poll() thread; 127.0.0.1 only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rpc_test {

class tcp_proxy {
public:
    /// Relay 127.0.0.1:port() to 127.0.0.1:target_port.
    explicit tcp_proxy(std::uint16_t target_port) : target_port_(target_port) {
        listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener_, 16) != 0) std::abort();
        socklen_t len = sizeof a;
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        if (pipe2(wake_, O_CLOEXEC) != 0) std::abort();
        thread_ = std::thread([this] { run(); });
    }
    ~tcp_proxy() {
        stop_ = true;
        poke();
        thread_.join();
        for (auto& [a, b] : pairs_) {
            close(a);
            close(b);
        }
        close(listener_);
        close(wake_[0]);
        close(wake_[1]);
    }
    tcp_proxy(const tcp_proxy&) = delete;
    tcp_proxy& operator=(const tcp_proxy&) = delete;

    std::uint16_t port() const { return port_; }
    /// Close every relayed connection at once (both sides see the socket close).
    void cut_all() {
        cut_ = true;
        poke();
        // Bounded: the relay thread handles the request within one poll round.
        for (int i = 0; i < 500 && cut_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    /// Number of connections relayed so far.
    int accepted() const { return accepted_; }

private:
    void poke() {
        const char c = 1;
        [[maybe_unused]] auto r = write(wake_[1], &c, 1);
    }

    void run() {
        while (!stop_) {
            std::vector<pollfd> fds{{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            for (auto& [a, b] : pairs_) {
                fds.push_back({a, POLLIN, 0});
                fds.push_back({b, POLLIN, 0});
            }
            if (poll(fds.data(), fds.size(), 200) < 0) continue;
            if (fds[1].revents) {
                char buf[64];
                [[maybe_unused]] auto r = read(wake_[0], buf, sizeof buf);
            }
            if (cut_) {
                for (auto& [a, b] : pairs_) {
                    shutdown(a, SHUT_RDWR);
                    shutdown(b, SHUT_RDWR);
                    close(a);
                    close(b);
                }
                pairs_.clear();
                cut_ = false;
                continue;
            }
            // Only the pairs that were polled: accept_one() may append one.
            const std::size_t polled = pairs_.size();
            std::vector<std::size_t> dead;
            for (std::size_t i = 0; i < polled; ++i) {
                const auto& f1 = fds[2 + 2 * i];
                const auto& f2 = fds[3 + 2 * i];
                bool ok = true;
                if (f1.revents) ok = relay(pairs_[i].first, pairs_[i].second);
                if (ok && f2.revents) ok = relay(pairs_[i].second, pairs_[i].first);
                if (!ok) dead.push_back(i);
            }
            if (fds[0].revents & POLLIN) accept_one();
            for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
                close(pairs_[*it].first);
                close(pairs_[*it].second);
                pairs_.erase(pairs_.begin() + static_cast<long>(*it));
            }
        }
    }

    void accept_one() {
        const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) return;
        const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(target_port_);
        if (connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            close(client);
            close(upstream);
            return;
        }
        pairs_.emplace_back(client, upstream);
        ++accepted_;
    }

    // Blocking write of whatever is readable now; false when either side is done.
    static bool relay(int from, int to) {
        char buf[16384];
        const ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0) return false;
        for (ssize_t off = 0; off < n;) {
            const ssize_t w = write(to, buf + off, static_cast<std::size_t>(n - off));
            if (w <= 0) return false;
            off += w;
        }
        return true;
    }

    std::uint16_t target_port_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    int wake_[2] = {-1, -1};
    std::vector<std::pair<int, int>> pairs_;
    std::atomic<bool> stop_{false}, cut_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

}  // namespace rpc_test
