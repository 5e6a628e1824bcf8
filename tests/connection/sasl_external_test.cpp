// SASL EXTERNAL against a real RabbitMQ: a TLS node of the test's own with the
// rabbitmq_auth_mechanism_ssl plugin, which takes the user name from the client certificate's CN
// (the test CA's client certificate says CN=guest). Its own node, not the shared one: with the
// plugin the broker lists its mechanisms in another order, and the shared node must offer what a
// default install offers (docs/walkthrough.md is checked against it).
#include <test_support/private_broker.hpp>
#include "test_broker.hpp"

#include <amqp/connection.hpp>

#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace {

using amqp_test::io_thread;

class SaslExternal : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        node_ = new faults_test::private_broker(
            AMQP_CONNECTION_WORK_DIR "/rabbitmq-sasl-" + std::to_string(getpid()),
            {"auth_mechanisms.1=PLAIN", "auth_mechanisms.2=AMQPLAIN", "auth_mechanisms.3=EXTERNAL",
             "ssl_cert_login_from=common_name"},
            {"--tls", "--plugin", "rabbitmq_auth_mechanism_ssl"});
    }
    static void TearDownTestSuite() {
        delete node_;
        node_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(node_->ok() && !node_->amqps_url().empty()) << "the TLS node did not start"; }

    // EXTERNAL over TLS with the test CA; the client certificate as `with_cert` says.
    static amqp::connection_options external(bool with_cert) {
        amqp::connection_options o;
        std::string why;
        EXPECT_FALSE(amqp::parse_uri(node_->amqps_url(), o, &why)) << why;
        o.auth_mechanism = "EXTERNAL";
        // Not sent with EXTERNAL: the broker takes the user from the certificate.
        o.user = "nobody";
        o.password = "not-used";
        o.tls.ca_file = node_->tls_dir() + "/ca.pem";
        if (with_cert) {
            o.tls.cert_file = node_->tls_dir() + "/client.pem";
            o.tls.key_file = node_->tls_dir() + "/client.key";
        }
        o.connection_timeout = std::chrono::seconds(20);
        return o;
    }

    static faults_test::private_broker* node_;
};
faults_test::private_broker* SaslExternal::node_ = nullptr;

TEST_F(SaslExternal, LogsInAsTheCertificatesCommonName) {
    io_thread io;
    amqp::connection c(io.executor(), external(true));
    c.open();
    auto ch = c.open_channel();
    amqp::queue_options q;
    q.exclusive = true;
    EXPECT_FALSE(ch.declare_queue(q).name.empty());
    c.close();
}

TEST_F(SaslExternal, WithoutACertificateIsRefused) {
    io_thread io;
    amqp::connection c(io.executor(), external(false));
    try {
        c.open();
        FAIL() << "EXTERNAL succeeded without a client certificate";
    } catch (const amqp::error& e) {
        EXPECT_EQ(e.code(), amqp::client_error::authentication_failed) << e.what();
        EXPECT_NE(std::string(e.what()).find("EXTERNAL"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(c.is_open());
}

TEST_F(SaslExternal, PlainStillWorksOnTheSameNode) {
    io_thread io;
    auto o = external(true);
    o.auth_mechanism = "PLAIN";
    o.user = "guest";
    o.password = "guest";
    amqp::connection c(io.executor(), o);
    c.open();
    EXPECT_TRUE(c.is_open());
    c.close();
}

}  // namespace
