// AMQP 0-9-1 frames (spec 2.3.5 / 4.2.3): type, channel, size, payload, frame-end 0xCE.
// A streaming decoder that takes bytes in any chunks and hands out whole frames as views.
//
// Errors: decoding faults are returned (a `frame_error` / reply code plus `diagnostics`), never
// thrown; the only exception is std::bad_alloc from a buffer that grows.
// Threading: the free functions are pure and may run concurrently; a frame_decoder is not
// thread-safe (one owner at a time, like any sans-IO object of this library).
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/types.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace amqp {

/// The client's protocol header: "AMQP" 0 0 9 1.
inline constexpr std::array<std::uint8_t, 8> protocol_header = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};

inline constexpr std::uint8_t frame_end = 0xCE;
/// type (1) + channel (2) + size (4).
inline constexpr std::size_t frame_header_size = 7;
/// Header + frame-end octet: what a frame costs besides its payload.
inline constexpr std::size_t frame_overhead = frame_header_size + 1;
/// The smallest frame_max a peer may negotiate, and the limit in force before connection.tune.
inline constexpr std::uint32_t frame_min_size = 4096;

/// Frame types (spec 4.2.3). RabbitMQ sends 8 for heartbeat (the spec's XML says 8; some texts say 4).
enum class frame_type : std::uint8_t {
    method = 1,
    header = 2,
    body = 3,
    heartbeat = 8,
};

/// One decoded frame. `payload` points into the decoder's buffer (or the caller's input) and is
/// valid until the decoder is next fed or advanced.
struct frame_view {
    frame_type type{};
    std::uint16_t channel = 0;
    bytes_view payload;
};

/// Outcome of one decode step.
enum class decode_status : std::uint8_t {
    ok,         ///< a frame was decoded; `consumed` bytes of input were used
    need_more,  ///< the input ends inside a frame; nothing consumed; not an error
    error,      ///< the input is malformed; `ec` and `diag` say why. Fatal for the stream.
};

/// A framing error as `decode_frame` and `frame_decoder` report it: empty, or a reply code
/// (in practice 501 FRAME_ERROR). Two bytes rather than an error_code, to keep frame_result
/// small (docs/codec-benchmarks.md); it converts to `error_code` wherever one is wanted and
/// compares with reply codes.
class frame_error {
public:
    constexpr frame_error() noexcept = default;
    constexpr frame_error(reply_code c) noexcept : code_(static_cast<std::uint16_t>(c)) {}

    /// True when there is an error.
    explicit constexpr operator bool() const noexcept { return code_ != 0; }
    /// The reply code (0 when empty).
    constexpr std::uint16_t value() const noexcept { return code_; }
    /// As an error_code of `reply_category()` (empty when there is no error).
    operator error_code() const noexcept {
        return code_ != 0 ? make_error_code(static_cast<reply_code>(code_)) : error_code{};
    }

    friend constexpr bool operator==(frame_error a, frame_error b) noexcept { return a.code_ == b.code_; }
    friend constexpr bool operator==(frame_error a, reply_code b) noexcept {
        return a.code_ == static_cast<std::uint16_t>(b);
    }
    friend bool operator==(frame_error a, const error_code& b) noexcept { return error_code(a) == b; }

private:
    std::uint16_t code_ = 0;
};

/// Result of `decode_frame`.
struct frame_result {
    decode_status status = decode_status::need_more;
    frame_error ec;  ///< set when status is error
    frame_view frame;
    std::size_t consumed = 0;
};

/// Decode one frame from the front of `in`, checking, in this order and before looking further:
/// the type (known type, else 501), the size against `frame_max` (payload > frame_max - 8 → 501),
/// heartbeat payload empty (else 501), the frame-end octet (else 501).
/// Channel rules (heartbeat on channel 0 only, content on channel != 0) are the connection's job.
/// Never reads past `in`; no allocation. `diag` is filled on error (offset relative to `in`).
/// `need_more` (an incomplete frame, nothing consumed) is not an error. A `frame_max` below
/// 4096 is treated as 4096.
frame_result decode_frame(bytes_view in, std::uint32_t frame_max, diagnostics& diag) noexcept;

namespace detail {
/// The faults decode_frame reports; formatting happens out of line (frame.cpp), off the hot path.
enum class frame_fault : std::uint8_t { type, size, heartbeat, end };
/// Fills `diag` and returns the error result (by value: docs/codec-benchmarks.md, decode_frame).
[[gnu::cold]] frame_result fail_frame(diagnostics& diag, frame_fault f, std::uint64_t value, std::uint64_t limit,
                                      std::size_t offset) noexcept;
/// The payload size a frame header declares (octets 3..6, big-endian); `p`: at least
/// frame_header_size octets.
inline std::uint32_t frame_payload_size(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[4]} << 16) | (std::uint32_t{p[5]} << 8) | std::uint32_t{p[6]};
}
}  // namespace detail

// Inline because it runs once per frame and is a handful of compares. Why one result returned
// on every path, filled from a cold call's return value: docs/codec-benchmarks.md (decode_frame).
inline frame_result decode_frame(bytes_view in, std::uint32_t frame_max, diagnostics& diag) noexcept {
    frame_result r;
    // Below the spec's minimum, `frame_max - 8` could wrap (rabbitmq-c GHSA-jh48-qjf5-fx5v).
    if (frame_max < frame_min_size) frame_max = frame_min_size;
    if (in.empty()) return r;
    const std::uint8_t t = in[0];
    // Types 1, 2, 3 and 8, as one test.
    if (t > 8 || ((0x10Eu >> t) & 1u) == 0) [[unlikely]] {
        r = detail::fail_frame(diag, detail::frame_fault::type, t, 0, 0);
        return r;
    }
    if (in.size() < frame_header_size) return r;
    const std::uint8_t* p = in.data();
    const std::uint32_t size = detail::frame_payload_size(p);
    // Decided from the header alone, so a claimed 4 GiB frame fails now rather than after we
    // have waited for (and buffered) its payload. No `size + 8` here: it could wrap.
    if (size > frame_max - static_cast<std::uint32_t>(frame_overhead)) [[unlikely]] {
        r = detail::fail_frame(diag, detail::frame_fault::size, size, frame_max, 3);
        return r;
    }
    if (t == 8 && size != 0) [[unlikely]] {
        r = detail::fail_frame(diag, detail::frame_fault::heartbeat, size, 0, 3);
        return r;
    }
    // Whole frame present iff size + 1 <= in.size() - 7.
    if (size >= in.size() - frame_header_size) return r;
    const std::size_t end_at = frame_header_size + size;
    if (p[end_at] != frame_end) [[unlikely]] {
        r = detail::fail_frame(diag, detail::frame_fault::end, p[end_at], 0, end_at);
        return r;
    }
    r.status = decode_status::ok;
    r.frame.type = static_cast<frame_type>(t);
    r.frame.channel = static_cast<std::uint16_t>((p[1] << 8) | p[2]);
    r.frame.payload = in.subspan(frame_header_size, size);
    r.consumed = end_at + 1;
    return r;
}

/// What the peer's first 8 bytes were, if not frames.
enum class header_check : std::uint8_t {
    need_more,      ///< fewer than 8 bytes so far
    not_a_header,   ///< does not start with "AMQP": these are frames (or garbage)
    ours,           ///< "AMQP" 0 0 9 1
    other_version,  ///< "AMQP" with other version octets: the broker refused our version
};

/// Recognise a protocol header at the front of `in` (a broker replies with its own header and
/// closes the socket when it does not accept ours). `version` (if not null) gets the 4 octets
/// after "AMQP" when the result is `ours` or `other_version`. Pure; reads at most 8 bytes.
header_check check_protocol_header(bytes_view in, std::array<std::uint8_t, 4>* version = nullptr) noexcept;

/// Streaming frame decoder: feed it bytes as they arrive, in chunks of any size, then take out
/// whole frames. Owns one buffer that grows to at most frame_max bytes and is then reused: no
/// allocation per frame in steady state. Errors are sticky: after one, `next()` keeps returning it
/// and `feed` drops its input. Not thread-safe: one owner at a time.
///
///     frame_decoder dec;
///     dec.feed(bytes);                       // or: copy into dec.prepare(n), then dec.commit(n)
///     while (auto r = dec.next(); r.status == decode_status::ok) { use(r.frame); }
class frame_decoder {
public:
    /// `frame_max` as for set_frame_max. Allocates nothing until bytes arrive.
    explicit frame_decoder(std::uint32_t frame_max = frame_min_size);

    /// Limit for incoming frames (header + payload + end). Values below 4096 are raised to 4096.
    /// Applies to frames not yet returned by `next()`.
    void set_frame_max(std::uint32_t frame_max) noexcept;
    /// The limit in force.
    std::uint32_t frame_max() const noexcept { return frame_max_; }

    /// Append bytes (ignored after an error). Frames returned by earlier `next()` calls become
    /// invalid. Throws std::bad_alloc if the buffer cannot grow.
    void feed(bytes_view bytes);
    /// Space for reading `n` bytes straight from a socket into the buffer; then `commit(k)`.
    /// Invalidates earlier frames as `feed` does; throws std::bad_alloc if the buffer cannot grow.
    std::span<std::uint8_t> prepare(std::size_t n);
    /// prepare() for a socket read of at most `n` bytes, which may hand out less: when the bytes
    /// buffered are the start of one frame that fits in the space after them, only what that frame
    /// still lacks, so that the read ends on a frame boundary and the next one starts at the front
    /// of an emptied buffer instead of moving a partial frame there. Then `commit(k)`.
    std::span<std::uint8_t> prepare_read(std::size_t n);
    /// Mark the first `n` bytes of the last `prepare` as received (at most the buffer's free space).
    void commit(std::size_t n) noexcept;

    /// The next whole frame, `need_more`, or the (sticky) error. Returned views stay valid until
    /// the next `feed`/`prepare`.
    frame_result next() noexcept;

    /// Bytes fed but not yet returned as frames.
    std::size_t buffered() const noexcept { return end_ - begin_; }
    /// Those bytes themselves (none after an error), for a caller that decodes whole frames
    /// itself (`decode_delivery`); valid as `next()`'s frames are, until the next feed/prepare.
    bytes_view pending() const noexcept { return ec_ ? bytes_view{} : bytes_view(buf_.data() + begin_, end_ - begin_); }
    /// Take out the first `n` bytes of `pending()`, which the caller decoded as whole frames.
    void skip(std::size_t n) noexcept {
        n = std::min(n, end_ - begin_);
        begin_ += n;
        consumed_total_ += n;
    }
    /// The error that stopped the decoder (empty while healthy), and then its diagnostics.
    error_code error() const noexcept { return ec_; }
    const diagnostics& diag() const noexcept { return diag_; }
    /// Total bytes consumed as frames since construction (for error offsets in stream terms).
    std::uint64_t stream_offset() const noexcept { return consumed_total_; }

private:
    void compact();

    byte_buffer buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::uint32_t frame_max_;
    std::uint64_t consumed_total_ = 0;
    frame_error ec_;
    diagnostics diag_;
};

/// Write a frame's 7-byte header at `out[0..7)`; the caller writes the payload after it and
/// the frame-end octet after that. Returns the bytes written (7). `out` must have 7 bytes.
// Inline: a message encode writes three of these (docs/codec-benchmarks.md).
inline std::size_t write_frame_header(std::uint8_t* out, frame_type type, std::uint16_t channel,
                                      std::uint32_t payload_size) noexcept {
    out[0] = static_cast<std::uint8_t>(type);
    out[1] = static_cast<std::uint8_t>(channel >> 8);
    out[2] = static_cast<std::uint8_t>(channel);
    out[3] = static_cast<std::uint8_t>(payload_size >> 24);
    out[4] = static_cast<std::uint8_t>(payload_size >> 16);
    out[5] = static_cast<std::uint8_t>(payload_size >> 8);
    out[6] = static_cast<std::uint8_t>(payload_size);
    return frame_header_size;
}

/// Append a heartbeat frame (type 8, channel 0, empty payload) to `out`. Throws std::bad_alloc.
void append_heartbeat(byte_buffer& out);

}  // namespace amqp
