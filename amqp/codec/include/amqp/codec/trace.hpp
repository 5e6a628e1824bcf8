// Human-readable, annotated views of AMQP 0-9-1 frames: what `--trace` / AMQP_TRACE=1 print for
// every frame a connection sends or receives, and what the `amqp_decode` tool prints for bytes
// copied from Wireshark or a log.
//
// Pure formatting: bytes in, text out (to a std::ostream or a string). Nothing here is called
// unless tracing is on, so a connection with tracing off pays one null check per frame.
//
// Each frame is shown three ways:
//   1. a header line: direction, channel, frame type, `class.method` by name, sizes;
//   2. the decoded fields: every method argument by its spec name (field tables in full, nested),
//      content properties by name, a body preview;
//   3. the raw bytes as an annotated hex dump: offset, bytes, and which field they are.
// Credentials never appear: connection.start-ok's and connection.secure-ok's `response` is shown
// as "<masked N bytes>" in the decoded view and as `**` bytes in the hex dump.
// Malformed input is never fatal: the codec's error (reply code, offset, field) is printed with
// the bytes that could be annotated. Strings from the peer are quoted with control and
// non-printable octets escaped, so traced bytes cannot forge a line of the log.
//
// Errors: malformed input is part of the text (and of stream_result), never an exception; the
// functions throw only what the std::ostream throws (per its exception mask) and std::bad_alloc.
// Threading: every function may run on any thread; each frame is one write to the stream.
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <string>

namespace amqp::trace {

/// Which way the bytes went, from our side of the connection. `unknown` is for bytes whose
/// origin the caller does not know (a capture pasted into `amqp_decode`).
enum class direction : std::uint8_t { sent, received, unknown };

/// How much to show.
struct format_options {
    /// Body bytes shown (escaped) in the decoded view of a body frame.
    std::size_t body_preview = 64;
    /// Body bytes shown in a body frame's hex dump; the rest is summarised in one line.
    std::size_t hex_body_limit = 256;
    /// Include the annotated hex dump.
    bool hex = true;
    /// Include the decoded fields (method arguments, properties, body preview).
    bool decoded = true;
    /// Start each heading with the wall-clock time, UTC to the microsecond: "[14:03:07.123456".
    bool timestamp = false;
    /// Start each heading with "c<id>" (0: none), so that the frames of several connections of
    /// one process can be told apart: "[14:03:07.123456 c2] >> sent ...".
    std::uint64_t connection_id = 0;
};

/// Format one whole frame: its 7-byte header, payload and frame-end octet, exactly as on the wire.
/// Bytes that do not form exactly one well-formed frame are reported as malformed (with the
/// codec's reply code, offset and field), never by crashing. Writes with one `write` call, so
/// lines of frames traced from several threads do not interleave.
void format_frame(std::ostream& os, direction dir, bytes_view frame, const format_options& opts = {});

/// Same, from a frame the decoder has already split (the header and frame-end are rebuilt).
void format_frame(std::ostream& os, direction dir, const frame_view& frame, const format_options& opts = {});

/// Format the 8-byte protocol header ("AMQP" 0 0 9 1), or whatever 8 bytes stand in its place.
void format_protocol_header(std::ostream& os, direction dir, bytes_view header, const format_options& opts = {});

/// `format_frame` into a string.
std::string frame_to_string(direction dir, bytes_view frame, const format_options& opts = {});

/// The outcome of formatting a byte stream.
struct stream_result {
    std::size_t frames = 0;        ///< whole frames formatted (the protocol header not counted)
    bool protocol_header = false;  ///< the stream started with "AMQP..."
    error_code ec;                 ///< empty when every byte was part of a well-formed frame
    diagnostics diag;              ///< the codec's diagnostics; `diag.offset` is a stream offset
};

/// Format a stream of bytes as one peer sent them: an optional protocol header, then frames.
/// Stops at the first malformed frame (the codec's errors are fatal for a stream, as they are
/// for a connection) or at an incomplete trailing frame (501 FRAME_ERROR "input ends inside a
/// frame"). `frame_max` is the limit checked on each frame's size (default: no limit beyond the
/// wire format's own).
stream_result format_stream(std::ostream& os, direction dir, bytes_view bytes, const format_options& opts = {},
                            std::uint32_t frame_max = std::numeric_limits<std::uint32_t>::max());

/// The options AMQP_TRACE asks for, for one new connection: with AMQP_TRACE=time, `timestamp`
/// and a connection id unique in the process (1, 2, ... in the order of the calls; thread-safe);
/// with any other value, the defaults (headings as before).
format_options options_from_environment();

/// True when the environment variable AMQP_TRACE is set to a value other than "", "0", "false",
/// "no" or "off" (the switch that turns tracing on for every connection of a process).
bool enabled_by_environment() noexcept;

}  // namespace amqp::trace
