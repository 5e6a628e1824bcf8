// A loopback TCP relay between a program under test and the broker, with faults a test switches on
// and off while traffic flows: added latency, stalls, resets (RST), orderly cuts (FIN), half-open
// connections, byte-at-a-time delivery and dropping everything. It can also keep a copy of the
// bytes each way (to check what a client put on the wire, in which order) and hold the broker's
// bytes back, then hand them over in one write (so the client reads them all at once).
//
// One thread polls every socket (non-blocking); bytes read wait in a per-direction queue until
// their delivery time, so a stalled or slow direction never blocks another connection. Every
// member may be called from any thread; the effect is immediate (under the relay's mutex).
// Listens on 127.0.0.1 only and relays to 127.0.0.1:target_port.
#pragma once

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace amqp_test {

/// Which way bytes flow through the relay.
enum class relay_direction { to_broker, from_broker };

/// Faults injected so far, by kind (counted when injected, whatever the traffic).
struct relay_counts {
    std::uint64_t connections = 0;      ///< connections accepted and relayed
    std::uint64_t resets = 0;           ///< connections reset (RST both ways)
    std::uint64_t cuts = 0;             ///< connections closed in order (FIN both ways)
    std::uint64_t stalls = 0;           ///< stall() calls
    std::uint64_t half_opens = 0;       ///< half_open(..., true) calls
    std::uint64_t latency_changes = 0;  ///< set_latency() calls with a non-zero latency
    std::uint64_t byte_at_a_time = 0;   ///< set_byte_at_a_time(true) calls
    std::uint64_t drops = 0;            ///< set_drop(true) calls
    std::uint64_t dropped_bytes = 0;    ///< bytes read and thrown away while dropping
    std::uint64_t single_byte_writes = 0;  ///< writes of one byte while byte_at_a_time
};

class test_relay {
public:
    /// Relay 127.0.0.1:port() to 127.0.0.1:target_port. Aborts if it cannot listen (a test setup
    /// fault, not a result).
    explicit test_relay(std::uint16_t target_port) : target_port_(target_port) {
        listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_in a = loopback(0);
        if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener_, 64) != 0) std::abort();
        socklen_t len = sizeof a;
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
        thread_ = std::thread([this] { run(); });
    }
    ~test_relay() {
        stop_ = true;
        poke();
        thread_.join();
        for (auto& c : conns_) close_pair(*c, false);
        close(listener_);
        close(wake_[0]);
        close(wake_[1]);
    }
    test_relay(const test_relay&) = delete;
    test_relay& operator=(const test_relay&) = delete;

    std::uint16_t port() const { return port_; }
    /// Connections relayed so far.
    int accepted() const { return static_cast<int>(counts().connections); }
    /// Connections open right now.
    std::size_t live() const {
        std::lock_guard lock(mutex_);
        return conns_.size();
    }
    relay_counts counts() const {
        std::lock_guard lock(mutex_);
        return counts_;
    }

    /// Close every relayed connection in order (FIN both ways: each side reads end of file).
    void cut_all() { drop_connections(false); }
    /// Reset every relayed connection (SO_LINGER 0: each side sees ECONNRESET).
    void reset_all() { drop_connections(true); }
    /// Reset one connection, the `k % live()`-th oldest; false when none is open.
    bool reset_one(std::size_t k) {
        std::lock_guard lock(mutex_);
        if (conns_.empty()) return false;
        const auto it = conns_.begin() + static_cast<long>(k % conns_.size());
        close_pair(**it, true);
        conns_.erase(it);
        ++counts_.resets;
        poke();
        return true;
    }

    /// Every byte is delivered this long after it was read (0: at once).
    void set_latency(std::chrono::milliseconds d) {
        std::lock_guard lock(mutex_);
        latency_ = d;
        if (d.count() > 0) ++counts_.latency_changes;
        poke();
    }
    /// Deliver one byte per write, with TCP_NODELAY, so the reader gets bytes in the smallest
    /// pieces the network makes.
    void set_byte_at_a_time(bool on) {
        std::lock_guard lock(mutex_);
        byte_at_a_time_ = on;
        if (on) ++counts_.byte_at_a_time;
        poke();
    }
    /// Read and throw away everything, both ways, keeping the sockets open: a silent peer.
    /// Bytes already queued are thrown away too. The stream is then broken for good (AMQP
    /// frames lost in the middle): expect the connection to fail after the drop ends.
    void set_drop(bool on) {
        std::lock_guard lock(mutex_);
        drop_ = on;
        if (on) {
            ++counts_.drops;
            for (auto& c : conns_) {
                for (auto* d : {&c->up, &c->down}) {
                    counts_.dropped_bytes += d->queued;
                    d->queue.clear();
                    d->queued = 0;
                }
            }
        }
        poke();
    }
    /// Keep the sockets open but stop forwarding the bytes read, for `d`; they are delivered
    /// afterwards, in order.
    void stall(std::chrono::milliseconds d) {
        std::lock_guard lock(mutex_);
        stall_until_ = std::max(stall_until_, clock::now() + d);
        ++counts_.stalls;
        poke();
    }
    /// While on, stop reading from the side that sends in direction `dir` (its socket stays open:
    /// its writes fill the kernel's buffers, then block); the other direction goes on.
    void half_open(relay_direction dir, bool on) {
        std::lock_guard lock(mutex_);
        (dir == relay_direction::to_broker ? half_open_up_ : half_open_down_) = on;
        if (on) ++counts_.half_opens;
        poke();
    }
    /// Switch off latency, byte-at-a-time, drop, stalls and half-open (held bytes stay held).
    void heal() {
        std::lock_guard lock(mutex_);
        latency_ = {};
        byte_at_a_time_ = drop_ = half_open_up_ = half_open_down_ = false;
        stall_until_ = {};
        poke();
    }

    /// Keep a copy of everything relayed from now on, per connection in accept order.
    void record() { recording_ = true; }
    /// Bytes connection `i` (accept order) sent to the broker / received from it (copies).
    std::string sent_to_broker(std::size_t i) const {
        std::lock_guard lock(mutex_);
        return i < logs_.size() ? logs_[i].to_broker : std::string();
    }
    std::string received_from_broker(std::size_t i) const {
        std::lock_guard lock(mutex_);
        return i < logs_.size() ? logs_[i].from_broker : std::string();
    }

    /// While held, bytes from the broker are kept; release_held() hands each connection what is
    /// held (and whatever the broker sent meanwhile) in one write.
    void hold_from_broker() {
        std::lock_guard lock(mutex_);
        holding_ = true;
    }
    std::size_t held_bytes() const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& c : conns_) n += c->down.queued;
        return holding_ ? n : 0;
    }
    void release_held() {
        std::lock_guard lock(mutex_);
        holding_ = false;
        for (auto& c : conns_) {
            read_available(*c, c->down, false);
            std::string all;
            for (auto& ch : c->down.queue) all.append(ch.bytes, ch.offset);
            c->down.queue.clear();
            c->down.queued = 0;
            // Small (what a test held), so one non-blocking send takes it all; the rest, if any,
            // goes out with the normal traffic.
            const ssize_t w = all.empty() ? 0 : send(c->client, all.data(), all.size(), MSG_NOSIGNAL);
            if (w >= 0 && static_cast<std::size_t>(w) < all.size()) {
                c->down.queue.push_back({clock::now(), all.substr(static_cast<std::size_t>(w)), 0});
                c->down.queued = all.size() - static_cast<std::size_t>(w);
            }
        }
        poke();
    }

private:
    using clock = std::chrono::steady_clock;
    struct chunk {
        clock::time_point due;
        std::string bytes;
        std::size_t offset;  // bytes already written
    };
    struct direction {
        std::deque<chunk> queue;
        std::size_t queued = 0;  // bytes in queue not yet written
        bool eof = false;        // the sending side closed
    };
    struct conn {
        int client = -1, broker = -1;
        direction up, down;  // up: client -> broker
        std::size_t log = 0;
    };
    struct log_entry {
        std::string to_broker, from_broker;
    };
    // A direction stops reading above this many queued bytes (back-pressure to its sender).
    static constexpr std::size_t max_queued = 4 << 20;
    // Writes of one byte per direction per poll round, so byte-at-a-time leaves room for others.
    static constexpr int single_bytes_per_round = 256;

    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        return a;
    }

    void poke() {
        const char c = 1;
        [[maybe_unused]] auto r = write(wake_[1], &c, 1);
    }

    void drop_connections(bool reset) {
        std::lock_guard lock(mutex_);
        for (auto& c : conns_) close_pair(*c, reset);
        (reset ? counts_.resets : counts_.cuts) += conns_.size();
        conns_.clear();
        poke();
    }

    static void close_pair(conn& c, bool reset) {
        for (int fd : {c.client, c.broker}) {
            if (reset) {
                const linger l{1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            } else {
                shutdown(fd, SHUT_RDWR);
            }
            close(fd);
        }
    }

    void run() {
        std::vector<pollfd> fds;
        std::vector<conn*> polled;
        while (!stop_) {
            int timeout_ms = 50;
            {
                std::lock_guard lock(mutex_);
                fds.assign({{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}});
                polled.clear();
                const auto now = clock::now();
                for (auto& c : conns_) {
                    fds.push_back({c->client, events_for(c->up, c->down, half_open_up_, false, now, timeout_ms), 0});
                    fds.push_back({c->broker, events_for(c->down, c->up, half_open_down_, true, now, timeout_ms), 0});
                    polled.push_back(c.get());
                }
            }
            if (poll(fds.data(), fds.size(), timeout_ms) < 0) continue;
            if (fds[1].revents) {
                char buf[256];
                while (read(wake_[0], buf, sizeof buf) > 0) {
                }
            }
            std::lock_guard lock(mutex_);
            if (fds[0].revents & POLLIN) accept_all();
            // Every polled connection still open is served, whatever its revents (a closed one is
            // gone from conns_): reads and writes are non-blocking, so a spurious try is harmless.
            std::vector<conn*> dead;
            for (std::size_t i = 0; i < polled.size(); ++i) {
                conn* c = polled[i];
                if (std::none_of(conns_.begin(), conns_.end(), [c](const auto& p) { return p.get() == c; })) continue;
                const bool ok = read_available(*c, c->up, true) && read_available(*c, c->down, false) &&
                                write_due(c->up, c->broker, false) && write_due(c->down, c->client, true);
                // POLLHUP/POLLERR: reset, or closed both ways: that side neither sends nor takes
                // more (and would wake every poll while it stays in the set).
                const bool hung_up = ((fds[2 + 2 * i].revents | fds[3 + 2 * i].revents) & (POLLHUP | POLLERR)) != 0;
                if (!ok || hung_up || (c->up.eof && c->up.queue.empty()) || (c->down.eof && c->down.queue.empty())) {
                    dead.push_back(c);
                }
            }
            for (conn* c : dead) {
                const auto it = std::find_if(conns_.begin(), conns_.end(), [c](const auto& p) { return p.get() == c; });
                close_pair(**it, false);
                conns_.erase(it);
            }
        }
    }

    // The poll events for the socket that sends `in` and receives `out`; shortens `timeout_ms` to
    // the next delivery time in `out`.
    short events_for(const direction& in, const direction& out, bool half_open, bool is_broker,
                     clock::time_point now, int& timeout_ms) const {
        short ev = 0;
        if (!in.eof && !half_open && in.queued < max_queued) ev |= POLLIN;
        if (!out.queue.empty() && may_write(is_broker)) {
            const auto due = std::max(out.queue.front().due, stall_until_);
            if (due <= now) {
                ev |= POLLOUT;
            } else {
                const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count() + 1;
                timeout_ms = std::min(timeout_ms, static_cast<int>(ms));
            }
        }
        return ev;
    }

    bool may_write(bool to_client) const { return !(to_client && holding_); }

    // Reads what the sender of `d` has now (non-blocking). False when the connection is broken.
    bool read_available(conn& c, direction& d, bool up) {
        const bool half_open = up ? half_open_up_ : half_open_down_;
        if (d.eof || half_open) return true;
        char buf[16384];
        for (int i = 0; i < 16 && d.queued < max_queued; ++i) {
            const ssize_t n = recv(up ? c.client : c.broker, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) {
                d.eof = true;
                return true;
            }
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            const std::string_view bytes(buf, static_cast<std::size_t>(n));
            if (recording_) (up ? logs_[c.log].to_broker : logs_[c.log].from_broker).append(bytes);
            if (drop_) {
                counts_.dropped_bytes += bytes.size();
                continue;
            }
            d.queue.push_back({clock::now() + latency_, std::string(bytes), 0});
            d.queued += bytes.size();
        }
        return true;
    }

    // Writes what is due in `d` to `to` (non-blocking). False when the connection is broken.
    bool write_due(direction& d, int to, bool to_client) {
        if (!may_write(to_client)) return true;
        const auto now = clock::now();
        if (stall_until_ > now) return true;
        int single = 0;
        while (!d.queue.empty() && d.queue.front().due <= now) {
            chunk& ch = d.queue.front();
            const std::size_t left = ch.bytes.size() - ch.offset;
            const std::size_t n = byte_at_a_time_ ? 1 : left;
            if (byte_at_a_time_ && single++ == single_bytes_per_round) return true;
            const ssize_t w = send(to, ch.bytes.data() + ch.offset, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            if (byte_at_a_time_) ++counts_.single_byte_writes;
            ch.offset += static_cast<std::size_t>(w);
            d.queued -= static_cast<std::size_t>(w);
            if (ch.offset == ch.bytes.size()) d.queue.pop_front();
        }
        return true;
    }

    void accept_all() {
        for (;;) {
            const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (client < 0) return;
            // A blocking connect to loopback: immediate (accepted or refused by the kernel).
            const int broker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a = loopback(target_port_);
            if (connect(broker, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                close(client);
                close(broker);
                continue;
            }
            fcntl(broker, F_SETFL, fcntl(broker, F_GETFL) | O_NONBLOCK);
            const int one = 1;
            for (int fd : {client, broker}) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto c = std::make_unique<conn>();
            c->client = client;
            c->broker = broker;
            c->log = logs_.size();
            logs_.emplace_back();
            conns_.push_back(std::move(c));
            ++counts_.connections;
        }
    }

    std::uint16_t target_port_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    int wake_[2] = {-1, -1};

    mutable std::mutex mutex_;  // everything below, for the relay thread and callers alike
    std::vector<std::unique_ptr<conn>> conns_;
    std::vector<log_entry> logs_;  // one per connection accepted, kept after it closes
    relay_counts counts_;
    std::chrono::milliseconds latency_{0};
    clock::time_point stall_until_{};
    bool byte_at_a_time_ = false, drop_ = false, half_open_up_ = false, half_open_down_ = false;
    bool holding_ = false;

    std::atomic<bool> recording_{false};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace amqp_test
