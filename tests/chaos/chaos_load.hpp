// The chaos test's callers: a few rpc_clients (reconnecting; one on direct reply-to) through the
// faulty relay, each round sending a mix of normal calls, slow requests, calls with very short
// timeouts, large replies, large request bodies and bodies that are not a number; now and then a
// client is dropped with its calls in flight (they must fail, once) and replaced.
#pragma once

#include "call_ledger.hpp"

#include <rpc/rpc_client.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <amqp/connection_options.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace chaos {

class chaos_load {
public:
    static constexpr std::chrono::milliseconds max_timeout{4000};

    chaos_load(boost::asio::any_io_executor ex, amqp::connection_options conn, std::string queue, call_ledger& ledger,
               std::uint64_t seed, std::size_t clients = 3)
        : ex_(std::move(ex)), conn_(std::move(conn)), queue_(std::move(queue)), ledger_(ledger), rng_(seed),
          clients_(clients) {}

    /// `calls` calls on each client (started first if needed), then maybe one client dropped.
    void round(int calls) {
        for (std::size_t c = 0; c < clients_.size(); ++c) {
            if (!clients_[c]) clients_[c] = start_client(c == 0);
            if (!clients_[c]) continue;
            for (int i = 0; i < calls; ++i) one_call(*clients_[c]);
        }
        if (rng_() % 4 == 0) {
            // Its pending calls fail at once (connection_lost): the callers' cancellation.
            clients_[rng_() % clients_.size()].reset();
            ++dropped_clients;
        }
    }
    /// Close every client with the close handshake (blocking, bounded by the library).
    void close_all() {
        for (auto& c : clients_) {
            if (c) c->close();
            c.reset();
        }
    }

    std::uint64_t dropped_clients = 0, failed_starts = 0;
    std::uint64_t large_requests = 0, large_replies = 0, slow_requests = 0, short_timeouts = 0, bad_bodies = 0;

private:
    using ms = std::chrono::milliseconds;

    std::unique_ptr<rpc::rpc_client> start_client(bool direct_reply_to) {
        rpc::client_options o;
        o.queue = queue_;
        o.direct_reply_to = direct_reply_to;
        o.default_timeout = max_timeout;
        o.reconnect = true;
        o.reconnect_min = ms(50);
        o.reconnect_max = ms(500);
        // Bounded: each attempt ends within the connection timeout; the faults come and go.
        for (int attempt = 0; attempt < 10; ++attempt) {
            try {
                auto c = std::make_unique<rpc::rpc_client>(ex_, conn_, o);
                c->start();
                return c;
            } catch (const std::exception&) {
                ++failed_starts;
                std::this_thread::sleep_for(ms(100));
            }
        }
        return nullptr;
    }

    std::uint64_t pick(std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
    }

    void call(rpc::rpc_client& c, std::uint64_t n, ms timeout) {
        auto [id, diag] = ledger_.open(n);
        rpc::fibonacci_client(c).async_call(n, timeout, *diag, [this, id = id](rpc::error_code ec, rpc::big_int v) {
            ledger_.complete(id, classify(ec), ec ? std::string() : v.str());
        });
    }
    void request(rpc::rpc_client& c, std::uint64_t n, std::string body) {
        auto [id, diag] = ledger_.open(n);
        rpc::request_message req;
        req.body = std::move(body);
        req.timeout = max_timeout;
        c.async_request(std::move(req), *diag,
                        [this, id = id](rpc::error_code ec, rpc::reply_message r) { ledger_.complete_reply(id, ec, r); });
    }

    void one_call(rpc::rpc_client& c) {
        const auto r = rng_() % 100;
        if (r < 50) return call(c, pick(0, 90), max_timeout);
        if (r < 60) {
            ++slow_requests;  // the --naive server takes a while over these
            return call(c, pick(30, 35), max_timeout);
        }
        if (r < 72) {
            ++short_timeouts;  // most of these give up before the reply
            return call(c, pick(0, 40), ms(pick(1, 150)));
        }
        if (r < 82) {
            ++large_replies;  // kilobytes of digits (the --naive server refuses n > 45)
            return call(c, pick(2000, 30000), max_timeout);
        }
        if (r < 92) {
            ++large_requests;  // whitespace around n is allowed; above the server's limit it is refused
            const auto n = pick(0, 60);
            return request(c, n, std::string(pick(16, 200) * 1024, ' ') + std::to_string(n));
        }
        ++bad_bodies;
        request(c, no_value, r % 2 ? "not a number" : "{\"n\": 5");
    }

    boost::asio::any_io_executor ex_;
    amqp::connection_options conn_;
    std::string queue_;
    call_ledger& ledger_;
    std::mt19937_64 rng_;
    std::vector<std::unique_ptr<rpc::rpc_client>> clients_;
};

}  // namespace chaos
