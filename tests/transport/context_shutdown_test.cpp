// A handler that owns its connection (`conn->async_open([conn](…) {})`, the shared_ptr idiom of
// Asio programs) must not keep it alive for ever once its io_context is destroyed: Asio destroys
// its own pending operations then, and the connection's stored handlers go with them.
#include <amqp/connection.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace {

namespace asio = boost::asio;

TEST(ContextShutdown, DestroyingTheContextFreesAConnectionOwnedByItsPendingHandler) {
    // A peer that accepts and says nothing: the open waits for connection.start.
    asio::io_context peer_io;
    asio::ip::tcp::acceptor acceptor(peer_io, {asio::ip::address_v4::loopback(), 0});
    const auto port = acceptor.local_endpoint().port();

    std::weak_ptr<amqp::connection> watched;
    bool called = false;
    {
        std::optional<asio::io_context> io(std::in_place);
        amqp::connection_options o;
        o.host = "127.0.0.1";
        o.port = port;
        auto conn = std::make_shared<amqp::connection>(io->get_executor(), o);
        watched = conn;
        conn->async_open([conn, &called](amqp::error_code) { called = true; });
        conn.reset();
        // Connected (the kernel's backlog accepts) and waiting for the peer's first bytes.
        for (int i = 0; i < 50 && !called; ++i) io->run_for(std::chrono::milliseconds(2));
        ASSERT_FALSE(called);
        ASSERT_FALSE(watched.expired());  // the handler owns it
        io.reset();
    }
    EXPECT_TRUE(watched.expired()) << "the connection outlived its io_context, held by its own handler";
    EXPECT_FALSE(called) << "a dropped handler is destroyed, not called";
}

}  // namespace
