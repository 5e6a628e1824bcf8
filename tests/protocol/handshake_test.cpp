// The opening handshake, replayed from a real RabbitMQ 3.10.8 capture and from frames built
// with the codec: exact bytes out, negotiated values, and every way the broker can refuse us.
#include <test_support/broker_script.hpp>

#include <amqp/protocol/handshake.hpp>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

namespace {

using namespace amqp_test;
using amqp::protocol::connection_state;
using amqp::protocol::event_kind;

byte_buffer read_capture(const char* name) {
    std::ifstream in(std::string(AMQP_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    return byte_buffer(std::istreambuf_iterator<char>(in), {});
}

byte_buffer hex(std::string_view s) {
    byte_buffer b;
    auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        if (s[i] == ' ') {
            --i;
            continue;
        }
        b.push_back(static_cast<std::uint8_t>(nib(s[i]) * 16 + nib(s[i + 1])));
    }
    return b;
}

// connection.tune-ok (2047, 131072, 60) and connection.open("/"), written out by hand.
const byte_buffer tune_ok_bytes = hex("01 0000 0000000c 000a 001f 07ff 00020000 003c ce");
const byte_buffer open_bytes = hex("01 0000 00000008 000a 0028 01 2f 00 00 ce");

TEST(Handshake, SendsTheProtocolHeaderFirst) {
    machine_driver d;
    d.m.start(d.now);
    EXPECT_EQ(d.take_output(), byte_buffer({'A', 'M', 'Q', 'P', 0, 0, 9, 1}));
    EXPECT_EQ(d.m.state(), connection_state::awaiting_start);
}

TEST(Handshake, ReplaysARealRabbitMqCapture) {
    // Server bytes of a real session (connection.start, tune, open-ok), captured from the
    // test broker with a raw socket.
    const auto capture = read_capture("rabbitmq-3.10.8-handshake.bin");
    ASSERT_EQ(capture.size(), 545u);
    const std::size_t start_len = 512, tune_len = 20;

    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    d.feed(amqp::bytes_view(capture).first(start_len));
    auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    ASSERT_EQ(frames[0].name, "connection.start-ok");
    const auto& ok = std::get<amqp::connection_start_ok>(frames[0].m);
    EXPECT_EQ(ok.mechanism, "PLAIN");
    EXPECT_EQ(ok.response, std::string_view("\0guest\0guest", 12));
    EXPECT_EQ(ok.locale, "en_US");
    amqp::field_table props;
    amqp::diagnostics diag;
    ASSERT_FALSE(amqp::decode_table(ok.client_properties, props, diag)) << diag.to_string();
    ASSERT_NE(amqp::find_field(props, "product"), nullptr);
    const auto* caps = amqp::find_field(props, "capabilities");
    ASSERT_NE(caps, nullptr);
    for (const char* c : {"consumer_cancel_notify", "connection.blocked", "authentication_failure_close",
                          "basic.nack", "publisher_confirms"}) {
        const auto* v = amqp::find_field(caps->get<amqp::field_table>(), c);
        ASSERT_NE(v, nullptr) << c;
        EXPECT_TRUE(v->get<bool>()) << c;
    }
    // The broker's server-properties are kept as received.
    amqp::field_table server;
    ASSERT_FALSE(amqp::decode_table(d.m.server_properties(), server, diag));
    EXPECT_EQ(amqp::find_field(server, "product")->get<std::string>(), "RabbitMQ");
    EXPECT_EQ(amqp::find_field(server, "version")->get<std::string>(), "3.10.8");

    d.feed(amqp::bytes_view(capture).subspan(start_len, tune_len));
    EXPECT_EQ(d.take_output(), tune_ok_bytes + open_bytes);
    EXPECT_EQ(d.m.state(), connection_state::awaiting_open);
    EXPECT_TRUE(d.events.empty());

    d.feed(amqp::bytes_view(capture).subspan(start_len + tune_len));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::opened);
    EXPECT_TRUE(d.m.is_open());
    EXPECT_EQ(d.m.frame_max(), 131072u);
    EXPECT_EQ(d.m.channel_max(), 2047);
    EXPECT_EQ(d.m.heartbeat(), 60);
}

TEST(Handshake, CaptureSplitAtEveryByteGivesTheSameResult) {
    const auto capture = read_capture("rabbitmq-3.10.8-handshake.bin");
    machine_driver whole;
    whole.m.start(whole.now);
    whole.feed(capture);
    const auto expected_out = whole.take_output();
    ASSERT_EQ(whole.events.size(), 1u);
    for (std::size_t split = 1; split < capture.size(); ++split) {
        machine_driver d;
        d.m.start(d.now);
        d.feed(amqp::bytes_view(capture).first(split));
        d.feed(amqp::bytes_view(capture).subspan(split));
        ASSERT_EQ(d.take_output(), expected_out) << "split at " << split;
        ASSERT_EQ(d.events.size(), 1u) << "split at " << split;
        ASSERT_EQ(d.events[0].kind, event_kind::opened);
    }
    machine_driver bytewise;
    bytewise.m.start(bytewise.now);
    bytewise.feed_chunked(capture, 1);
    EXPECT_EQ(bytewise.take_output(), expected_out);
    EXPECT_TRUE(bytewise.m.is_open());
}

TEST(Handshake, SendsTheConfiguredVhostAndConnectionName) {
    auto opts = machine_driver::default_options();
    opts.vhost = "my/vhost";
    opts.connection_name = "rpc-client-7";
    opts.heartbeat = 0;
    machine_driver d(opts);
    d.m.start(d.now);
    d.take_output();
    d.feed(connection_start_frame());
    auto frames = d.take_frames();
    amqp::field_table props;
    amqp::diagnostics diag;
    ASSERT_FALSE(amqp::decode_table(std::get<amqp::connection_start_ok>(frames.at(0).m).client_properties, props, diag));
    EXPECT_EQ(amqp::find_field(props, "connection_name")->get<std::string>(), "rpc-client-7");
    d.feed(tune_frame(0, 0, 0));
    frames = d.take_frames();
    ASSERT_EQ(frames.size(), 2u);
    const auto& tune_ok = std::get<amqp::connection_tune_ok>(frames[0].m);
    EXPECT_EQ(tune_ok.channel_max, 2047);
    EXPECT_EQ(tune_ok.frame_max, 131072u);
    EXPECT_EQ(tune_ok.heartbeat, 0);
    EXPECT_EQ(std::get<amqp::connection_open>(frames[1].m).virtual_host, "my/vhost");
}

TEST(Handshake, ExternalMechanismSendsAnEmptyResponse) {
    auto opts = machine_driver::default_options();
    opts.auth_mechanism = "EXTERNAL";
    machine_driver d(opts);
    d.m.start(d.now);
    d.take_output();
    d.feed(connection_start_frame("AMQPLAIN PLAIN EXTERNAL"));
    const auto frames = d.take_frames();
    const auto& ok = std::get<amqp::connection_start_ok>(frames.at(0).m);
    EXPECT_EQ(ok.mechanism, "EXTERNAL");
    EXPECT_TRUE(ok.response.empty());
}

TEST(Handshake, OtherProtocolHeaderIsAVersionMismatch) {
    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    d.feed(byte_buffer{'A', 'M', 'Q', 'P', 1, 1, 0, 10});
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].kind, event_kind::closed);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::protocol_version_mismatch);
    EXPECT_NE(d.events[0].reason.reply_text.find("AMQP 1.1.0.10"), std::string::npos) << d.events[0].reason.reply_text;
    EXPECT_TRUE(d.m.should_close_transport());
    EXPECT_TRUE(d.take_output().empty());
}

TEST(Handshake, HeaderSplitInTwoIsStillRecognised) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(byte_buffer{'A', 'M', 'Q'});
    EXPECT_TRUE(d.events.empty());
    d.feed(byte_buffer{'P', 0, 0, 9, 0});
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::protocol_version_mismatch);
}

TEST(Handshake, StartWithAnotherVersionIsAMismatch) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame("PLAIN", 0, 8));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::protocol_version_mismatch);
}

TEST(Handshake, NoSupportedMechanism) {
    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    d.feed(connection_start_frame("AMQPLAIN RABBIT-CR-DEMO"));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::no_supported_mechanism);
    EXPECT_NE(d.events[0].reason.reply_text.find("AMQPLAIN RABBIT-CR-DEMO"), std::string::npos);
    EXPECT_TRUE(d.take_output().empty()) << "nothing is sent; the socket just closes";
    EXPECT_TRUE(d.m.should_close_transport());
}

TEST(Handshake, AccessRefusedAfterStartOkIsAnAuthenticationFailure) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame());
    d.take_output();
    d.feed(method_frame(0, amqp::connection_close{403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN", 0, 0}));
    ASSERT_EQ(d.events.size(), 1u);
    const auto& r = d.events[0].reason;
    EXPECT_EQ(r.code, amqp::client_error::authentication_failed);
    EXPECT_EQ(r.reply_code, 403);
    EXPECT_TRUE(r.from_broker);
    EXPECT_NE(r.to_string().find("403 ACCESS_REFUSED"), std::string::npos) << r.to_string();
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].name, "connection.close-ok");
    EXPECT_TRUE(d.m.should_close_transport());
}

TEST(Handshake, SocketClosedAfterStartOkIsAnAuthenticationFailure) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame());
    d.transport_closed();
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::authentication_failed);
}

TEST(Handshake, SocketClosedBeforeStartIsConnectionLost) {
    machine_driver d;
    d.m.start(d.now);
    d.transport_closed();
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::client_error::connection_lost);
}

TEST(Handshake, VhostRefusedDuringOpenCarriesTheBrokersCode) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame() + tune_frame());
    d.take_output();
    d.feed(method_frame(0, amqp::connection_close{530, "NOT_ALLOWED - vhost nope not found", 10, 40}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::not_allowed);
    EXPECT_EQ(d.events[0].reason.class_id, 10);
    EXPECT_EQ(d.events[0].reason.method_id, 40);
    EXPECT_NE(d.events[0].reason.to_string().find("(connection.open)"), std::string::npos);
}

TEST(Handshake, SaslChallengeIsRefused) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame());
    d.take_output();
    d.feed(method_frame(0, amqp::connection_secure{"challenge"}));
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::not_implemented);
    const auto frames = d.take_frames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(std::get<amqp::connection_close>(frames[0].m).reply_code, 540);
}

TEST(Handshake, UnexpectedMethodBeforeStart) {
    machine_driver d;
    d.m.start(d.now);
    d.take_output();
    d.feed(tune_frame());
    ASSERT_EQ(d.events.size(), 1u);
    EXPECT_EQ(d.events[0].reason.code, amqp::reply_code::command_invalid);
    EXPECT_TRUE(d.take_output().empty()) << "no connection.close before start-ok";
}

// ---- tune negotiation ---------------------------------------------------------------------------

TEST(Negotiation, ZeroMeansTheOtherSideWinsElseTheMinimum) {
    using amqp::protocol::negotiate_value;
    EXPECT_EQ(negotiate_value(0, 0), 0u);
    EXPECT_EQ(negotiate_value(0, 60), 60u);
    EXPECT_EQ(negotiate_value(30, 0), 30u);
    EXPECT_EQ(negotiate_value(30, 60), 30u);
    EXPECT_EQ(negotiate_value(60, 30), 30u);
}

TEST(Negotiation, FrameMaxNeverBelow4096AndCappedWhenUnlimited) {
    amqp::protocol_options o;
    o.frame_max = 0;
    o.channel_max = 0;
    o.heartbeat = 0;
    auto v = amqp::protocol::negotiate_tune({0, 0, 0}, o);
    EXPECT_EQ(v.frame_max, 131072u);
    EXPECT_EQ(v.channel_max, 65535);
    EXPECT_EQ(v.heartbeat, 0);
    v = amqp::protocol::negotiate_tune({10, 512, 5}, o);
    EXPECT_EQ(v.frame_max, 4096u);
    EXPECT_EQ(v.channel_max, 10);
    EXPECT_EQ(v.heartbeat, 5);
    o.frame_max = 8192;
    o.heartbeat = 1;
    v = amqp::protocol::negotiate_tune({2047, 131072, 60}, o);
    EXPECT_EQ(v.frame_max, 8192u);
    EXPECT_EQ(v.heartbeat, 1);
}

TEST(Negotiation, BrokerFrameMaxBelowMinimumStillGives4096) {
    machine_driver d;
    d.m.start(d.now);
    d.feed(connection_start_frame());
    d.take_output();
    d.feed(tune_frame(0, 100, 0));
    const auto frames = d.take_frames();
    EXPECT_EQ(std::get<amqp::connection_tune_ok>(frames.at(0).m).frame_max, 4096u);
    EXPECT_EQ(d.m.frame_max(), 4096u);
}

TEST(Negotiation, MechanismListParsing) {
    using amqp::protocol::offers_mechanism;
    EXPECT_TRUE(offers_mechanism("AMQPLAIN PLAIN", "PLAIN"));
    EXPECT_TRUE(offers_mechanism("PLAIN", "PLAIN"));
    EXPECT_FALSE(offers_mechanism("AMQPLAIN", "PLAIN"));
    EXPECT_FALSE(offers_mechanism("XPLAIN PLAINX", "PLAIN"));
    EXPECT_FALSE(offers_mechanism("", "PLAIN"));
}

}  // namespace
