// Close, cancel, a fault and the peer's close racing each other, over the test stream. Each
// test checks that every operation completes once, with the expected result, and that the
// io_context runs dry (nothing left pending) and the stream is released.
#include "run_until.hpp"
#include "scripted_broker.hpp"
#include "test_stream.hpp"

#include <test_support/poison_tables.hpp>

#include <amqp/protocol/client_error.hpp>
#include <amqp/connection.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/error.hpp>

namespace {

using amqp::error_code;
using amqp_test::queue;
using amqp_test::test_peer;
using amqp_test::to_queue;
namespace asio = boost::asio;

// A completion that records its result and how often it ran.
struct outcome {
    int calls = 0;
    error_code ec;
    auto handler() {
        return [this](error_code e, auto&&...) {
            ++calls;
            ec = e;
        };
    }
    bool done() const { return calls > 0; }
};

struct fixture : ::testing::Test {
    asio::io_context ioc;
    std::shared_ptr<test_peer> peer = std::make_shared<test_peer>(ioc.get_executor());
    std::optional<amqp::connection> conn;
    int on_close_calls = 0;
    amqp::close_reason closed_with;

    void make_connection() {
        conn.emplace(ioc.get_executor(), amqp::connection_options{}, peer->make_stream());
        conn->on_close([this](const amqp::close_reason& r) {
            ++on_close_calls;
            closed_with = r;
        });
    }
    void open() {
        outcome o;
        conn->async_open(o.handler());
        ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return o.done(); }));
        ASSERT_FALSE(o.ec) << o.ec.message();
    }
    // A connection to the scripted broker, opened.
    void open_with_broker(amqp_test::scripted_broker_options o = {}) {
        amqp_test::act_as_broker(*peer, o);
        make_connection();
        open();
    }
    amqp::channel open_channel() {
        outcome o;
        amqp::channel ch;
        conn->async_open_channel([&](error_code ec, amqp::channel c) {
            o.handler()(ec);
            ch = std::move(c);
        });
        EXPECT_TRUE(amqp_test::run_until(ioc, [&] { return o.done(); }));
        EXPECT_FALSE(o.ec) << o.ec.message();
        return ch;
    }
    // The connection object goes away; everything it started must finish and free the stream.
    void expect_clean_end() {
        conn.reset();
        EXPECT_TRUE(amqp_test::runs_dry(ioc)) << "operations still pending";
        EXPECT_TRUE(peer->stream_destroyed()) << "the connection leaked";
    }
};

TEST_F(fixture, close_while_connecting_to_a_silent_peer) {
    make_connection();
    outcome opened, closed;
    conn->async_open(opened.handler());
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return opened.done() && closed.done(); }));
    EXPECT_EQ(opened.ec, amqp::client_error::operation_aborted);
    EXPECT_FALSE(closed.ec);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(opened.calls, 1);
    EXPECT_EQ(closed.calls, 1);
    EXPECT_EQ(on_close_calls, 0);  // the user's own close is not reported as a loss
    expect_clean_end();
}

TEST_F(fixture, cancelling_the_open_gives_up_the_attempt) {
    make_connection();
    outcome opened;
    asio::cancellation_signal sig;
    conn->async_open(asio::bind_cancellation_slot(sig.slot(), opened.handler()));
    // The handshake has begun (protocol header written) when the cancellation comes.
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return peer->writes() > 0; }));
    sig.emit(asio::cancellation_type::terminal);
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return opened.done(); }));
    EXPECT_EQ(opened.ec, amqp::client_error::operation_aborted);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(opened.calls, 1);
    EXPECT_TRUE(peer->stream_closed());
    expect_clean_end();
}

TEST_F(fixture, close_while_awaiting_connection_start) {
    make_connection();  // connected, but the peer never says connection.start
    outcome opened, closed;
    conn->async_open(opened.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return peer->writes() > 0; }));
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return opened.done() && closed.done(); }));
    EXPECT_EQ(opened.ec, amqp::client_error::operation_aborted);
    EXPECT_FALSE(closed.ec);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(opened.calls, 1);
    EXPECT_EQ(closed.calls, 1);
    expect_clean_end();
}

TEST_F(fixture, close_and_peer_hang_up_together) {
    open_with_broker();
    peer->hang_up();
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_FALSE(closed.ec);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(closed.calls, 1);
    EXPECT_LE(on_close_calls, 1);  // the loss, if it was seen before our close
    EXPECT_FALSE(conn->is_open());
    expect_clean_end();
}

TEST_F(fixture, peer_hangs_up_instead_of_close_ok) {
    amqp_test::scripted_broker_options o;
    o.hang_up_on_connection_close = true;
    open_with_broker(o);
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_FALSE(closed.ec);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(on_close_calls, 0);
    expect_clean_end();
}

TEST_F(fixture, close_deadline_bounds_a_peer_that_never_answers) {
    amqp_test::scripted_broker_options o;
    o.answer_connection_close = false;
    open_with_broker(o);
    outcome closed;
    // A deadline already past: the stream is dropped without waiting for close-ok.
    conn->async_close(std::chrono::steady_clock::now(), closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_EQ(closed.calls, 1);
    EXPECT_TRUE(peer->stream_closed());
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    expect_clean_end();
}

TEST_F(fixture, write_fault_while_closing) {
    open_with_broker();
    peer->fail_write_at(peer->writes() + 1, asio::error::broken_pipe);  // our connection.close
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_TRUE(peer->fault_hit());
    EXPECT_FALSE(closed.ec);  // closed either way
    EXPECT_EQ(on_close_calls, 0);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    expect_clean_end();
}

TEST_F(fixture, broker_close_crosses_ours) {
    open_with_broker();
    amqp::connection_close forced;
    forced.reply_code = 320;
    forced.reply_text = "CONNECTION_FORCED - broker shutting down";
    peer->send(amqp_test::method_frame(0, forced));
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_FALSE(closed.ec);
    EXPECT_EQ(closed.calls, 1);
    EXPECT_LE(on_close_calls, 1);
    EXPECT_FALSE(conn->is_open());
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    expect_clean_end();
}

TEST_F(fixture, peer_hang_up_fails_the_waiting_request_once) {
    open_with_broker();
    amqp::channel ch = open_channel();
    peer->on_write = nullptr;  // the broker stops answering...
    outcome declared;
    ch.async_declare_queue(queue("q"), declared.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return peer->writes() >= 5; }));
    peer->hang_up();  // ...and hangs up
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return declared.done(); }));
    EXPECT_EQ(declared.ec, amqp::client_error::connection_lost);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_EQ(declared.calls, 1);
    EXPECT_EQ(on_close_calls, 1);
    EXPECT_EQ(closed_with.code, amqp::client_error::connection_lost);
    EXPECT_FALSE(ch.is_open());
    EXPECT_EQ(ch.publish(to_queue("q"), {}, {}), amqp::client_error::not_open);
    // close() after the loss completes at once: the stream is already closed.
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    EXPECT_FALSE(closed.ec);
    expect_clean_end();
}

TEST_F(fixture, destroying_the_connection_mid_open) {
    make_connection();
    outcome opened;
    conn->async_open(opened.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return peer->writes() > 0; }));
    conn.reset();
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return opened.done(); }));
    EXPECT_EQ(opened.ec, amqp::client_error::operation_aborted);
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_TRUE(peer->stream_destroyed());
}

TEST_F(fixture, connect_failure_is_reported_with_its_text) {
    peer->connect_error = asio::error::connection_refused;
    make_connection();
    outcome opened;
    conn->async_open(opened.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return opened.done(); }));
    EXPECT_EQ(opened.ec, asio::error::connection_refused);
    EXPECT_EQ(conn->last_close_reason().reply_text, "cannot connect to the test peer");
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    expect_clean_end();
}

}  // namespace

namespace {

// Regression: a publish from another thread travels to the strand as a copy. It must go out as
// the caller gave it, even with a headers table our own decoder would refuse (RabbitMQ accepts
// it; the first version round-tripped the properties through the decoder and lost them).
TEST_F(fixture, publish_off_the_strand_keeps_properties_the_decoder_would_refuse) {
    open_with_broker();
    amqp::channel ch = open_channel();
    const amqp::byte_buffer headers = amqp_test::nested_table_body(40);
    amqp::basic_properties p;
    p.correlation_id = "c-1";
    p.headers = amqp::table_view{headers};
    const std::size_t before = peer->written().size();
    ASSERT_FALSE(ch.publish(to_queue("q"), p, amqp::as_bytes(std::string_view("55"))));  // not on the strand
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return peer->written().size() > before; }));
    // The header frame written carries exactly what encode_content_header makes of `p`.
    amqp::content_header h;
    h.body_size = 2;
    h.properties = p;
    amqp::byte_buffer expected(amqp::content_header_payload_size(h));
    ASSERT_FALSE(amqp::encode_content_header(h, expected.data()));
    const auto& out = peer->written();
    EXPECT_NE(std::search(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(), expected.begin(), expected.end()),
              out.end());
    outcome closed;
    conn->async_close(closed.handler());
    ASSERT_TRUE(amqp_test::run_until(ioc, [&] { return closed.done(); }));
    expect_clean_end();
}

}  // namespace
