#include <rpc/client_error_reply.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace rpc {

std::optional<std::string> error_reply_text(std::string_view body, std::string_view content_type) {
    if (content_type != "application/json") return std::nullopt;
    // Most JSON replies are successes: only a body that names "error" is worth parsing.
    if (body.find("\"error\"") == std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* error = v.as_object().if_contains("error");
    if (error == nullptr || error->is_null()) return std::nullopt;
    if (error->is_string()) {
        const auto& s = error->get_string();
        return s.empty() ? std::string("unspecified error") : std::string(s.data(), s.size());
    }
    return boost::json::serialize(*error);
}

}  // namespace rpc
