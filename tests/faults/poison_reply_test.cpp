// A reply the broker delivered but our limits refuse (issue 15, defect 1): a raw publisher sends
// a reply whose headers table nests 40 levels (RabbitMQ accepts it) to the client's reply queue.
// That call alone fails with the fault's text; the client's connection and consumer go on, and
// the next call on the same client succeeds.
#include <test_support/poison_tables.hpp>

#include <test_support/rpc_fixture.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/use_future.hpp>

namespace {

using namespace rpc_test;

TEST(poison_reply, forty_level_headers_fail_their_call_and_the_next_call_succeeds) {
    RPC_REQUIRE_BROKER();
    rpc::cli::io_thread io;
    const std::string queue = unique_queue("poison-reply");
    hand_server server(io.executor(), queue);
    auto client = make_client(io.executor(), queue);

    rpc::diagnostics diag;
    auto poisoned = rpc::fibonacci_client(*client).async_call(10, 30s, diag, boost::asio::use_future);
    const auto req = server.requests.pop();
    ASSERT_TRUE(req && req->correlation_id && req->reply_to);
    const amqp::byte_buffer headers = amqp_test::nested_table_body(40);
    amqp::basic_properties p;
    p.correlation_id = *req->correlation_id;
    p.headers = amqp::table_view{headers};
    amqp::publish_options where;
    where.routing_key = *req->reply_to;
    ASSERT_FALSE(server.peer.channel().publish(where, p, amqp::as_bytes(std::string_view("55"))));
    try {
        (void)poisoned.get();
        ADD_FAILURE() << "the poisoned reply completed its call";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), make_error_code(rpc::errc::bad_reply));
    }
    EXPECT_NE(diag.message.find("tables nested deeper than 32 levels"), std::string::npos) << diag.message;

    auto next = rpc::fibonacci_client(*client).async_call(11, 30s, boost::asio::use_future);
    const auto req2 = server.requests.pop();
    ASSERT_TRUE(req2);
    server.reply(*req2, "89");
    EXPECT_EQ(next.get(), 89);
    const rpc::client_stats s = client->stats();
    EXPECT_EQ(s.replies, 2u);
    EXPECT_EQ(s.reconnects, 0u);
    client->close();
}

}  // namespace
