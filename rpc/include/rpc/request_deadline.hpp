// A request's absolute deadline, carried in a header so that a server can drop a request whose
// caller has already given up (issue 16). `expiration` alone does not do it: the broker drops an
// expired message only at the head of the queue, and a quorum queue re-delivers a request taken
// by a server that died with the deadline long gone.
#pragma once

#include <amqp/codec/types.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rpc {

/// The header rpc_client puts on every request: the call's deadline (its timeout counted from
/// submission, the same on a re-send) in milliseconds since the Unix epoch, as a long-long int
/// ('l'). Wall clock, so client and server hosts must keep their clocks close (NTP): a server
/// whose clock runs ahead drops requests early by that much.
inline constexpr std::string_view deadline_header = "x-rpc-deadline";

/// `t` in milliseconds since the Unix epoch (the header's value).
std::int64_t epoch_millis(std::chrono::system_clock::time_point t) noexcept;

/// The deadline a request's headers table (its wire bytes, as delivered) carries: the first
/// deadline_header entry when it is a long-long int ('l') and not negative. Nothing otherwise
/// (no header, another type, a negative value): such a request has no deadline and is served.
/// Reads the table in place (no allocation); a malformed table gives nothing. Thread-safe.
std::optional<std::int64_t> request_deadline(amqp::table_view headers) noexcept;

/// Whether the request's deadline (request_deadline) is before `now`.
bool deadline_passed(amqp::table_view headers, std::chrono::system_clock::time_point now) noexcept;

}  // namespace rpc
