// ack_window: which finished deliveries one basic.ack may cover, never one still running, and
// no finished delivery held back behind one still running.
#include <rpc/ack_window.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace {

/// The broker's side of the channel: the deliveries it counts as unacked, and the acks it takes.
/// Checks each ack as RabbitMQ would (an unknown tag closes the channel) and that it settles only
/// finished deliveries.
struct broker_model {
    std::set<std::uint64_t> unacked, finished;
    std::size_t frames = 0;

    void apply(const rpc::ack_window::ack& a) {
        ++frames;
        ASSERT_TRUE(unacked.count(a.tag)) << "unknown delivery tag " << a.tag;
        const auto end = a.multiple() ? unacked.upper_bound(a.tag) : std::next(unacked.find(a.tag));
        const auto begin = a.multiple() ? unacked.begin() : unacked.find(a.tag);
        ASSERT_EQ(static_cast<std::size_t>(std::distance(begin, end)), a.count) << "tag " << a.tag;
        for (auto it = begin; it != end; ++it) ASSERT_TRUE(finished.count(*it)) << "acked while running: " << *it;
        unacked.erase(begin, end);
    }
    /// What one take_ack loop should send now: one frame for the finished run below the oldest
    /// running delivery, one for each finished delivery above it.
    std::size_t expected_frames() const {
        std::size_t front = 0, behind = 0;
        bool running_seen = false;
        for (std::uint64_t t : unacked) {
            if (!finished.count(t)) running_seen = true;
            else if (running_seen) ++behind;
            else front = 1;
        }
        return front + behind;
    }
};

/// Sends what the window has to ack now, checked against the model: exactly the expected frames,
/// and afterwards no finished delivery left unacked.
void drain(rpc::ack_window& w, broker_model& b) {
    const std::size_t expected = b.expected_frames(), before = b.frames;
    for (auto a = w.take_ack(); a.count > 0; a = w.take_ack()) {
        b.apply(a);
        if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_EQ(b.frames - before, expected);
    for (std::uint64_t t : b.unacked) ASSERT_FALSE(b.finished.count(t)) << "finished and held back: " << t;
    EXPECT_EQ(w.outstanding(), b.unacked.size());
}

/// `a` acks `tag` and settles `count` deliveries, with multiple=true exactly when count > 1.
void expect_ack(const rpc::ack_window::ack& a, std::uint64_t tag, std::size_t count) {
    EXPECT_EQ(a.tag, tag);
    EXPECT_EQ(a.count, count);
    EXPECT_EQ(a.multiple(), count > 1);
}

TEST(AckWindow, AFinishedRunAtTheFrontIsOneMultipleAck) {
    // Inline handlers finish the deliveries of one read in order: one frame for the read.
    rpc::ack_window w;
    for (std::uint64_t t = 1; t <= 5; ++t) ASSERT_TRUE(w.taken(t));
    for (std::uint64_t t = 1; t <= 5; ++t) ASSERT_TRUE(w.finished(t));
    expect_ack(w.take_ack(), 5, 5);
    EXPECT_EQ(w.take_ack().count, 0u);
    EXPECT_EQ(w.outstanding(), 0u);
}

TEST(AckWindow, OneFinishedDeliveryIsASingleAck) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(7));
    ASSERT_TRUE(w.taken(8));
    EXPECT_TRUE(w.finished(7));
    expect_ack(w.take_ack(), 7, 1);
    EXPECT_EQ(w.outstanding(), 1u);
}

TEST(AckWindow, FinishedBehindARunningOneIsAckedAloneAtOnce) {
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(1));
    ASSERT_TRUE(w.taken(2));
    ASSERT_TRUE(w.taken(3));
    EXPECT_TRUE(w.finished(3));
    expect_ack(w.take_ack(), 3, 1);  // multiple=true would cover 1, still running: 3 alone
    EXPECT_EQ(w.take_ack().count, 0u);
    EXPECT_EQ(w.outstanding(), 2u);
    EXPECT_TRUE(w.finished(2));
    expect_ack(w.take_ack(), 2, 1);
    EXPECT_TRUE(w.finished(1));
    expect_ack(w.take_ack(), 1, 1);  // the others are acked already: 1 alone
    EXPECT_EQ(w.take_ack().count, 0u);
    EXPECT_EQ(w.outstanding(), 0u);
}

TEST(AckWindow, TheFrontRunThenEachFinishedBehindTheFirstRunning) {
    rpc::ack_window w;
    for (std::uint64_t t = 1; t <= 6; ++t) ASSERT_TRUE(w.taken(t));
    for (std::uint64_t t : {1, 2, 4, 5}) EXPECT_TRUE(w.finished(t));
    expect_ack(w.take_ack(), 2, 2);
    std::set<std::uint64_t> singles;
    for (auto a = w.take_ack(); a.count > 0; a = w.take_ack()) {
        EXPECT_EQ(a.count, 1u);
        singles.insert(a.tag);
    }
    EXPECT_EQ(singles, (std::set<std::uint64_t>{4, 5}));
    EXPECT_EQ(w.outstanding(), 2u);  // 3 and 6
    EXPECT_TRUE(w.finished(6));
    EXPECT_TRUE(w.finished(3));
    expect_ack(w.take_ack(), 6, 2);  // 4 and 5 are acked: multiple=true up to 6 settles 3 and 6
    EXPECT_EQ(w.outstanding(), 0u);
}

TEST(AckWindow, ASlowRequestKeepsTheWindowAtWhatIsUnacked) {
    // However many requests pass a slow one, only it stays in the window (bounded memory).
    rpc::ack_window w;
    ASSERT_TRUE(w.taken(1));
    for (std::uint64_t t = 2; t <= 10000; ++t) {
        ASSERT_TRUE(w.taken(t));
        ASSERT_TRUE(w.finished(t));
        const auto a = w.take_ack();
        ASSERT_EQ(a.tag, t);
        ASSERT_EQ(a.count, 1u);
        ASSERT_EQ(w.outstanding(), 1u);
    }
    EXPECT_TRUE(w.finished(1));
    EXPECT_EQ(w.take_ack().tag, 1u);
    EXPECT_EQ(w.outstanding(), 0u);
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
    ASSERT_TRUE(w.taken(6));
    ASSERT_TRUE(w.taken(7));
    EXPECT_TRUE(w.finished(7));
    EXPECT_EQ(w.take_ack().tag, 7u);
    EXPECT_FALSE(w.finished(7));  // acked alone behind 6: gone too
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
    EXPECT_EQ(w.take_ack().count, 0u);
}

// Every order of finishing up to 6 deliveries, with the acks sent after every finish (a worker
// pool) or after any grouping of finishes (inline reads, or finishes racing the ack lock): each
// ack names an unacked tag, settles only finished deliveries, every delivery exactly once, in the
// fewest frames (one for the front run, one per finished delivery behind a running one), and no
// finished delivery is left unacked.
TEST(AckWindow, EveryFinishingOrderIsAckedAtOnceInTheFewestFrames) {
    for (std::uint64_t n = 1; n <= 6; ++n) {
        std::vector<std::uint64_t> order(n);
        std::iota(order.begin(), order.end(), 1);
        do {
            for (unsigned groups = 0; groups < (1u << (n - 1)); ++groups) {
                rpc::ack_window w;
                broker_model b;
                for (std::uint64_t t = 1; t <= n; ++t) {
                    ASSERT_TRUE(w.taken(t));
                    b.unacked.insert(t);
                }
                for (std::size_t i = 0; i < n; ++i) {
                    ASSERT_TRUE(w.finished(order[i]));
                    b.finished.insert(order[i]);
                    // Bit i set: the next finish comes before the acks are sent; the last always sends.
                    if (i + 1 == n || !(groups & (1u << i))) drain(w, b);
                    ASSERT_FALSE(::testing::Test::HasFailure()) << "n " << n << " groups " << groups;
                }
                ASSERT_TRUE(b.unacked.empty());
            }
        } while (std::next_permutation(order.begin(), order.end()));
    }
}

// Random finishing orders over a window that grows and wraps around its ring, deliveries taken
// as acks free the prefetch, with one delivery in `release_one_in` released (nacked: its reply
// was not confirmed) instead of finished (0: none): the same checks, every ack names only finished
// deliveries still unacked at the broker, and the window never above the prefetch.
void random_orders(unsigned seed, std::size_t max_window, std::uint64_t max_total, unsigned release_one_in) {
    std::mt19937 rng(seed);
    for (int round = 0; round < 200; ++round) {
        rpc::ack_window w;
        broker_model b;
        const std::size_t window = 1 + rng() % max_window;  // the prefetch
        const std::uint64_t total = 1 + rng() % max_total;
        std::uint64_t next = 1;
        std::vector<std::uint64_t> running;
        while (next <= total || !b.unacked.empty()) {
            while (next <= total && b.unacked.size() < window) {
                ASSERT_TRUE(w.taken(next));
                b.unacked.insert(next);
                running.push_back(next++);
            }
            ASSERT_LE(w.outstanding(), window);
            const std::size_t i = rng() % running.size();
            if (release_one_in != 0 && rng() % release_one_in == 0) {
                ASSERT_TRUE(w.released(running[i]));
                b.unacked.erase(running[i]);  // the nack settles it at the broker
            } else {
                ASSERT_TRUE(w.finished(running[i]));
                b.finished.insert(running[i]);
            }
            running.erase(running.begin() + static_cast<long>(i));
            if (rng() % 3 != 0 || running.empty()) drain(w, b);
            ASSERT_FALSE(::testing::Test::HasFailure()) << "round " << round;
        }
        EXPECT_EQ(w.outstanding(), 0u);
    }
}

TEST(AckWindow, RandomOrdersAckEveryDeliveryOnceAndOnlyWhenFinished) { random_orders(12345, 100, 500, 0); }

// confirm_replies: a request whose reply was not confirmed leaves the window unacked (the server
// nacks it): it no longer stops the front run, no ack names it, and it cannot be released twice.
TEST(AckWindow, AReleasedDeliveryIsNeverAckedAndNoLongerHoldsTheFront) {
    rpc::ack_window w;
    for (std::uint64_t t = 1; t <= 4; ++t) ASSERT_TRUE(w.taken(t));
    ASSERT_TRUE(w.finished(2));
    EXPECT_EQ(w.take_ack().tag, 2u);  // alone: 1 still runs
    EXPECT_EQ(w.take_ack().count, 0u);
    ASSERT_TRUE(w.finished(3));
    EXPECT_TRUE(w.released(1));
    EXPECT_FALSE(w.released(1));
    EXPECT_FALSE(w.released(3));  // finished: acked, not released
    EXPECT_FALSE(w.finished(1));
    const rpc::ack_window::ack a = w.take_ack();
    EXPECT_EQ(a.tag, 3u);
    EXPECT_EQ(a.count, 1u);
    EXPECT_EQ(w.outstanding(), 1u);
    EXPECT_TRUE(w.released(4));
    EXPECT_EQ(w.outstanding(), 0u);
    EXPECT_EQ(w.take_ack().count, 0u);
}

TEST(AckWindow, RandomOrdersWithReleasedDeliveriesAckOnlyFinishedOnes) { random_orders(678, 50, 300, 4); }

}  // namespace
