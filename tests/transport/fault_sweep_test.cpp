// The failure-at-every-step sweep: a full session over the test stream, with a network error
// injected at the Nth read, then at the Nth write, for every N the session has, with the stream's
// writes asynchronous, in place, half in place, or refused in place (would_block). Each run must
// end in one clear error reported once to every waiting operation, with nothing left pending.
#include "session.hpp"
#include "run_until.hpp"

#include <amqp/protocol/client_error.hpp>

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

namespace {

using amqp_test::session;
using amqp_test::test_peer;
namespace asio = boost::asio;

enum class fault_at { read, write };
using in_place = test_peer::in_place;
constexpr in_place all_write_modes[] = {in_place::unsupported, in_place::whole, in_place::half, in_place::would_block};

// One session with a fault at the `n`th read or write; returns false once `n` is past the
// session's last operation (the fault never fired).
bool run_with_fault(fault_at where, std::size_t n, in_place writes = in_place::unsupported) {
    SCOPED_TRACE((where == fault_at::read ? "read #" : "write #") + std::to_string(n) + ", in-place mode " +
                 std::to_string(static_cast<int>(writes)));
    asio::io_context ioc;
    auto peer = std::make_shared<test_peer>(ioc.get_executor());
    peer->in_place_writes = writes;
    amqp_test::act_as_broker(*peer);
    if (where == fault_at::read) {
        peer->fail_read_at(n, asio::error::connection_reset);
    } else {
        peer->fail_write_at(n, asio::error::broken_pipe);
    }
    bool hit = false;
    {
        session s(ioc, peer);
        s.start();
        EXPECT_TRUE(amqp_test::runs_dry(ioc)) << "operations still pending";
        hit = peer->fault_hit();
        for (const auto& step : s.started) EXPECT_EQ(s.completions[step], 1) << step;
        EXPECT_LE(s.on_close_calls, 1);
        EXPECT_TRUE(peer->stream_closed());
        EXPECT_FALSE(s.conn().is_open());
        if (!hit) {
            EXPECT_TRUE(s.failed_step.empty()) << s.failed_step << ": " << s.failure.message();
            EXPECT_TRUE(s.finished);
            EXPECT_TRUE(s.delivered);
        } else if (!s.failed_step.empty()) {
            // The step that was waiting got the connection's error, and nothing ran after it.
            EXPECT_EQ(s.started.back(), s.failed_step);
            EXPECT_TRUE(s.failure == amqp::client_error::connection_lost ||
                        s.failure == amqp::client_error::authentication_failed)
                << s.failed_step << ": " << s.failure.message();
            const auto reason = s.conn().last_close_reason();
            EXPECT_EQ(reason.code, s.failure);
            EXPECT_FALSE(reason.reply_text.empty());
            EXPECT_FALSE(s.finished);
        } else {
            // The fault hit what nobody waits for (the ack, our close): the close still ends it.
            EXPECT_TRUE(s.finished);
        }
    }
    // The connection object is gone: its stream must be released, nothing left behind.
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_TRUE(peer->stream_destroyed()) << "the connection leaked";
    return hit;
}

// The operations a clean session performs: the sweep's range.
struct op_counts {
    std::size_t reads = 0;
    std::size_t writes = 0;
    std::size_t async_writes = 0;
    amqp::byte_buffer bytes;  // what the client wrote
};

op_counts clean_session(in_place writes = in_place::unsupported) {
    asio::io_context ioc;
    auto peer = std::make_shared<test_peer>(ioc.get_executor());
    peer->in_place_writes = writes;
    amqp_test::act_as_broker(*peer);
    session s(ioc, peer);
    s.start();
    EXPECT_TRUE(amqp_test::runs_dry(ioc));
    EXPECT_TRUE(s.finished);
    EXPECT_TRUE(s.delivered);
    EXPECT_TRUE(s.failed_step.empty()) << s.failed_step << ": " << s.failure.message();
    return {peer->reads(), peer->writes(), peer->async_writes(), peer->written()};
}

TEST(transport_fault_sweep, clean_session_completes) {
    EXPECT_FALSE(run_with_fault(fault_at::read, 0));
    const auto ops = clean_session();
    // The session is more than a handshake: each step reads or writes.
    EXPECT_GE(ops.reads, 5u);
    EXPECT_GE(ops.writes, 5u);
    RecordProperty("reads", static_cast<int>(ops.reads));
    RecordProperty("writes", static_cast<int>(ops.writes));
}

// The first n-1 operations go as in the clean session, so the fault fires for every n up to the
// clean session's count, and never past it.
TEST(transport_fault_sweep, every_read) {
    const auto ops = clean_session();
    for (std::size_t n = 1; n <= ops.reads; ++n) EXPECT_TRUE(run_with_fault(fault_at::read, n)) << n;
    EXPECT_FALSE(run_with_fault(fault_at::read, ops.reads + 1));
}

TEST(transport_fault_sweep, every_write) {
    for (const auto mode : all_write_modes) {
        const auto ops = clean_session(mode);
        for (std::size_t n = 1; n <= ops.writes; ++n) EXPECT_TRUE(run_with_fault(fault_at::write, n, mode)) << n;
        EXPECT_FALSE(run_with_fault(fault_at::write, ops.writes + 1, mode));
    }
}

// The bytes of a session are the same whichever way they are written. In place, no write is
// asynchronous; half in place, each is finished by one asynchronous write; refused, each is redone
// asynchronously.
TEST(transport_fault_sweep, in_place_writes_carry_the_session) {
    const auto async = clean_session(in_place::unsupported);
    EXPECT_EQ(async.async_writes, async.writes);
    const auto whole = clean_session(in_place::whole);
    EXPECT_EQ(whole.bytes, async.bytes);
    EXPECT_GT(whole.writes, 0u);
    EXPECT_EQ(whole.async_writes, 0u);
    for (const auto mode : {in_place::half, in_place::would_block}) {
        const auto w = clean_session(mode);
        EXPECT_EQ(w.bytes, async.bytes);
        EXPECT_EQ(w.async_writes * 2, w.writes);
    }
}

}  // namespace
