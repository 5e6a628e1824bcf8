// Content header frames (spec 4.2.6): class id, weight, body size, and the basic class's 14
// properties behind a property-flags word.
//
// Errors: returned as error_code plus `diagnostics`; nothing here throws except std::bad_alloc
// for a diagnostics text. Threading: pure functions and plain values (one writer at a time).
#pragma once

#include <amqp/codec/error.hpp>
#include <amqp/codec/types.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace amqp {

/// The properties of class basic, in wire order (flag bit 15 down to bit 2). Strings and the
/// headers table are views (into the decoded payload, or into the caller's data for encoding).
struct basic_properties {
    std::optional<std::string_view> content_type;      ///< bit 15, shortstr
    std::optional<std::string_view> content_encoding;  ///< bit 14, shortstr
    std::optional<table_view> headers;                 ///< bit 13, table
    std::optional<std::uint8_t> delivery_mode;         ///< bit 12, octet (1 transient, 2 persistent)
    std::optional<std::uint8_t> priority;              ///< bit 11, octet
    std::optional<std::string_view> correlation_id;    ///< bit 10, shortstr
    std::optional<std::string_view> reply_to;          ///< bit 9, shortstr
    std::optional<std::string_view> expiration;        ///< bit 8, shortstr (milliseconds, as text)
    std::optional<std::string_view> message_id;        ///< bit 7, shortstr
    std::optional<std::uint64_t> timestamp;            ///< bit 6, timestamp (seconds)
    std::optional<std::string_view> type;              ///< bit 5, shortstr
    std::optional<std::string_view> user_id;           ///< bit 4, shortstr
    std::optional<std::string_view> app_id;            ///< bit 3, shortstr
    std::optional<std::string_view> cluster_id;        ///< bit 2, shortstr ("reserved" in 0-9-1)
    friend bool operator==(const basic_properties&, const basic_properties&) = default;

    /// The property-flags word these properties encode to.
    std::uint16_t flags() const noexcept;
};

/// A content header frame's payload.
struct content_header {
    std::uint16_t class_index = 60;  ///< must equal the class of the method it follows
    std::uint16_t weight = 0;        ///< must be 0
    std::uint64_t body_size = 0;
    basic_properties properties;
    friend bool operator==(const content_header&, const content_header&) = default;
};

/// Decode a content header payload. Payload shorter than 14 bytes, a property running past the
/// end, a table that does not validate, a continuation bit (bit 0) set, or trailing bytes → 502
/// SYNTAX_ERROR (501 FRAME_ERROR when shorter than 14). Whether class and weight are acceptable
/// is the connection's decision (505 UNEXPECTED_FRAME); they are decoded as they are.
/// Views in `out` point into `payload`. No allocation.
error_code decode_content_header(bytes_view payload, content_header& out, diagnostics& diag) noexcept;

/// decode_content_header for a header whose frame was well formed, telling the faults that leave
/// the rest of the payload readable from those that do not. The headers table when it does not
/// validate (nested deeper than max_table_depth, an unknown field-type tag, an inner length past
/// its own table...) is skipped by its length, left absent in `out`, and the properties after it
/// are still decoded; trailing bytes after the last property are ignored. Either fault is
/// described in `skipped` (cleared first; empty when there was none; its `field` may quote the
/// peer's table keys). Returns an error, as decode_content_header would, only when the payload
/// cannot be read past some point: shorter than 14 bytes, flag bit 0 or 1 set, or a property
/// (or the table's length) running past the end. No allocation but the diagnostics' text.
error_code decode_content_header_salvaging(bytes_view payload, content_header& out, diagnostics& diag,
                                           diagnostics& skipped) noexcept;

/// Size of the payload `encode_content_header` writes.
std::size_t content_header_payload_size(const content_header& h) noexcept;
/// Write the content header payload at `out` (room for `content_header_payload_size(h)`).
/// 502 SYNTAX_ERROR if a shortstr exceeds 255 bytes (or the headers table 2^32 - 1).
error_code encode_content_header(const content_header& h, std::uint8_t* out) noexcept;

}  // namespace amqp
