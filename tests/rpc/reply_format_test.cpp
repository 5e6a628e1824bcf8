#include <fibonacci/reply_format.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace {

using kind = rpc::decoded_reply::kind;

TEST(ReplyFormat, PlainValueIsDecimalText) {
    const auto r = rpc::make_value_reply(rpc::fibonacci(30), rpc::reply_format::plain);
    EXPECT_EQ(r.body, "832040");
    EXPECT_TRUE(r.content_type.empty());
}

TEST(ReplyFormat, JsonValueKeepsEveryDigit) {
    const auto f = rpc::fibonacci(1000);
    const auto r = rpc::make_value_reply(f, rpc::reply_format::json);
    EXPECT_EQ(r.body, "{\"response\": " + f.str() + ", \"error\": null}");
    EXPECT_EQ(r.content_type, "application/json");
    const auto d = rpc::decode_reply(r.body);
    ASSERT_EQ(d.what, kind::value) << d.error;
    EXPECT_EQ(d.value, f.str());
}

TEST(ReplyFormat, MachineWordValueIsWrittenAsTheExactOne) {
    for (const std::uint64_t v : {std::uint64_t{0}, std::uint64_t{6765}, std::numeric_limits<std::uint64_t>::max()}) {
        for (const auto format : {rpc::reply_format::plain, rpc::reply_format::json}) {
            const auto word = rpc::make_value_reply(v, format);
            const auto exact = rpc::make_value_reply(rpc::big_int(v), format);
            EXPECT_EQ(word.body, exact.body) << v;
            EXPECT_EQ(word.content_type, exact.content_type) << v;
        }
    }
    EXPECT_EQ(rpc::make_value_reply(std::uint64_t{6765}, rpc::reply_format::plain).body, "6765");
}

TEST(ReplyFormat, HugeJsonNumberRoundTripsExactly) {
    const auto f = rpc::fibonacci(100000);
    const auto d = rpc::decode_reply(rpc::make_value_reply(f, rpc::reply_format::json).body);
    ASSERT_EQ(d.what, kind::value) << d.error;
    EXPECT_EQ(d.value, f.str());
}

TEST(ReplyFormat, ErrorReplyEscapesTheReason) {
    const auto r = rpc::make_error_reply("bad \"n\"\n\\");
    EXPECT_EQ(r.body, R"({"response": null, "error": "bad \"n\"\n\\"})");
    EXPECT_EQ(r.content_type, "application/json");
    const auto d = rpc::decode_reply(r.body);
    ASSERT_EQ(d.what, kind::error);
    EXPECT_EQ(d.error, "bad \"n\"\n\\");
}

TEST(ReplyFormat, DecodesWhatPythonServersSend) {
    EXPECT_EQ(rpc::decode_reply("55").value, "55");
    EXPECT_EQ(rpc::decode_reply(" 55\n").value, "55");
    EXPECT_EQ(rpc::decode_reply(R"({"response": 55, "error": null})").value, "55");
    EXPECT_EQ(rpc::decode_reply(R"({"error":null,"response":55})").value, "55");
    EXPECT_EQ(rpc::decode_reply(R"({"response": 1, "extra": {"response": 2, "error": "x"}})").value, "1");
    const auto e = rpc::decode_reply(R"({"response": null, "error": "invalid literal for int() with base 10: b'x'"})");
    EXPECT_EQ(e.what, kind::error);
    EXPECT_EQ(e.error, "invalid literal for int() with base 10: b'x'");
}

TEST(ReplyFormat, MalformedRepliesAreReported) {
    for (std::string_view body : {"", "abc", "1.5", "{", "{\"response\": 1.5, \"error\": null}",
                                  "{\"response\": null, \"error\": null}", "{\"error\": null}", "[1]",
                                  "{\"response\": \"55\"}", "{\"response\": 1} x"}) {
        const auto d = rpc::decode_reply(body);
        EXPECT_EQ(d.what, kind::malformed) << "'" << body << "'";
        EXPECT_FALSE(d.error.empty());
    }
}

}  // namespace
