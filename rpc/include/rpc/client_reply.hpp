// What a client sends and receives: a request, the reply handed back to the caller, and the
// client's counters. Plain values, shared by the client's core (client_core.hpp) and its Asio
// shell (rpc_client.hpp).
#pragma once

#include <amqp/codec/types.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace rpc {

/// One request of the generic API: any body, sent as is.
struct request_message {
    std::string body;
    std::string content_type;  ///< sent as the content_type property when not empty
    /// 0: client_options::default_timeout.
    std::chrono::milliseconds timeout{0};
    amqp::field_table headers;  ///< sent as the headers property when not empty
    /// Running it twice does no harm (Fibonacci's calls): the client may then send it again, with
    /// the same correlation id, when it cannot know whether the server got it (a nack, a lost
    /// connection before the confirm or the reply; see client_options::confirm_requests). The
    /// first reply wins; later ones are dropped and counted (duplicate_replies).
    bool idempotent = false;
};

/// A reply as the server sent it: body, content_type (empty when the reply had none) and
/// headers. A server's error reply never arrives as one: it completes the call with
/// errc::remote_error and the server's text in diagnostics::message.
struct reply_message {
    std::string body;
    std::string content_type;
    amqp::field_table headers;
};

/// Counters of what the client saw; replies that match no pending call are dropped, never handed
/// to another caller.
struct client_stats {
    std::uint64_t calls = 0;               ///< calls published
    std::uint64_t replies = 0;             ///< replies matched to a pending call
    std::uint64_t timeouts = 0;            ///< calls that timed out
    std::uint64_t returned = 0;            ///< requests the broker returned (NO_ROUTE)
    std::uint64_t late_replies = 0;        ///< replies to calls that had already timed out or been cancelled
    std::uint64_t unknown_replies = 0;     ///< replies with a correlation id we are not waiting for
    std::uint64_t replies_without_id = 0;  ///< replies with no correlation id at all
    std::uint64_t reconnects = 0;          ///< reconnections after a lost connection (options.reconnect)
    std::uint64_t reconnect_attempts = 0;  ///< reconnection attempts, failed ones included
    std::uint64_t cancelled = 0;           ///< calls ended by their caller's cancellation
    std::uint64_t resent = 0;              ///< idempotent requests published again (nack, failover)
    std::uint64_t duplicate_replies = 0;   ///< replies to a re-sent call that had been answered already
};

}  // namespace rpc
