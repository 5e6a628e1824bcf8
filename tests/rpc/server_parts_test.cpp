// The server's plain parts, without a broker: the drain, the reconnection backoff, the strikes
// against direct reply-to addresses, the error text a
// handler's exception is answered with, and the error reply's format.
#include <fibonacci/reply_format.hpp>
#include <rpc/reply_strikes.hpp>
#include <rpc/server_backoff.hpp>
#include <rpc/server_drain.hpp>
#include <rpc/server_request.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <system_error>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace {

using namespace std::chrono_literals;
using clock_type = rpc::server_drain::clock;

TEST(ServerDrain, WithNothingInFlightItFinishesAtOnceAndComplete) {
    rpc::server_drain d;
    EXPECT_TRUE(d.begin(clock_type::time_point{}, 1s));
    EXPECT_TRUE(d.finished());
    EXPECT_TRUE(d.complete());
}

TEST(ServerDrain, TheLastSettledRequestEndsItOnce) {
    rpc::server_drain d;
    d.taken();
    d.taken();
    EXPECT_FALSE(d.settled(1));  // not draining yet
    d.taken();
    const clock_type::time_point t0{};
    EXPECT_FALSE(d.begin(t0, 1s));
    EXPECT_EQ(d.deadline(), t0 + 1s);
    EXPECT_FALSE(d.settled(1));
    EXPECT_TRUE(d.settled(1));  // the last one: the caller closes
    EXPECT_FALSE(d.settled(1));  // never below zero, never "ends" twice
    EXPECT_TRUE(d.complete());
    EXPECT_FALSE(d.expired(t0 + 2s));  // finished already: the timer is a no-op
}

// The consumers' cancel-ok is awaited too (within the deadline), so the channels close after the
// broker stopped delivering: cancel, cancel-ok, channel.close, connection.close.
TEST(ServerDrain, ItWaitsForTheConsumersCancelOk) {
    rpc::server_drain d;
    d.taken();
    d.cancelling(2);
    const clock_type::time_point t0{};
    EXPECT_FALSE(d.begin(t0, 1s));
    EXPECT_FALSE(d.settled(1));  // the request is done, one cancel-ok is still awaited... two
    EXPECT_FALSE(d.cancelled());
    EXPECT_TRUE(d.cancelled());  // the last one ends the drain, complete
    EXPECT_TRUE(d.complete());
    EXPECT_FALSE(d.cut_short());
    EXPECT_FALSE(d.cancelled());  // never ends twice

    rpc::server_drain silent;  // a broker that never answers the cancel: the deadline ends it
    silent.cancelling(1);
    EXPECT_FALSE(silent.begin(t0, 1s));
    EXPECT_TRUE(silent.expired(t0 + 1s));
    EXPECT_TRUE(silent.complete());  // no request was in flight: the stop still reports complete
    EXPECT_TRUE(silent.cut_short());  // but the server closes the connection without channel.close
}

TEST(ServerDrain, TheDeadlineEndsItIncomplete) {
    rpc::server_drain d;
    d.taken();
    const clock_type::time_point t0{};
    EXPECT_FALSE(d.begin(t0, 200ms));
    EXPECT_FALSE(d.expired(t0 + 199ms));  // a timer that fired early changes nothing
    EXPECT_TRUE(d.expired(t0 + 200ms));
    EXPECT_TRUE(d.finished());
    EXPECT_FALSE(d.complete());
    EXPECT_EQ(d.in_flight(), 1u);
    EXPECT_FALSE(d.settled(1));  // it settles late: the drain had ended already
}

TEST(ServerDrain, HaltEndsADrainAndMakesALaterOneEndAtOnce) {
    rpc::server_drain during;
    during.taken();
    during.begin(clock_type::time_point{}, 1h);
    EXPECT_TRUE(during.halt());
    EXPECT_FALSE(during.halt());
    EXPECT_FALSE(during.complete());

    rpc::server_drain before;
    before.taken();
    EXPECT_FALSE(before.halt());  // nothing to end yet
    EXPECT_TRUE(before.begin(clock_type::time_point{}, 1h));
}

TEST(ServerDrain, AZeroTimeoutDoesNotWait) {
    rpc::server_drain d;
    d.taken();
    EXPECT_TRUE(d.begin(clock_type::time_point{}, 0s));
    EXPECT_FALSE(d.complete());
}

TEST(ReplyStrikes, OnlyBrokerWrittenDirectReplyToAddressesAreDirect) {
    EXPECT_TRUE(rpc::reply_strikes::is_direct("amq.rabbitmq.reply-to.g1h2AA5yZXBseUAz.XF730FGo"));
    EXPECT_FALSE(rpc::reply_strikes::is_direct("amq.rabbitmq.reply-to"));  // what a client asks for, not an address
    EXPECT_FALSE(rpc::reply_strikes::is_direct("amq.gen-JzTY20BRgKO-HjmUJj0wLg"));
    EXPECT_FALSE(rpc::reply_strikes::is_direct(""));
}

TEST(ReplyStrikes, TheSecondStrikeCondemnsAndAProbeBackClears) {
    rpc::reply_strikes s;
    const std::string a = "amq.rabbitmq.reply-to.A", b = "amq.rabbitmq.reply-to.B";
    EXPECT_EQ(s.strike(a), 1u);
    EXPECT_FALSE(s.condemned(a));
    EXPECT_FALSE(s.any_condemned());
    EXPECT_EQ(s.strike(b), 1u);
    EXPECT_EQ(s.strike(a), 2u);
    EXPECT_TRUE(s.condemned(a));
    EXPECT_FALSE(s.condemned(b));
    EXPECT_TRUE(s.any_condemned());
    s.clear(a);
    EXPECT_FALSE(s.condemned(a));
    EXPECT_FALSE(s.any_condemned());
    EXPECT_EQ(s.strike(a), 1u);  // from the start again
    s.clear("amq.rabbitmq.reply-to.never-struck");
    EXPECT_EQ(s.size(), 2u);
}

TEST(ReplyStrikes, BoundedTheOldestAddressIsForgottenFirstWithItsCondemnation) {
    rpc::reply_strikes s;
    const auto addr = [](std::size_t i) { return "amq.rabbitmq.reply-to." + std::to_string(i); };
    s.strike(addr(0));
    s.strike(addr(0));
    ASSERT_TRUE(s.any_condemned());
    for (std::size_t i = 1; i <= rpc::reply_strikes::max_addresses; ++i) s.strike(addr(i));
    EXPECT_EQ(s.size(), rpc::reply_strikes::max_addresses);
    EXPECT_FALSE(s.condemned(addr(0)));
    EXPECT_FALSE(s.any_condemned());
    EXPECT_EQ(s.strike(addr(rpc::reply_strikes::max_addresses)), 2u);  // still remembered
    EXPECT_TRUE(s.any_condemned());
}

TEST(ServerBackoff, DoublesFromMinToMaxWithAQuarterOfJitterAndResets) {
    rpc::server_backoff b(500ms, 10s, 42);
    std::chrono::milliseconds base = 500ms;
    for (int i = 0; i < 10; ++i) {
        const auto d = b.next();
        EXPECT_GE(d, base) << i;
        EXPECT_LE(d, base + base / 4) << i;
        base = std::min<std::chrono::milliseconds>(base * 2, 10s);
    }
    b.reset();
    EXPECT_LE(b.next(), 625ms);
}

TEST(ServerBackoff, MaxBelowMinIsMinAndAZeroMinStillWaitsAtMostAJitter) {
    rpc::server_backoff b(2s, 1s, 1);
    EXPECT_GE(b.next(), 2s);
    EXPECT_LE(b.next(), 2500ms);
    rpc::server_backoff z(0ms, 0ms, 1);
    EXPECT_LE(z.next(), 1ms);
}

template <class F>
std::exception_ptr thrown(F f) {
    try {
        f();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

TEST(ServerErrorText, BoostJsonErrorsLoseTheirSourceLocation) {
    const auto e = thrown([] { (void)boost::json::parse("\"x\"").to_number<int>(); });
    const std::string raw = [&] {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            return std::string(x.what());
        }
    }();
    ASSERT_NE(raw.find(" [boost.json"), std::string::npos) << raw;  // what the client used to get
    const std::string text = rpc::error_text(e);
    EXPECT_EQ(text.find('['), std::string::npos) << text;
    EXPECT_EQ(text.find(".hpp"), std::string::npos) << text;
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(raw.rfind(text, 0), 0u) << raw;  // the message itself is kept
}

TEST(ServerErrorText, SystemErrorsGiveTheirMessageAndOtherTextsStayWhole) {
    const auto sys = std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::timed_out), "upstream"));
    EXPECT_EQ(rpc::error_text(sys), std::system_error(std::make_error_code(std::errc::timed_out), "upstream").what());
    // Brackets that are not a location stay.
    EXPECT_EQ(rpc::error_text(std::make_exception_ptr(std::runtime_error("bad item [3]"))), "bad item [3]");
    EXPECT_EQ(rpc::error_text(std::make_exception_ptr(std::runtime_error("x [a b]"))), "x [a b]");
    EXPECT_EQ(rpc::error_text(std::make_exception_ptr(42)),
              "internal error: the handler threw a non-standard exception");
}

TEST(ServerReply, ErrorIsTheJsonErrorReplyEveryClientReads) {
    const rpc::reply r = rpc::reply::error("no \"such\" item");
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.body, R"({"response": null, "error": "no \"such\" item"})");
    EXPECT_EQ(rpc::decode_reply(r.body).error, "no \"such\" item");
    const rpc::reply from_exception = rpc::error_reply(std::make_exception_ptr(std::runtime_error("boom")));
    EXPECT_EQ(rpc::decode_reply(from_exception.body).error, "boom");
    const rpc::reply plain{"text", std::string("text/plain")};
    EXPECT_TRUE(plain.headers.empty());
}

}  // namespace
