// Integration tests of reaching the broker: authentication, an unreachable port, TLS with the
// fixture's CA, a broker our CA did not sign, a host name mismatch, plain AMQP to a TLS port.
#include "connection_helpers.hpp"

#include <amqp/connection.hpp>
#include <amqp/transport/error.hpp>

#include <chrono>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using amqp_test::io_thread;
using amqp_test::queue;
using amqp_test::ready_within;

TEST(Connection, WrongPasswordIsAnAuthenticationError) {
    REQUIRE_BROKER(opts);
    opts.password = "definitely-not-the-password";
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "open succeeded with a wrong password";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::client_error::authentication_failed) << e.what();
        EXPECT_EQ(std::string(e.what()).find("definitely-not-the-password"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
}

TEST(Connection, UnreachablePortFailsWithinTheTimeout) {
    // A port nobody listens on: bind one, note it, close it.
    boost::asio::io_context probe;
    boost::asio::ip::tcp::acceptor acc(probe, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acc.local_endpoint().port();
    acc.close();
    amqp::connection_options opts;
    opts.host = "127.0.0.1";
    opts.port = port;
    opts.connection_timeout = 3s;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    std::promise<amqp::error_code> done;
    c.async_open([&](amqp::error_code ec) { done.set_value(ec); });
    auto f = done.get_future();
    ASSERT_TRUE(ready_within(f, 10s)) << "open did not finish within its timeout";
    EXPECT_EQ(f.get(), boost::asio::error::connection_refused);
    EXPECT_FALSE(c.is_open());
}

TEST(Connection, TlsWithTheFixtureCa) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    io_thread io;
    amqp::connection c(io.executor(), *maybe);
    c.open();
    auto ch = c.open_channel();
    EXPECT_FALSE(ch.declare_queue(queue("", true)).name.empty());
    c.close();
}

TEST(Connection, TlsRejectsABrokerNotSignedByOurCa) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    opts.tls.ca_file.clear();  // the system CAs do not know the fixture's CA
    opts.tls.cert_file.clear();
    opts.tls.key_file.clear();
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "TLS verification accepted an unknown CA";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::transport_error::tls_error) << e.what();
        // OpenSSL's reason, not only "certificate verify failed": an unknown issuer.
        EXPECT_NE(std::string(e.what()).find("not signed by a CA in the system's CA paths"), std::string::npos)
            << e.what();
    }
}

TEST(Connection, TlsNamesAHostNameMismatch) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    // The fixture's CA is trusted, but its certificate names 127.0.0.1 and localhost only.
    opts.tls.server_name = "broker.invalid";
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "TLS verification accepted a certificate for another name";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::transport_error::tls_error) << e.what();
        const std::string what = e.what();
        EXPECT_NE(what.find("does not name 'broker.invalid'"), std::string::npos) << what;
        EXPECT_EQ(what.find("not signed by a CA"), std::string::npos) << what;
    }
}

TEST(Connection, PlainAmqpToATlsPortSuggestsAmqps) {
    auto maybe = amqp_test::tls_broker_options();
    if (!maybe) GTEST_SKIP() << "no TLS broker (start the fixture with --tls)";
    auto opts = *maybe;
    opts.use_tls = false;  // amqp:// to the amqps:// listener's port
    opts.connection_timeout = 30s;
    io_thread io;
    amqp::connection c(io.executor(), opts);
    try {
        c.open();
        FAIL() << "a plain AMQP handshake succeeded on the TLS port";
    } catch (const amqp::error& e) {
        EXPECT_NE(std::string(e.what()).find("is this a TLS port? use amqps://"), std::string::npos) << e.what();
    }
}

}  // namespace
