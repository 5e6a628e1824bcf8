// Strings shown to people (field-table text, traces): in double quotes, with `"`, `\`, \n, \r,
// \t and other non-printable octets escaped, so any bytes print as one readable line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace amqp::detail {

/// Append `s` quoted and escaped; after `limit` octets, close the quote and append "...".
void append_quoted(std::string& out, std::string_view s, std::size_t limit = std::string_view::npos);

}  // namespace amqp::detail
