// Many threads calling one client at once (the tutorial's threaded pika client is not safe; ours
// must be). Also run under the tsan preset (label tsan).
#include <test_support/rpc_fixture.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <boost/asio/use_future.hpp>

#include <future>
#include <thread>
#include <vector>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

class RpcConcurrency : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_F(RpcConcurrency, ManyThreadsCallAtOnceAndEachGetsItsOwnAnswer) {
    const auto q = unique_queue("threads");
    rpc::server_options opts = fib_server::options(q, 20);
    opts.workers = 2;
    rpc::rpc_server server(io.executor(), broker_options(), opts, rpc::make_fibonacci_handler({}));
    server.start();
    auto client = make_client(io.executor(), q);

    constexpr int threads = 8, calls_per_thread = 30;
    std::atomic<int> wrong{0}, failed{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
        callers.emplace_back([&, t] {
            for (int i = 0; i < calls_per_thread; ++i) {
                const auto n = static_cast<std::uint64_t>((t * calls_per_thread + i) % 300);
                try {
                    rpc::big_int v;
                    switch (i % 3) {
                        case 0: v = rpc::fibonacci_client(*client).call(n, 60s); break;
                        case 1: v = rpc::fibonacci_client(*client).async_call(n, 60s, boost::asio::use_future).get(); break;
                        default: {
                            std::promise<rpc::big_int> p;
                            rpc::fibonacci_client(*client).async_call(n, 60s, [&p](rpc::error_code ec, rpc::big_int r) {
                                if (ec)
                                    p.set_exception(std::make_exception_ptr(boost::system::system_error(ec)));
                                else
                                    p.set_value(std::move(r));
                            });
                            v = p.get_future().get();
                        }
                    }
                    if (v != rpc::fibonacci(n)) ++wrong;
                } catch (const std::exception&) {
                    ++failed;
                }
            }
        });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(failed, 0);
    const auto s = client->stats();
    EXPECT_EQ(s.calls, std::uint64_t{threads * calls_per_thread});
    EXPECT_EQ(s.replies, std::uint64_t{threads * calls_per_thread});
    EXPECT_EQ(s.unknown_replies + s.late_replies + s.replies_without_id, 0u);
    EXPECT_EQ(client->pending_calls(), 0u);
    client->close();
    server.stop();
}

TEST_F(RpcConcurrency, TimeoutsRepliesAndCloseRaceSafely) {
    const auto q = unique_queue("race");
    fib_server server(io.executor(), q);
    auto client = make_client(io.executor(), q);
    constexpr int threads = 6, calls_per_thread = 20;
    std::atomic<int> completed{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
        callers.emplace_back([&, t] {
            for (int i = 0; i < calls_per_thread; ++i) {
                try {
                    // Very short timeouts race the replies on purpose.
                    rpc::fibonacci_client(*client).call(static_cast<std::uint64_t>(t + i), std::chrono::milliseconds(1 + (i % 5)));
                } catch (const rpc::call_error& e) {
                    EXPECT_TRUE(e.code() == rpc::errc::timeout || e.code() == rpc::errc::connection_lost) << e.what();
                }
                ++completed;
            }
        });
    }
    std::this_thread::sleep_for(20ms);
    client->close();  // fails whatever is pending, while callers keep calling
    for (auto& c : callers) c.join();
    EXPECT_EQ(completed, threads * calls_per_thread);
    EXPECT_EQ(client->pending_calls(), 0u);
}

}  // namespace
