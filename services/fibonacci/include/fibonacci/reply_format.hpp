// The reply format shared with the tutorial's Python programs: a success is the number as
// decimal text (what `int(body)` parses); an error is JSON {"response": null, "error": "..."}
// (the tutorial's error-handling section), sent with content_type application/json; a server
// may also send every reply as JSON {"response": N, "error": null}.
#pragma once

#include <fibonacci/fibonacci.hpp>
#include <rpc/server_request.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace rpc {

/// How a server writes successful replies.
enum class reply_format { plain, json };

/// A success: plain decimal text, or {"response": <digits>, "error": null}. The number is written
/// digit for digit as a JSON number (valid JSON at any size; Python's json.loads gives the exact
/// int), since Boost.JSON's value cannot hold it.
reply make_value_reply(const big_int& value, reply_format format);
/// The same for a value in a machine word (no big-integer arithmetic or allocation to format it).
reply make_value_reply(std::uint64_t value, reply_format format);
// make_error_reply (an error: {"response": null, "error": "<reason>"}, the reason JSON-escaped)
// and `reply` are in server_request.hpp: every service's error replies share this format.

/// What a client makes of a reply body.
struct decoded_reply {
    enum class kind { value, error, malformed } what = kind::malformed;
    std::string value;  ///< kind::value: the integer's decimal text, exactly as sent (sign kept)
    std::string error;  ///< kind::error: the server's reason; kind::malformed: what was wrong
};

/// Accepts plain decimal text (surrounding whitespace allowed) and the JSON object form (when the
/// body starts with '{', whatever the content_type says): a non-null "error" is an error (its
/// text, or its JSON if not a string); otherwise "response" must be an integer.
decoded_reply decode_reply(std::string_view body);

}  // namespace rpc
