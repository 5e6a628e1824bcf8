#include <fibonacci/reply_format.hpp>

#include <charconv>

#include <boost/json/basic_parser_impl.hpp>

namespace rpc {

namespace {
reply value_reply(std::string_view digits, reply_format format) {
    if (format == reply_format::plain) return reply{std::string(digits)};
    constexpr std::string_view head = "{\"response\": ", tail = ", \"error\": null}";
    std::string body;
    body.reserve(head.size() + digits.size() + tail.size());
    body.append(head).append(digits).append(tail);
    return {std::move(body), std::string(json_content_type), {}};
}
}  // namespace

reply make_value_reply(const big_int& value, reply_format format) { return value_reply(value.str(), format); }

reply make_value_reply(std::uint64_t value, reply_format format) {
    char digits[20];  // 2^64 - 1 has 20 digits
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    return value_reply(std::string_view(digits, static_cast<std::size_t>(end - digits)), format);
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Decimal integer text: optional '-', then digits.
bool is_integer_text(std::string_view s) {
    if (!s.empty() && s[0] == '-') s.remove_prefix(1);
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// A SAX handler that keeps only what a reply needs: the top-level "response" and "error" members,
// with numbers as their source text (a DOM would turn a 20000-digit integer into a double).
struct reply_handler {
    static constexpr std::size_t max_array_size = -1;
    static constexpr std::size_t max_object_size = -1;
    static constexpr std::size_t max_string_size = -1;
    static constexpr std::size_t max_key_size = -1;

    enum class member { other, response, error };
    enum class shape { absent, null, integer, string, other };

    int depth = 0;
    bool top_is_object = false;
    member current = member::other;  // the member whose value comes next at depth 1
    std::string key;
    std::string number;
    std::string text;
    shape response = shape::absent;
    shape error = shape::absent;
    std::string response_text;
    std::string error_text;

    void set(shape s, std::string value) {
        if (depth != 1) return;
        if (current == member::response) {
            response = s;
            response_text = std::move(value);
        } else if (current == member::error) {
            error = s;
            error_text = std::move(value);
        }
        current = member::other;
    }
    bool open(boost::json::error_code&) {
        if (depth == 0) top_is_object = false;
        if (depth == 1) set(shape::other, {});
        ++depth;
        return true;
    }
    bool close(boost::json::error_code&) {
        --depth;
        return true;
    }

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_array_begin(boost::json::error_code& ec) { return open(ec); }
    bool on_array_end(std::size_t, boost::json::error_code& ec) { return close(ec); }
    bool on_object_begin(boost::json::error_code& ec) {
        const bool top = depth == 0;
        open(ec);
        if (top) top_is_object = true;
        return true;
    }
    bool on_object_end(std::size_t, boost::json::error_code& ec) { return close(ec); }
    bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        if (depth == 1) text.append(s.data(), s.size());
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        if (depth == 1) {
            text.append(s.data(), s.size());
            set(shape::string, std::move(text));
        }
        text.clear();
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        key.append(s.data(), s.size());
        if (depth == 1) current = key == "response" ? member::response : key == "error" ? member::error : member::other;
        key.clear();
        return true;
    }
    bool on_number_part(boost::json::string_view s, boost::json::error_code&) {
        if (depth == 1) number.append(s.data(), s.size());
        return true;
    }
    bool number_done(boost::json::string_view s) {
        if (depth == 1) {
            number.append(s.data(), s.size());
            set(is_integer_text(number) ? shape::integer : shape::other, number);
        }
        number.clear();
        return true;
    }
    bool on_int64(std::int64_t, boost::json::string_view s, boost::json::error_code&) { return number_done(s); }
    bool on_uint64(std::uint64_t, boost::json::string_view s, boost::json::error_code&) { return number_done(s); }
    bool on_double(double, boost::json::string_view s, boost::json::error_code&) { return number_done(s); }
    bool on_bool(bool b, boost::json::error_code&) {
        set(shape::other, b ? "true" : "false");
        return true;
    }
    bool on_null(boost::json::error_code&) {
        set(shape::null, {});
        return true;
    }
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

decoded_reply malformed(std::string why) { return {decoded_reply::kind::malformed, {}, std::move(why)}; }

decoded_reply decode_json(std::string_view body) {
    boost::json::basic_parser<reply_handler> parser{boost::json::parse_options{}};
    boost::json::error_code ec;
    const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
    if (ec) return malformed("reply is not valid JSON: " + ec.message());
    if (used != body.size()) return malformed("reply has bytes after the JSON value");
    const reply_handler& h = parser.handler();
    if (!h.top_is_object) return malformed("JSON reply is not an object");
    using shape = reply_handler::shape;
    if (h.error != shape::absent && h.error != shape::null) {
        std::string reason = h.error_text.empty() ? std::string("unspecified error") : h.error_text;
        return {decoded_reply::kind::error, {}, std::move(reason)};
    }
    if (h.response == shape::integer) return {decoded_reply::kind::value, h.response_text, {}};
    if (h.response == shape::absent) return malformed("JSON reply has no \"response\"");
    return malformed("JSON reply's \"response\" is not an integer");
}

}  // namespace

decoded_reply decode_reply(std::string_view body) {
    std::size_t begin = 0;
    std::size_t end = body.size();
    while (begin < end && is_space(body[begin])) ++begin;
    while (end > begin && is_space(body[end - 1])) --end;
    const std::string_view text = body.substr(begin, end - begin);
    if (!text.empty() && text[0] == '{') return decode_json(text);
    if (is_integer_text(text)) return {decoded_reply::kind::value, std::string(text), {}};
    if (text.empty()) return malformed("empty reply");
    return malformed("reply is neither a number nor a JSON object");
}

}  // namespace rpc
