// Request bodies written to break a server: each one gets an error reply (never a number, never
// silence), and the server keeps serving: a normal call afterwards still gets fib(10) = 55.
#include <test_support/rpc_fixture.hpp>

#include <fibonacci/reply_format.hpp>

#include <string>
#include <vector>

namespace {

using namespace rpc_test;

struct bad_body {
    const char* name;
    std::string body;
};

std::vector<bad_body> bad_bodies() {
    return {
        {"empty", ""},
        {"non-numeric", "fib please"},
        {"negative", "-5"},
        {"huge n (max uint64)", "18446744073709551615"},
        {"huge n (past uint64)", "123456789012345678901234567890"},
        {"10 MB body", std::string(10 * 1024 * 1024, '7')},
        {"non-UTF-8", std::string("\xff\xfe\x80\xc3\x28 10", 8)},
        {"JSON body", R"({"n": 10})"},
        {"NUL inside", std::string("1\0" "0", 3)},
    };
}

TEST(bad_requests, each_gets_an_error_reply_and_the_server_keeps_serving) {
    RPC_REQUIRE_BROKER();
    rpc::cli::io_thread io;
    const std::string queue = unique_queue("bad-requests");
    rpc::fibonacci_service_options fib;
    fib.max_n = 100000;
    fib_server server(io.executor(), queue, fib);
    raw_peer peer(io.executor());
    const std::string reply_to = peer.declare_exclusive();
    inbox replies;
    peer.consume(reply_to, replies);

    for (const auto& b : bad_bodies()) {
        SCOPED_TRACE(b.name);
        const std::string id = std::string("bad-") + b.name;
        peer.publish(queue, b.body, reply_to, id);
        const auto reply = replies.pop(60s);
        ASSERT_TRUE(reply) << "no reply to the " << b.name << " request";
        EXPECT_EQ(reply->correlation_id, id);
        const rpc::decoded_reply r = rpc::decode_reply(reply->body);
        EXPECT_EQ(r.what, rpc::decoded_reply::kind::error)
            << "reply body: " << reply->body.substr(0, 200);
        EXPECT_FALSE(r.error.empty());
    }

    // Still serving, on the same connection: a plain request and a real client call.
    peer.publish(queue, "10", reply_to, "good");
    const auto good = replies.pop(30s);
    ASSERT_TRUE(good);
    EXPECT_EQ(good->correlation_id, "good");
    EXPECT_EQ(rpc::decode_reply(good->body).value, "55");
    auto client = make_client(io.executor(), queue);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(20, 30s), 6765);
    client->close();

    const rpc::server_stats s = server.server.stats();
    EXPECT_EQ(s.requests, bad_bodies().size() + 2);
    EXPECT_EQ(s.replies, bad_bodies().size() + 2);
    EXPECT_EQ(replies.size(), 0u) << "an extra reply arrived";
}

}  // namespace
