// Many threads on one connection: publishing on a shared channel and on their own, acking from
// threads other than the strand, and synchronous requests in parallel. Run under ThreadSanitizer
// (label tsan) as well as normally.
#include "test_broker.hpp"

#include <amqp/connection.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

TEST(Concurrency, ManyThreadsPublishAndAckOnOneConnection) {
    auto maybe = amqp_test::broker_options();
    if (!maybe) GTEST_SKIP() << "no broker";
    amqp_test::io_thread io;
    amqp::connection c(io.executor(), *maybe);
    c.open();

    auto consumer_channel = c.open_channel();
    amqp::queue_options qo;
    qo.exclusive = true;
    const auto q = consumer_channel.declare_queue(qo);
    consumer_channel.qos(50);

    constexpr int publishers = 4;
    constexpr int per_publisher = 300;
    constexpr int total = 2 * publishers * per_publisher;  // shared channel + own channel

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::uint64_t> to_ack;
    std::set<std::string> received;
    int duplicates = 0;

    amqp::consume_options co;
    co.queue = q.name;
    consumer_channel.consume(co, [&](const amqp::delivered_message& m) {
        std::lock_guard lk(mu);
        if (!received.emplace(amqp::as_string_view(m.body)).second) ++duplicates;
        to_ack.push_back(m.method.delivery_tag);
        cv.notify_all();
    });

    // Acks come from other threads than the strand that delivered.
    std::atomic<bool> stop{false};
    std::atomic<int> ack_errors{0};
    std::vector<std::thread> ackers;
    for (int i = 0; i < 2; ++i) {
        ackers.emplace_back([&] {
            for (;;) {
                std::unique_lock lk(mu);
                cv.wait_for(lk, 100ms, [&] { return !to_ack.empty() || stop; });
                if (to_ack.empty()) {
                    if (stop) return;
                    continue;
                }
                const auto tag = to_ack.front();
                to_ack.pop_front();
                lk.unlock();
                if (consumer_channel.ack(tag)) ++ack_errors;
            }
        });
    }

    auto shared_channel = c.open_channel();
    std::atomic<int> publish_errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < publishers; ++t) {
        threads.emplace_back([&, t] {
            auto own = c.open_channel();  // a synchronous request racing with the others
            amqp::publish_options po;
            po.routing_key = q.name;
            for (int i = 0; i < per_publisher; ++i) {
                // Bodies of different sizes, some spanning several frames.
                std::string body = "shared " + std::to_string(t) + " " + std::to_string(i) + " ";
                body.resize(body.size() + (i % 7) * 40000, static_cast<char>('a' + t));
                if (shared_channel.publish(po, {}, amqp::as_bytes(body))) ++publish_errors;
                const std::string mine = "own " + std::to_string(t) + " " + std::to_string(i);
                if (own.publish(po, {}, amqp::as_bytes(mine))) ++publish_errors;
            }
            own.close();
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(publish_errors.load(), 0);

    {
        std::unique_lock lk(mu);
        const bool all = cv.wait_for(lk, 120s, [&] { return received.size() + duplicates >= total; });
        EXPECT_TRUE(all) << "received " << received.size() << " of " << total;
    }
    // Every ack is sent before the passive declare below, which answers only after them.
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard lk(mu);
            if (to_ack.empty()) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    stop = true;
    cv.notify_all();
    for (auto& th : ackers) th.join();
    EXPECT_EQ(ack_errors.load(), 0);
    EXPECT_EQ(duplicates, 0);
    {
        std::lock_guard lk(mu);
        for (int t = 0; t < publishers; ++t) {
            for (int i = 0; i < per_publisher; i += 37) {
                EXPECT_TRUE(received.count("own " + std::to_string(t) + " " + std::to_string(i))) << t << " " << i;
            }
        }
        for (const auto& b : received) {
            if (b.rfind("shared ", 0) != 0) continue;
            // A body is one message's bytes only: its filler is its own thread's letter.
            const auto t = b[7] - '0';
            const auto filler = b.find_last_of(' ') + 1;
            EXPECT_EQ(b.find_first_not_of(static_cast<char>('a' + t), filler), std::string::npos);
        }
    }
    qo.passive = true;
    qo.name = q.name;
    EXPECT_EQ(consumer_channel.declare_queue(qo).message_count, 0u);
    c.close();
}

}  // namespace
