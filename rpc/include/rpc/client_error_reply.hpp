// How the client tells a server's error reply from a reply: the JSON error format of the
// tutorial's error-handling section, {"response": null, "error": "..."}, with content_type
// application/json (what rpc_server sends for a refused request or a handler's failure).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rpc {

/// The server's error text when `body` is an error reply: content_type application/json, a JSON
/// object whose "error" member is present and not null (its string, or its JSON text when it
/// is not a string). nullopt for anything else, which the caller receives as a reply. Pure.
std::optional<std::string> error_reply_text(std::string_view body, std::string_view content_type);

}  // namespace rpc
