// The request deadline header (issue 16): what a server reads from a request's headers, and
// whether the deadline has passed, against a clock given by the test.
#include <rpc/request_deadline.hpp>

#include <amqp/codec/field_table.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

// A headers table as a server receives it: its wire bytes.
struct wire_table {
    explicit wire_table(const amqp::field_table& t) { EXPECT_FALSE(amqp::encode_table(t, bytes)); }
    amqp::table_view view() const { return amqp::table_view{amqp::bytes_view(bytes.data(), bytes.size())}; }
    amqp::byte_buffer bytes;
};

const sys::time_point now = sys::time_point(1'800'000'000'000ms);

wire_table with_deadline(amqp::field_value v) {
    return wire_table({{"x-tenant", std::string("acme")}, {std::string(rpc::deadline_header), std::move(v)}});
}

TEST(RequestDeadline, EpochMillisIsTheUnixTimeInMilliseconds) {
    EXPECT_EQ(rpc::epoch_millis(sys::time_point{}), 0);
    EXPECT_EQ(rpc::epoch_millis(now), 1'800'000'000'000);
}

TEST(RequestDeadline, PassedOnlyWhenTheDeadlineIsBeforeNow) {
    const std::int64_t ms = rpc::epoch_millis(now);
    EXPECT_TRUE(rpc::deadline_passed(with_deadline(ms - 1).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(ms).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(ms + 5000).view(), now));
    EXPECT_EQ(rpc::request_deadline(with_deadline(ms + 5000).view()), ms + 5000);
}

TEST(RequestDeadline, NoHeaderNoDeadline) {
    EXPECT_FALSE(rpc::request_deadline(amqp::table_view{}));
    EXPECT_FALSE(rpc::deadline_passed(amqp::table_view{}, now));
    const wire_table other({{"x-tenant", std::string("acme")}});
    EXPECT_FALSE(rpc::deadline_passed(other.view(), now));
}

// A malformed deadline is no deadline: the request is served, as one from a client that sends none.
TEST(RequestDeadline, AWrongTypeOrANegativeValueIsIgnored) {
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(std::int64_t{-1}).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(std::int32_t{1}).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(std::string("1")).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(1.0).view(), now));
    EXPECT_FALSE(rpc::deadline_passed(with_deadline(amqp::field_table{{"at", std::int64_t{1}}}).view(), now));
}

// A table cut short (a hand-made view; the decoder rejects such a header before the server sees it).
TEST(RequestDeadline, ATruncatedTableIsNoDeadline) {
    const wire_table t = with_deadline(std::int64_t{1});
    const amqp::table_view cut{amqp::bytes_view(t.bytes.data(), t.bytes.size() - 3)};
    EXPECT_FALSE(rpc::deadline_passed(cut, now));
}

// The client puts its deadline first: a caller's own header of that name comes later and is not read.
TEST(RequestDeadline, TheFirstEntryOfThatNameCounts) {
    const std::int64_t ms = rpc::epoch_millis(now);
    const wire_table t(
        {{std::string(rpc::deadline_header), ms + 1000}, {std::string(rpc::deadline_header), ms - 1000}});
    EXPECT_FALSE(rpc::deadline_passed(t.view(), now));
}

}  // namespace
