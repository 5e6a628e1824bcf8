// AMQP URIs (https://www.rabbitmq.com/docs/uri-spec and uri-query-parameters), parsed with
// Boost.URL. Error texts name the offending part but never echo the password.
#include <amqp/connection_options.hpp>
#include <amqp/codec/printable.hpp>
#include <amqp/transport/error.hpp>

#include <charconv>
#include <limits>
#include <string>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

namespace amqp {
namespace {

template <class T>
bool parse_number(std::string_view s, T& out, std::uint64_t max) {
    std::uint64_t v = 0;
    const auto* end = s.data() + s.size();
    const auto r = std::from_chars(s.data(), end, v);
    if (s.empty() || r.ec != std::errc{} || r.ptr != end || v > max) return false;
    out = static_cast<T>(v);
    return true;
}

error_code invalid(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return transport_error::invalid_uri;
}

// A user name or password holding a raw '@' makes the URI parse with the rest of the password as
// the host and path, so the error would blame the vhost. Found on the raw text: the authority is
// what follows "://" up to the first '/', '?' or '#'; a second '@' in it can only be a credential's.
bool credentials_hold_raw_at(std::string_view uri) {
    const auto start = uri.find("://");
    if (start == std::string_view::npos) return false;
    auto authority = uri.substr(start + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const auto first = authority.find('@');
    return first != std::string_view::npos && authority.find('@', first + 1) != std::string_view::npos;
}

}  // namespace

error_code parse_uri(std::string_view uri, connection_options& out, std::string* why) {
    if (credentials_hold_raw_at(uri))
        return invalid(why, "the user name or password holds '@': percent-encode it as %40");
    auto parsed = boost::urls::parse_uri(uri);
    if (!parsed) {
        // Boost.URL's message names the grammar rule, not the input: safe to show.
        return invalid(why, "not a URI: " + parsed.error().message());
    }
    const boost::urls::url_view u = *parsed;
    connection_options o = out;
    const auto scheme = u.scheme();
    if (scheme == "amqp") {
        o.use_tls = false;
        o.port = 5672;
    } else if (scheme == "amqps") {
        o.use_tls = true;
        o.port = 5671;
    } else {
        return invalid(why, "scheme must be amqp or amqps, not " + printable(scheme));
    }
    if (u.has_userinfo()) {
        o.user = u.user();
        if (u.has_password()) o.password = u.password();
    }
    switch (u.host_type()) {
        case boost::urls::host_type::ipv6: o.host = u.host_address(); break;
        case boost::urls::host_type::none: break;
        default:
            if (!u.encoded_host().empty()) o.host = u.host_address();
            break;
    }
    if (u.has_port() && !u.port().empty() &&
        (!parse_number(u.port(), o.port, std::numeric_limits<std::uint16_t>::max()) || o.port == 0))
        return invalid(why, "bad port " + printable(u.port()));

    // The path is "/" followed by one percent-encoded segment: the vhost ("/%2f" is "/").
    const auto path = u.encoded_path();
    if (path.empty() || path == "/") {
        o.vhost = "/";
    } else {
        const auto segment = path.substr(1);
        if (segment.find('/') != std::string_view::npos)
            return invalid(why, "the vhost must be one path segment (write '/' as %2f)");
        o.vhost = boost::urls::pct_string_view(segment).decode();
    }
    if (o.vhost.size() > 255) return invalid(why, "vhost longer than 255 bytes");

    for (const auto& p : u.params()) {
        const std::string& k = p.key;
        const std::string& v = p.value;
        if (k.empty() && v.empty()) continue;  // "h?" or "h?a=1&": an empty query or a trailing '&'
        bool ok = true;
        if (k == "heartbeat") {
            ok = parse_number(v, o.heartbeat, std::numeric_limits<std::uint16_t>::max());
        } else if (k == "frame_max") {
            ok = parse_number(v, o.frame_max, std::numeric_limits<std::uint32_t>::max()) &&
                 (o.frame_max == 0 || o.frame_max >= 4096);
        } else if (k == "channel_max") {
            ok = parse_number(v, o.channel_max, std::numeric_limits<std::uint16_t>::max());
        } else if (k == "connection_timeout") {
            std::uint64_t ms = 0;
            ok = parse_number(v, ms, std::numeric_limits<std::uint32_t>::max()) && ms > 0;
            o.connection_timeout = std::chrono::milliseconds(ms);
        } else if (k == "auth_mechanism") {
            ok = v == "PLAIN" || v == "EXTERNAL";
            o.auth_mechanism = v;
        } else if (k == "cacertfile") {
            o.tls.ca_file = v;
        } else if (k == "certfile") {
            o.tls.cert_file = v;
        } else if (k == "keyfile") {
            o.tls.key_file = v;
        } else if (k == "verify") {
            ok = v == "verify_peer" || v == "verify_none";
            o.tls.verify_peer = v == "verify_peer";
        } else if (k == "server_name_indication") {
            o.tls.server_name = v;
        } else {
            return invalid(why, "unknown query parameter " + printable(k));
        }
        if (!ok) return invalid(why, "bad value " + printable(v) + " for query parameter " + printable(k));
    }
    out = std::move(o);
    return {};
}

std::string connection_options::to_display_string() const {
    constexpr auto unreserved = boost::urls::unreserved_chars;
    std::string s = use_tls ? "amqps://" : "amqp://";
    s += boost::urls::encode(user, unreserved);
    if (!password.empty()) s += ":***";
    s += '@';
    if (host.find(':') != std::string::npos) {
        s += '[' + host + ']';
    } else {
        s += host;
    }
    s += ':' + std::to_string(port) + '/';
    s += boost::urls::encode(vhost, unreserved);
    return s;
}

}  // namespace amqp
