// Credentials that cannot fit the broker's pre-tune frame are refused locally, at once, with a
// text that says so (a broker drops an oversized start-ok with a bare socket close, which read as
// "wrong user name or password" after seconds).
#include <amqp/protocol/client_error.hpp>
#include <amqp/connection.hpp>
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/protocol/handshake.hpp>

#include <future>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace {

using amqp::protocol::check_start_ok_size;

TEST(StartOkSize, OrdinaryCredentialsFit) {
    amqp::connection_options o;
    EXPECT_FALSE(check_start_ok_size(o));
    o.password = std::string(3000, 'p');
    EXPECT_FALSE(check_start_ok_size(o));
}

TEST(StartOkSize, A100kBPasswordOrUserNameIsRefusedWithTheSizesNotTheSecret) {
    amqp::connection_options o;
    o.password = std::string(100'000, 'p');
    std::string why;
    EXPECT_EQ(check_start_ok_size(o, &why), amqp::client_error::credentials_too_long);
    EXPECT_NE(why.find("password 100000"), std::string::npos) << why;
    EXPECT_NE(why.find("4088"), std::string::npos) << why;
    EXPECT_EQ(why.find("ppp"), std::string::npos) << why;
    EXPECT_LT(why.size(), 300u);
    amqp::connection_options u;
    u.user = std::string(100'000, 'u');
    EXPECT_EQ(check_start_ok_size(u), amqp::client_error::credentials_too_long);
}

TEST(StartOkSize, TheLimitIsTheFrameNotAByteBefore) {
    // Grow the password until it no longer fits: the last that fits makes a start-ok frame of
    // exactly 4096 bytes (payload 4088), which a broker accepts.
    amqp::connection_options o;
    o.password.clear();
    while (!check_start_ok_size(o)) o.password.push_back('p');
    o.password.pop_back();
    const std::string response = amqp::protocol::sasl_response(o);
    amqp::byte_buffer props;
    ASSERT_FALSE(amqp::encode_table(amqp::protocol::client_properties(o), props));
    const auto ok = amqp::protocol::start_ok_for(o, props, response);
    EXPECT_EQ(amqp::method_payload_size(ok) + amqp::frame_overhead, amqp::frame_min_size);
}

TEST(StartOkSize, OpenFailsAtOnceBeforeConnecting) {
    // A port nobody listens on: the connection must not even try it.
    boost::asio::io_context probe;
    boost::asio::ip::tcp::acceptor acc(probe, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = acc.local_endpoint().port();
    acc.close();
    amqp::connection_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.password = std::string(100'000, 'p');
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread t([&] { io.run(); });
    {
        amqp::connection c(io.get_executor(), o);
        try {
            c.open();
            ADD_FAILURE() << "open succeeded";
        } catch (const amqp::error& e) {
            EXPECT_EQ(e.code(), amqp::client_error::credentials_too_long) << e.what();
            EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find("ppp"), std::string::npos);
        }
    }
    work.reset();
    io.stop();
    t.join();
}

}  // namespace
