// The trace formatter: every method's arguments are named as the codec names them, credentials
// never appear, and no input (truncated, mutated, deeply nested) makes it crash or misreport.
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/method_fields.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/trace.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using amqp::trace::direction;

amqp::byte_buffer method_frame(const amqp::method& m, std::uint16_t channel = 1) {
    amqp::byte_buffer out;
    EXPECT_FALSE(amqp::append_method_frame(out, channel, m));
    return out;
}

std::string trace(const amqp::byte_buffer& frame, direction d = direction::sent) {
    return amqp::trace::frame_to_string(d, frame);
}

// Collects the spec argument names of a method, as the codec's field description lists them.
struct name_collector {
    std::vector<std::string> names;
    template <class T>
    void add(const char* n, T&) { names.emplace_back(n); }
    void u8(const char* n, std::uint8_t& v) { add(n, v); }
    void u16(const char* n, std::uint16_t& v) { add(n, v); }
    void u32(const char* n, std::uint32_t& v) { add(n, v); }
    void u64(const char* n, std::uint64_t& v) { add(n, v); }
    void bit(const char* n, bool& v) { add(n, v); }
    void shortstr(const char* n, std::string_view& v) { add(n, v); }
    void longstr(const char* n, std::string_view& v) { add(n, v); }
    void table(const char* n, amqp::table_view& v) { add(n, v); }
};

template <std::size_t I = 0>
void check_every_method() {
    if constexpr (I < std::variant_size_v<amqp::method>) {
        using M = std::variant_alternative_t<I, amqp::method>;
        M m{};
        name_collector names;
        for_each_field(m, names);
        const std::string text = trace(method_frame(amqp::method(m)));
        SCOPED_TRACE(std::string(M::name));
        EXPECT_NE(text.find("method " + std::string(M::name)), std::string::npos) << text;
        for (const auto& n : names.names) EXPECT_NE(text.find("    " + n), std::string::npos) << n << "\n" << text;
        EXPECT_EQ(text.find("!!"), std::string::npos) << text;
        EXPECT_EQ(text.find("not decoded"), std::string::npos) << text;
        EXPECT_NE(text.find("frame-end = 0xce"), std::string::npos);
        check_every_method<I + 1>();
    }
}

TEST(Trace, EveryMethodIsNamedWithEveryArgument) { check_every_method(); }

TEST(Trace, PlainResponseIsMaskedInDecodedViewAndHex) {
    amqp::field_table props{{"product", "test"}};
    amqp::byte_buffer table;
    ASSERT_FALSE(amqp::encode_table(props, table));
    const std::string secret = std::string("\0guest\0Pa55w0rdXYZ", 18);
    amqp::connection_start_ok m;
    m.client_properties = {table};
    m.mechanism = "PLAIN";
    m.response = secret;
    m.locale = "en_US";
    const std::string text = trace(method_frame(m, 0));
    EXPECT_EQ(text.find("Pa55w0rd"), std::string::npos) << text;
    EXPECT_EQ(text.find("guest"), std::string::npos) << text;
    // "Pa55" in hex, spaced as the dump prints it.
    EXPECT_EQ(text.find("50 61 35 35"), std::string::npos) << text;
    EXPECT_NE(text.find("<masked 18 bytes>"), std::string::npos) << text;
    EXPECT_NE(text.find("** ** **"), std::string::npos) << text;
    EXPECT_NE(text.find("\"test\""), std::string::npos) << text;  // other fields are not masked
}

TEST(Trace, SecureOkResponseIsMasked) {
    amqp::connection_secure_ok m;
    m.response = "topsecret";
    const std::string text = trace(method_frame(m, 0));
    EXPECT_EQ(text.find("topsecret"), std::string::npos) << text;
    EXPECT_EQ(text.find("74 6f 70"), std::string::npos) << text;
    EXPECT_NE(text.find("<masked 9 bytes>"), std::string::npos) << text;
}

TEST(Trace, TruncatedStartOkDoesNotLeakTheResponse) {
    amqp::connection_start_ok m;
    m.mechanism = "PLAIN";
    m.response = "Pa55w0rd-secret";
    m.locale = "en_US";
    amqp::byte_buffer f = method_frame(m, 0);
    // Claim a longer response than the payload holds: the codec rejects it, the bytes stay hidden.
    f[7 + 4 + 4 + 6 + 3] = 0x40;
    const std::string text = trace(f);
    EXPECT_NE(text.find("502 SYNTAX_ERROR"), std::string::npos) << text;
    EXPECT_EQ(text.find("50 61 35 35"), std::string::npos) << text;
}

TEST(Trace, ContentHeaderShowsEveryPropertyByName) {
    amqp::field_table headers{{"n", std::int32_t{30}}, {"inner", amqp::field_table{{"deep", amqp::field_array{true, "x"}}}}};
    amqp::byte_buffer table;
    ASSERT_FALSE(amqp::encode_table(headers, table));
    amqp::basic_properties p;
    p.content_type = "text/plain";
    p.content_encoding = "utf-8";
    p.headers = amqp::table_view{table};
    p.delivery_mode = 2;
    p.priority = 5;
    p.correlation_id = "cid-1";
    p.reply_to = "amq.rabbitmq.reply-to";
    p.expiration = "1000";
    p.message_id = "mid";
    p.timestamp = 1700000000;
    p.type = "t";
    p.user_id = "guest";
    p.app_id = "app";
    p.cluster_id = "c";
    amqp::byte_buffer out;
    amqp::basic_publish pub;
    pub.routing_key = "rpc_queue";
    const std::string body = "hello";
    ASSERT_FALSE(amqp::append_message(out, 1, pub, p, amqp::as_bytes(body), 4096));
    std::ostringstream os;
    const auto r = amqp::trace::format_stream(os, direction::sent, out);
    EXPECT_FALSE(r.ec) << r.diag.to_string();
    EXPECT_EQ(r.frames, 3u);
    const std::string text = os.str();
    for (const char* n : {"content-type", "content-encoding", "headers", "delivery-mode", "priority",
                          "correlation-id", "reply-to", "expiration", "message-id", "timestamp", "type",
                          "user-id", "app-id", "reserved"})
        EXPECT_NE(text.find(std::string("    ") + n + "  "), std::string::npos) << n;  // "reserved", not "reserved-1"
    EXPECT_NE(text.find("2 (persistent)"), std::string::npos);
    EXPECT_NE(text.find("2023-11-14 22:13:20 UTC"), std::string::npos);
    EXPECT_NE(text.find("headers.inner.deep[1] = \"x\""), std::string::npos) << text;
    EXPECT_NE(text.find("body  \"hello\"  (5 bytes)"), std::string::npos) << text;
    EXPECT_NE(text.find("content header (body-size 5)"), std::string::npos);
}

TEST(Trace, FrameViewOverloadMatchesBytes) {
    amqp::basic_ack m;
    m.delivery_tag = 7;
    const auto f = method_frame(m, 3);
    amqp::frame_view v{amqp::frame_type::method, 3, amqp::bytes_view(f).subspan(7, f.size() - 8)};
    std::ostringstream os;
    amqp::trace::format_frame(os, direction::received, v);
    EXPECT_EQ(os.str(), trace(f, direction::received));
    EXPECT_EQ(os.str().rfind("<< received channel 3  method basic.ack", 0), 0u) << os.str();
}

TEST(Trace, EveryTruncationIsReportedNotCrashed) {
    amqp::basic_deliver m;
    m.consumer_tag = "ctag";
    m.delivery_tag = 1;
    m.routing_key = "rk";
    const auto f = method_frame(m);
    for (std::size_t n = 0; n < f.size(); ++n) {
        const amqp::byte_buffer part(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
        const std::string text = trace(part);
        EXPECT_NE(text.find("501 FRAME_ERROR"), std::string::npos) << n << "\n" << text;
    }
    // The payload cut short but re-framed: the codec's payload error, with the field's name.
    for (std::size_t cut = 1; cut < f.size() - 8; ++cut) {
        amqp::byte_buffer g(f.begin(), f.end() - 1 - static_cast<std::ptrdiff_t>(cut));
        g.push_back(amqp::frame_end);
        const auto size = static_cast<std::uint32_t>(g.size() - 8);
        g[3] = static_cast<std::uint8_t>(size >> 24);
        g[4] = static_cast<std::uint8_t>(size >> 16);
        g[5] = static_cast<std::uint8_t>(size >> 8);
        g[6] = static_cast<std::uint8_t>(size);
        const std::string text = trace(g);
        EXPECT_NE(text.find("!! malformed: 50"), std::string::npos) << cut << "\n" << text;
    }
}

TEST(Trace, TrailingBytesAfterFrameEndAreAnError) {
    auto f = method_frame(amqp::basic_qos_ok{});
    f.push_back(0);
    EXPECT_NE(trace(f).find("byte(s) after the frame-end octet"), std::string::npos);
}

TEST(Trace, DeepNestingIsRejectedWithoutRecursingForever) {
    // A table nested 1000 levels deep, hand-built (the encoder refuses to build it).
    amqp::byte_buffer inner;
    for (int i = 0; i < 1000; ++i) {
        amqp::byte_buffer t = {1, 'a', 'F'};
        const auto n = static_cast<std::uint32_t>(inner.size());
        t.insert(t.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                           static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
        t.insert(t.end(), inner.begin(), inner.end());
        inner = std::move(t);
    }
    amqp::queue_declare q;
    q.arguments = amqp::table_view{inner};
    amqp::byte_buffer f(amqp::method_frame_size(q));
    // append_method_frame would refuse nothing here (the table is opaque bytes to it).
    f.clear();
    ASSERT_FALSE(amqp::append_method_frame(f, 1, q));
    const std::string text = trace(f);
    EXPECT_NE(text.find("502 SYNTAX_ERROR"), std::string::npos);
    EXPECT_NE(text.find("nested deeper"), std::string::npos);
}

TEST(Trace, RandomMutationsNeverCrash) {
    amqp::connection_start m;
    amqp::field_table props{{"capabilities", amqp::field_table{{"a", true}, {"b", amqp::field_array{1, 2.5, "s"}}}},
                            {"product", "RabbitMQ"}, {"d", amqp::decimal{2, 314}}, {"x", amqp::byte_array{"\x01\x02"}}};
    amqp::byte_buffer table;
    ASSERT_FALSE(amqp::encode_table(props, table));
    m.server_properties = {table};
    m.mechanisms = "PLAIN";
    m.locales = "en_US";
    const auto base = method_frame(m, 0);
    std::mt19937 rng(12345);  // fixed seed: failures reproduce
    for (int i = 0; i < 3000; ++i) {
        auto f = base;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) f[rng() % f.size()] = static_cast<std::uint8_t>(rng());
        const std::string text = trace(f);
        ASSERT_FALSE(text.empty());
        std::ostringstream os;
        (void)amqp::trace::format_stream(os, direction::unknown, f);
    }
}

TEST(Trace, ProtocolHeader) {
    std::ostringstream os;
    amqp::trace::format_protocol_header(os, direction::sent, amqp::protocol_header);
    EXPECT_NE(os.str().find(">> sent     protocol header AMQP 0-9-1"), std::string::npos) << os.str();
    EXPECT_NE(os.str().find("minor version = 9"), std::string::npos);
}

TEST(Trace, StreamStopsAtFramingErrorWithStreamOffset) {
    amqp::byte_buffer s(amqp::protocol_header.begin(), amqp::protocol_header.end());
    const auto a = method_frame(amqp::channel_open{}, 1);
    s.insert(s.end(), a.begin(), a.end());
    s.insert(s.end(), {1, 0, 1, 0, 0, 0, 0, 0x00});  // empty payload, frame-end wrong
    std::ostringstream os;
    const auto r = amqp::trace::format_stream(os, direction::sent, s);
    EXPECT_TRUE(r.protocol_header);
    EXPECT_EQ(r.frames, 1u);
    EXPECT_EQ(r.ec, amqp::reply_code::frame_error);
    EXPECT_EQ(r.diag.offset, 8 + a.size() + 7);
    EXPECT_EQ(r.diag.field, "frame.end");
}

TEST(Trace, EnvironmentSwitch) {
    ::setenv("AMQP_TRACE", "1", 1);
    EXPECT_TRUE(amqp::trace::enabled_by_environment());
    ::setenv("AMQP_TRACE", "0", 1);
    EXPECT_FALSE(amqp::trace::enabled_by_environment());
    ::setenv("AMQP_TRACE", "", 1);
    EXPECT_FALSE(amqp::trace::enabled_by_environment());
    ::unsetenv("AMQP_TRACE");
    EXPECT_FALSE(amqp::trace::enabled_by_environment());
}

// AMQP_TRACE=time: each heading starts "[HH:MM:SS.uuuuuu cN] ", N new for each connection; other
// values leave the headings as they were (the walkthrough and its tests read them).
TEST(Trace, TimeAndConnectionIdOnRequest) {
    const std::uint8_t hb[] = {8, 0, 0, 0, 0, 0, 0, 0xce};
    ::setenv("AMQP_TRACE", "time", 1);
    EXPECT_TRUE(amqp::trace::enabled_by_environment());
    const amqp::trace::format_options a = amqp::trace::options_from_environment();
    const amqp::trace::format_options b = amqp::trace::options_from_environment();
    EXPECT_TRUE(a.timestamp);
    EXPECT_NE(a.connection_id, 0u);
    EXPECT_EQ(b.connection_id, a.connection_id + 1);
    std::ostringstream os;
    amqp::trace::format_frame(os, direction::received, amqp::bytes_view(hb), b);
    const std::string text = os.str();
    const std::string id = " c" + std::to_string(b.connection_id) + "] << received channel 0  heartbeat";
    ASSERT_GE(text.size(), 17u) << text;
    EXPECT_EQ(text[0], '[');
    EXPECT_EQ(text[3], ':');
    EXPECT_EQ(text[6], ':');
    EXPECT_EQ(text[9], '.');
    EXPECT_EQ(text.substr(16, id.size()), id) << text;
    std::ostringstream ph;
    amqp::trace::format_protocol_header(ph, direction::sent, amqp::bytes_view(amqp::protocol_header), b);
    const std::string sent = " c" + std::to_string(b.connection_id) + "] >> sent     protocol header AMQP 0-9-1";
    EXPECT_EQ(ph.str().substr(16, sent.size()), sent) << ph.str();

    ::setenv("AMQP_TRACE", "1", 1);
    const amqp::trace::format_options plain = amqp::trace::options_from_environment();
    EXPECT_FALSE(plain.timestamp);
    EXPECT_EQ(plain.connection_id, 0u);
    std::ostringstream os2;
    amqp::trace::format_frame(os2, direction::received, amqp::bytes_view(hb), plain);
    EXPECT_EQ(os2.str().substr(0, 12), "<< received ");
    ::unsetenv("AMQP_TRACE");
}

}  // namespace
