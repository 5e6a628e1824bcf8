// Direct reply-to addresses the broker cannot deliver to, as a plain object. RabbitMQ 3.10 answers
// a reply published to an `amq.rabbitmq.reply-to.*` address whose node has died by closing the
// whole connection (541 INTERNAL_ERROR: the channel crashed). The request, never acked, comes back
// redelivered; its reply closes the next connection, and so on, round every server of the queue,
// while the requests behind it wait (seen in the cluster test that kills the client's node).
//
// The server (server_replies.cpp) publishes the reply of a redelivered request to a direct
// reply-to address as a probe: alone (no other probe goes out until it is back) and followed by a
// basic.qos round trip. A 541 close while a probe is out is a strike against its address; the
// basic.qos-ok coming back clears it. An address with `strikes_to_condemn` strikes is condemned:
// the server rejects its requests without requeue and without a reply (their caller is gone with
// its node). No clock, no threads, no I/O; bounded (the oldest address is forgotten first).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rpc {

/// Not thread-safe.
class reply_strikes {
public:
    static constexpr unsigned strikes_to_condemn = 2;
    static constexpr std::size_t max_addresses = 64;

    /// A direct reply-to address (what a broker writes into reply_to for `amq.rabbitmq.reply-to`).
    static bool is_direct(std::string_view reply_to) noexcept;

    /// One more strike against `reply_to`; returns its strikes now.
    unsigned strike(std::string_view reply_to);
    /// A probe to `reply_to` came back: it is reachable, its strikes are forgotten.
    void clear(std::string_view reply_to);
    bool condemned(std::string_view reply_to) const noexcept;
    /// True if any address is condemned (a cheap test before condemned()).
    bool any_condemned() const noexcept { return condemned_ > 0; }
    /// Addresses remembered (at most max_addresses).
    std::size_t size() const noexcept { return entries_.size(); }

private:
    struct entry {
        std::string address;
        unsigned strikes = 0;
    };
    std::size_t find(std::string_view reply_to) const noexcept;  // entries_.size() when absent
    void forget(std::size_t i);
    std::vector<entry> entries_;  // oldest first
    std::size_t condemned_ = 0;   // entries with strikes_to_condemn strikes or more
};

}  // namespace rpc
