#include <rpc/server_request.hpp>

#include <cctype>
#include <system_error>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/system/system_error.hpp>

namespace rpc {

reply make_error_reply(std::string_view reason) {
    const boost::json::string text(reason);
    return {"{\"response\": null, \"error\": " + boost::json::serialize(text) + "}", std::string(json_content_type)};
}

reply reply::error(std::string_view reason) { return make_error_reply(reason); }

namespace {

// Boost.System appends " [<category>:<value>]" or " [<category>:<value> at <file>:<line>:<col> in
// function '<name>']" to what() (Boost.JSON's errors carry the location they were raised at):
// for the developer at the server, not for the client, and it names internal paths.
bool is_boost_location(std::string_view inner) {
    const std::size_t colon = inner.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : inner.substr(0, colon))
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    std::string_view rest = inner.substr(colon + 1);
    if (!rest.empty() && rest[0] == '-') rest.remove_prefix(1);
    std::size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    if (digits == 0) return false;
    rest.remove_prefix(digits);
    return rest.empty() || rest.substr(0, 4) == " at ";
}

std::string strip_locations(std::string_view text) {
    while (!text.empty() && text.back() == ']') {
        const std::size_t open = text.rfind(" [");
        if (open == std::string_view::npos || !is_boost_location(text.substr(open + 2, text.size() - open - 3))) break;
        text = text.substr(0, open);
    }
    return std::string(text);
}

}  // namespace

std::string error_text(std::exception_ptr e) {
    try {
        if (e) std::rethrow_exception(e);
    } catch (const boost::system::system_error& x) {
        return strip_locations(x.what());
    } catch (const std::exception& x) {
        return strip_locations(x.what());
    } catch (...) {
    }
    return "internal error: the handler threw a non-standard exception";
}

reply error_reply(std::exception_ptr e) { return make_error_reply(error_text(std::move(e))); }

}  // namespace rpc
