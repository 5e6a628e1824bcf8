// A TCP relay between a client under test and the broker, so a test can cut the connection
// at a chosen moment (the broker sees a client vanish; the client sees its socket fail), without
// touching the broker that other tests share. It can also keep a copy of the bytes each way (to
// check what a client put on the wire, in which order) and hold the broker's bytes back, then
// hand them over in one write (so the client reads them all at once). One poll() thread;
// 127.0.0.1 only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
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

    /// Keep a copy of everything relayed from now on, per connection in accept order.
    void record() { recording_ = true; }
    /// Bytes connection `i` sent to the broker / received from it (copies).
    std::string sent_to_broker(std::size_t i) const {
        std::lock_guard lock(mutex_);
        return i < logs_.size() ? logs_[i].to_broker : std::string();
    }
    std::string received_from_broker(std::size_t i) const {
        std::lock_guard lock(mutex_);
        return i < logs_.size() ? logs_[i].from_broker : std::string();
    }
    /// While held, bytes from the broker are kept; release_held() hands each connection what is
    /// held (and whatever the broker sent meanwhile) in one write. Returns when that is done
    /// (bounded).
    void hold_from_broker() { holding_ = true; }
    std::size_t held_bytes() const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& l : logs_) n += l.held.size();
        return n;
    }
    void release_held() {
        holding_ = false;
        releasing_ = true;
        poke();
        for (int i = 0; i < 500 && releasing_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

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
            if (releasing_) {
                for (std::size_t i = 0; i < pairs_.size(); ++i) flush_held(i);
                releasing_ = false;
                continue;  // the sockets' readiness changed: poll again before any blocking read
            }
            if (cut_) {
                for (auto& [a, b] : pairs_) {
                    shutdown(a, SHUT_RDWR);
                    shutdown(b, SHUT_RDWR);
                    close(a);
                    close(b);
                }
                pairs_.clear();
                slot_.clear();
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
                if (f1.revents) ok = relay(i, pairs_[i].first, pairs_[i].second, true);
                if (ok && f2.revents) ok = relay(i, pairs_[i].second, pairs_[i].first, false);
                if (!ok) dead.push_back(i);
            }
            if (fds[0].revents & POLLIN) accept_one();
            for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
                close(pairs_[*it].first);
                close(pairs_[*it].second);
                pairs_.erase(pairs_.begin() + static_cast<long>(*it));
                slot_.erase(slot_.begin() + static_cast<long>(*it));
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
        {
            std::lock_guard lock(mutex_);
            logs_.emplace_back();
            slot_.push_back(logs_.size() - 1);
        }
        ++accepted_;
    }

    // Blocking write of whatever is readable now; false when either side is done.
    bool relay(std::size_t pair, int from, int to, bool to_broker) {
        char buf[16384];
        const ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0) return false;
        const std::string_view bytes(buf, static_cast<std::size_t>(n));
        {
            std::lock_guard lock(mutex_);
            log& l = logs_[slot_[pair]];
            if (recording_) (to_broker ? l.to_broker : l.from_broker).append(bytes);
            if (!to_broker && holding_) {
                l.held.append(bytes);
                return true;
            }
        }
        return write_all(to, bytes);
    }

    // Whatever the broker has sent is read first (non-blocking), so it goes out in the same write.
    void flush_held(std::size_t pair) {
        char buf[16384];
        std::string out;
        for (int i = 0; i < 1000; ++i) {
            const ssize_t n = recv(pairs_[pair].second, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) break;
            std::lock_guard lock(mutex_);
            log& l = logs_[slot_[pair]];
            if (recording_) l.from_broker.append(buf, static_cast<std::size_t>(n));
            l.held.append(buf, static_cast<std::size_t>(n));
        }
        {
            std::lock_guard lock(mutex_);
            out.swap(logs_[slot_[pair]].held);
        }
        if (!out.empty()) write_all(pairs_[pair].first, out);
    }

    static bool write_all(int to, std::string_view bytes) {
        for (std::size_t off = 0; off < bytes.size();) {
            const ssize_t w = write(to, bytes.data() + off, bytes.size() - off);
            if (w <= 0) return false;
            off += static_cast<std::size_t>(w);
        }
        return true;
    }

    struct log {
        std::string to_broker, from_broker, held;
    };

    std::uint16_t target_port_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    int wake_[2] = {-1, -1};
    std::vector<std::pair<int, int>> pairs_;
    std::vector<std::size_t> slot_;  // pairs_[i]'s entry in logs_ (relay thread only)
    mutable std::mutex mutex_;
    std::vector<log> logs_;  // one per connection accepted, kept after it closes
    std::atomic<bool> recording_{false}, holding_{false}, releasing_{false};
    std::atomic<bool> stop_{false}, cut_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

}  // namespace rpc_test
