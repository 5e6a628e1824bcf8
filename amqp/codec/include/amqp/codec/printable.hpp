// Text a peer sent (a correlation id, a reply_to, a consumer tag, a broker's close text, a request
// body) made safe to print in a log line or an error message: anyone who can publish controls
// these octets, so raw they could forge log lines or send terminal escapes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace amqp {

/// How many octets of a peer's text a log line or an error message shows by default.
inline constexpr std::size_t printable_limit = 256;

/// `s` in double quotes with `"`, `\`, every control octet and every octet >= 0x7F escaped
/// (`\n`, `\r`, `\t`, `\xNN`), so the result is one line of printable ASCII. After `limit` octets
/// of `s` the quote is closed and `...` appended. Throws only std::bad_alloc. Pure: any thread.
std::string printable(std::string_view s, std::size_t limit = printable_limit);

}  // namespace amqp
