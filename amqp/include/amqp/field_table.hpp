// Field tables and arrays on the wire: validation (no allocation), decoding into the value
// model, and encoding. Type tags are RabbitMQ's errata set (see types.hpp).
#pragma once

#include <amqp/error.hpp>
#include <amqp/types.hpp>

#include <cstddef>
#include <string>

namespace amqp {

/// Tables and arrays nested deeper than this are rejected (502). RabbitMQ's own
/// server-properties nest 2 deep; a peer that sends 20000 levels must not overflow our stack.
inline constexpr std::size_t max_table_depth = 32;

/// Check that `raw` (a table's bytes after its 4-byte length) is a well-formed table: every name
/// a shortstr, every tag known, every length inside `raw`, depth ≤ max_table_depth. No allocation.
/// 502 SYNTAX_ERROR with `diag` (offset relative to `raw`) otherwise.
error_code validate_table(bytes_view raw, diagnostics& diag) noexcept;

/// Decode a (validated or not) table into values. Same checks as `validate_table`.
error_code decode_table(table_view t, field_table& out, diagnostics& diag);

/// Append the table's wire bytes (without the 4-byte length prefix) to `out`.
/// 502 SYNTAX_ERROR if a name exceeds 255 bytes, a long string exceeds 2^32-1 bytes, or the
/// nesting exceeds max_table_depth.
error_code encode_table(const field_table& t, byte_buffer& out);

/// Size in bytes of the table's wire form (without the length prefix).
std::size_t table_encoded_size(const field_table& t) noexcept;

/// One-line human form, e.g. `{product: "RabbitMQ", capabilities: {publisher_confirms: true}}`,
/// for traces and error messages.
std::string to_string(const field_table& t);
std::string to_string(const field_value& v);

}  // namespace amqp
