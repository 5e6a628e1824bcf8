// ack_window: which finished deliveries one basic.ack may cover, never one still running.
#include <rpc/ack_window.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace {

TEST(AckWindow, NothingToAckUntilTheOldestIsFinished) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(1));
    ASSERT_TRUE(w.taken(2));
    ASSERT_TRUE(w.taken(3));
    EXPECT_TRUE(w.finished(3));
    EXPECT_TRUE(w.finished(2));
    EXPECT_EQ(w.take_ack().count, 0u);  // 1 is still running: acking 2 or 3 alone is allowed,
                                       // but multiple=true would cover 1: hold them
    EXPECT_EQ(w.outstanding(), 3u);
    EXPECT_TRUE(w.finished(1));
    const auto a = w.take_ack();
    EXPECT_EQ(a.tag, 3u);
    EXPECT_EQ(a.count, 3u);
    EXPECT_TRUE(a.multiple());
    EXPECT_EQ(w.outstanding(), 0u);
    EXPECT_EQ(w.take_ack().count, 0u);
}

TEST(AckWindow, OneFinishedDeliveryIsASingleAck) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(7));
    ASSERT_TRUE(w.taken(8));
    EXPECT_TRUE(w.finished(7));
    const auto a = w.take_ack();
    EXPECT_EQ(a.tag, 7u);
    EXPECT_EQ(a.count, 1u);
    EXPECT_FALSE(a.multiple());
    EXPECT_EQ(w.outstanding(), 1u);
}

TEST(AckWindow, TheRunStopsAtTheFirstUnfinished) {
    rpc::ack_window w;
    for (std::uint64_t t = 1; t <= 5; ++t) ASSERT_TRUE(w.taken(t));
    EXPECT_TRUE(w.finished(1));
    EXPECT_TRUE(w.finished(2));
    EXPECT_TRUE(w.finished(4));
    const auto a = w.take_ack();
    EXPECT_EQ(a.tag, 2u);
    EXPECT_EQ(a.count, 2u);
    EXPECT_TRUE(w.finished(3));
    const auto b = w.take_ack();
    EXPECT_EQ(b.tag, 4u);
    EXPECT_EQ(b.count, 2u);
    EXPECT_EQ(w.outstanding(), 1u);
}

TEST(AckWindow, RefusesTagsOutOfOrderUnknownOrFinishedTwice) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(5));
    EXPECT_FALSE(w.taken(5));
    EXPECT_FALSE(w.taken(4));
    EXPECT_FALSE(w.finished(6));
    EXPECT_FALSE(w.finished(4));
    EXPECT_TRUE(w.finished(5));
    EXPECT_FALSE(w.finished(5));
    EXPECT_EQ(w.take_ack().tag, 5u);
    EXPECT_FALSE(w.finished(5));  // acked: no longer outstanding
    EXPECT_EQ(w.take_ack().count, 0u);
}

TEST(AckWindow, GapsBetweenTagsAreFine) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(10));
    ASSERT_TRUE(w.taken(20));
    ASSERT_TRUE(w.taken(30));
    EXPECT_FALSE(w.finished(15));
    EXPECT_TRUE(w.finished(20));
    EXPECT_TRUE(w.finished(10));
    EXPECT_EQ(w.take_ack().tag, 20u);
}

// Random finishing orders over a window that grows and wraps around its ring: every tag is acked
// exactly once, only after it finished, in increasing order, and each ack covers only finished
// deliveries.
TEST(AckWindow, RandomOrdersAckEveryDeliveryOnceAndOnlyWhenFinished) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 200; ++round) {
        rpc::ack_window w;
        const std::size_t window = 1 + rng() % 100;  // the prefetch
        const std::uint64_t total = 1 + rng() % 500;
        std::uint64_t next = 1, acked_up_to = 0;
        std::vector<std::uint64_t> running;
        std::set<std::uint64_t> finished;
        while (acked_up_to < total) {
            while (next <= total && running.size() < window) {
                ASSERT_TRUE(w.taken(next));
                running.push_back(next++);
            }
            if (!running.empty()) {
                const std::size_t i = rng() % running.size();
                ASSERT_TRUE(w.finished(running[i]));
                finished.insert(running[i]);
                running.erase(running.begin() + static_cast<long>(i));
            }
            const auto a = w.take_ack();
            if (a.count == 0) continue;
            ASSERT_GT(a.tag, acked_up_to);
            ASSERT_EQ(a.tag - acked_up_to, a.count);  // tags here are consecutive
            for (std::uint64_t t = acked_up_to + 1; t <= a.tag; ++t) ASSERT_TRUE(finished.count(t)) << t;
            acked_up_to = a.tag;
            ASSERT_EQ(w.outstanding(), next - 1 - acked_up_to);
        }
        EXPECT_EQ(w.outstanding(), 0u);
    }
}

}  // namespace
