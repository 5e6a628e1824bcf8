// AMQP URI parsing (RabbitMQ's URI spec and query parameters) and the password-free display form.
#include <amqp/connection_options.hpp>
#include <amqp/protocol/client_error.hpp>
#include <amqp/transport/error.hpp>

#include <gtest/gtest.h>

namespace {

amqp::connection_options parse_ok(std::string_view uri) {
    amqp::connection_options o;
    std::string why;
    const auto ec = amqp::parse_uri(uri, o, &why);
    EXPECT_FALSE(ec) << uri << ": " << why;
    return o;
}

std::string parse_error(std::string_view uri) {
    amqp::connection_options o;
    std::string why;
    const auto ec = amqp::parse_uri(uri, o, &why);
    EXPECT_EQ(ec, amqp::transport_error::invalid_uri) << uri;
    EXPECT_FALSE(why.empty());
    return why;
}

TEST(Uri, Defaults) {
    const auto o = parse_ok("amqp://");
    EXPECT_EQ(o.host, "localhost");
    EXPECT_EQ(o.port, 5672);
    EXPECT_EQ(o.user, "guest");
    EXPECT_EQ(o.password, "guest");
    EXPECT_EQ(o.vhost, "/");
    EXPECT_FALSE(o.use_tls);
}

TEST(Uri, FullForm) {
    const auto o = parse_ok("amqp://alice:s%40cret@broker.example:5673/prod");
    EXPECT_EQ(o.user, "alice");
    EXPECT_EQ(o.password, "s@cret");
    EXPECT_EQ(o.host, "broker.example");
    EXPECT_EQ(o.port, 5673);
    EXPECT_EQ(o.vhost, "prod");
}

TEST(Uri, VhostForms) {
    EXPECT_EQ(parse_ok("amqp://h").vhost, "/");
    EXPECT_EQ(parse_ok("amqp://h/").vhost, "/");
    EXPECT_EQ(parse_ok("amqp://h/%2f").vhost, "/");
    EXPECT_EQ(parse_ok("amqp://h/%2Fa%20b").vhost, "/a b");
    parse_error("amqp://h/a/b");
}

TEST(Uri, AmqpsDefaultsToTlsOn5671) {
    const auto o = parse_ok("amqps://h");
    EXPECT_TRUE(o.use_tls);
    EXPECT_EQ(o.port, 5671);
    EXPECT_TRUE(o.tls.verify_peer);
}

TEST(Uri, Ipv6Host) {
    const auto o = parse_ok("amqp://[::1]:5672");
    EXPECT_EQ(o.host, "::1");
}

TEST(Uri, QueryParameters) {
    const auto o = parse_ok(
        "amqps://u:p@h/v?heartbeat=5&frame_max=8192&channel_max=10&connection_timeout=2500"
        "&auth_mechanism=EXTERNAL&cacertfile=/tmp/ca.pem&certfile=/tmp/c.pem&keyfile=/tmp/c.key"
        "&verify=verify_none&server_name_indication=broker.local");
    EXPECT_EQ(o.heartbeat, 5);
    EXPECT_EQ(o.frame_max, 8192u);
    EXPECT_EQ(o.channel_max, 10);
    EXPECT_EQ(o.connection_timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(o.auth_mechanism, "EXTERNAL");
    EXPECT_EQ(o.tls.ca_file, "/tmp/ca.pem");
    EXPECT_EQ(o.tls.cert_file, "/tmp/c.pem");
    EXPECT_EQ(o.tls.key_file, "/tmp/c.key");
    EXPECT_FALSE(o.tls.verify_peer);
    EXPECT_EQ(o.tls.server_name, "broker.local");
}

TEST(Uri, BadInputsAreRefusedWithoutTheirPassword) {
    parse_error("http://h");
    parse_error("amqp://h:99999");
    parse_error("amqp://h:0");
    parse_error("amqp://h?heartbeat=x");
    parse_error("amqp://h?frame_max=100");
    parse_error("amqp://h?connection_timeout=0");
    parse_error("amqp://h?nonsense=1");
    parse_error("amqp://h?verify=maybe");
    for (const char* uri : {"amqp://u:hunter2@h:99999", "amqp://u:hunter2@h?heartbeat=-1", "amqp://u:hunter2@h/a/b",
                            "amqp://u:hunter2@h?x=y", "amqp://u:hunter2@[::1"}) {
        const auto why = parse_error(uri);
        EXPECT_EQ(why.find("hunter2"), std::string::npos) << why;
    }
}

TEST(Uri, FailureLeavesTheOptionsUntouched) {
    amqp::connection_options o;
    o.host = "keep";
    EXPECT_TRUE(amqp::parse_uri("amqp://other:99999", o));
    EXPECT_EQ(o.host, "keep");
}

TEST(Uri, DisplayStringMasksThePassword) {
    const auto o = parse_ok("amqp://alice:hunter2@h:5673/my%2fvhost");
    const auto s = o.to_display_string();
    EXPECT_EQ(s.find("hunter2"), std::string::npos) << s;
    EXPECT_EQ(s, "amqp://alice:***@h:5673/my%2Fvhost");
}

TEST(ClientError, CategoryAndMessages) {
    const amqp::error_code ec = amqp::client_error::missed_heartbeats;
    EXPECT_STREQ(ec.category().name(), "amqp.client");
    EXPECT_FALSE(ec.message().empty());
    amqp::close_reason r;
    r.code = amqp::reply_code::not_found;
    r.reply_code = 404;
    r.reply_text = "NOT_FOUND - no queue 'x' in vhost '/'";
    r.class_id = 50;
    r.method_id = 10;
    r.from_broker = true;
    EXPECT_EQ(r.to_string(), "channel closed by broker: 404 NOT_FOUND - no queue 'x' in vhost '/' (queue.declare)");
    amqp::close_reason ours;
    ours.code = amqp::reply_code::frame_error;
    ours.reply_code = 501;
    ours.reply_text = "bad frame end";
    EXPECT_EQ(ours.to_string(), "protocol fault: sent 501 FRAME_ERROR - bad frame end");
}

}  // namespace

namespace {

TEST(ClientError, LocalFailuresReadWell) {
    amqp::close_reason refused;
    refused.code = amqp::error_code(ECONNREFUSED, boost::system::system_category());
    refused.reply_text = "cannot connect to 127.0.0.1:1";
    EXPECT_EQ(refused.to_string(), "cannot connect to 127.0.0.1:1 (" + refused.code.message() + ")");
    amqp::close_reason timeout;
    timeout.code = amqp::client_error::connect_timeout;
    timeout.reply_text = "no open connection to h:5672 within 100 ms";
    EXPECT_EQ(timeout.to_string(), "connection timed out: no open connection to h:5672 within 100 ms");
    const amqp::error e(timeout.code, timeout.to_string());
    EXPECT_STREQ(e.what(), "connection timed out: no open connection to h:5672 within 100 ms");
    EXPECT_EQ(e.code(), amqp::client_error::connect_timeout);
}

}  // namespace

namespace {

// Issue 15: what a user typed is echoed capped, and the text names the real mistake.
TEST(Uri, EchoedInputIsCapped) {
    const std::string key(100'000, 'k');
    const auto why = parse_error("amqp://h?" + key + "=1");
    EXPECT_LT(why.size(), 1000u) << why.size();
    EXPECT_NE(why.find("unknown query parameter"), std::string::npos) << why.substr(0, 200);
    const auto bad_value = parse_error("amqp://h?heartbeat=" + std::string(100'000, '9'));
    EXPECT_LT(bad_value.size(), 1000u) << bad_value.size();
    const auto bad_scheme = parse_error(std::string(100'000, 'x') + "://h");
    EXPECT_LT(bad_scheme.size(), 1000u) << bad_scheme.size();
    const auto bad_port = parse_error("amqp://h:" + std::string(100'000, '7'));
    EXPECT_LT(bad_port.size(), 1000u) << bad_port.size();
}

TEST(Uri, EchoedInputIsEscaped) {
    const auto why = parse_error("amqp://h?a%0Ab=1");
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
}

TEST(Uri, AnAtSignInThePasswordIsNamed) {
    const auto why = parse_error("amqp://guest:p@ss@host/");
    EXPECT_EQ(why.find("vhost"), std::string::npos) << why;
    EXPECT_NE(why.find("'@'"), std::string::npos) << why;
    EXPECT_NE(why.find("%40"), std::string::npos) << why;
    const auto secret = parse_error("amqp://guest:hun@ter2@host/");
    EXPECT_NE(secret.find("%40"), std::string::npos) << secret;
    EXPECT_EQ(secret.find("ter2"), std::string::npos) << "the password must not be echoed: " << secret;
    EXPECT_EQ(parse_ok("amqp://guest:p%40ss@host/").password, "p@ss");
}

TEST(Uri, AnEmptyQueryIsAccepted) {
    const auto o = parse_ok("amqp://u:p@h:5673/v?");
    EXPECT_EQ(o.host, "h");
    EXPECT_EQ(o.vhost, "v");
    EXPECT_EQ(parse_ok("amqp://h?heartbeat=5&").heartbeat, 5);
}

}  // namespace

TEST(TransportError, CategoryAndMessages) {
    const amqp::error_code uri = amqp::transport_error::invalid_uri;
    EXPECT_STREQ(uri.category().name(), "amqp.transport");
    EXPECT_EQ(uri.message(), "invalid AMQP URI");
    const amqp::error_code tls = amqp::transport_error::tls_error;
    EXPECT_EQ(tls.message(), "TLS error");
    EXPECT_NE(uri, amqp::error_code(amqp::client_error::operation_aborted));
}
