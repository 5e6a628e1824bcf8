// What amqp_decode decodes, whatever it was read from: conversations of byte streams.
#pragma once

#include <amqp/codec/trace.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace amqp_decode {

/// The bytes one peer sent, in order, and when they became available.
struct stream {
    amqp::trace::direction dir = amqp::trace::direction::unknown;
    std::vector<std::uint8_t> bytes;
    /// (end, time): the bytes before offset `end` were all there at `time` (ascending in both).
    /// For input without times, `time` is an ordinal that keeps the input's order.
    std::vector<std::pair<std::size_t, double>> arrivals;
    /// Set when the stream is known to end early or hold stand-in bytes (a capture lost packets,
    /// a dump masked or elided bytes): said next to the fault it explains.
    std::string note;
    /// The bytes stop short of what was sent (lost packets, elided bytes): a fault even when the
    /// cut falls between two frames.
    bool cut = false;

    /// When the bytes before `end` were all there.
    double time_at(std::size_t end) const {
        const auto it = std::lower_bound(arrivals.begin(), arrivals.end(), end,
                                         [](const auto& a, std::size_t e) { return a.first < e; });
        if (it != arrivals.end()) return it->second;
        return arrivals.empty() ? 0.0 : arrivals.back().second;
    }
};

/// One conversation: a TCP connection of a capture, a trace, or the whole input.
struct conversation {
    std::string title;  ///< printed above its frames; empty for a single anonymous stream
    std::vector<stream> streams;
    bool timed = false;  ///< arrivals are seconds since the first packet of the capture
};

/// One captured packet, link-layer headers included.
struct packet {
    double time = 0;
    std::vector<std::uint8_t> data;
};

}  // namespace amqp_decode
