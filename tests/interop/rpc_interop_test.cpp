// Interop with the tutorial's own language: pika clients (tests/interop/pika_rpc_client.py)
// against our rpc_server program, and our clients against a pika server
// (tests/interop/pika_rpc_server.py).
#include <test_support/child_process.hpp>
#include <test_support/rpc_fixture.hpp>

#include <boost/asio/use_future.hpp>

#include <sstream>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

const std::string python = AMQP_TEST_PYTHON;
const std::string pika_server = AMQP_SOURCE_DIR "/tests/interop/pika_rpc_server.py";
const std::string pika_client = AMQP_SOURCE_DIR "/tests/interop/pika_rpc_client.py";
const std::string server_bin = RPC_SERVER_BIN;
const std::string client_bin = RPC_CLIENT_BIN;
const std::string async_bin = RPC_ASYNC_CLIENT_BIN;

struct finished {
    exit_info exit;
    std::string out, err;
};
finished run(std::vector<std::string> argv) {
    child_process p(std::move(argv), {{"AMQP_URL", broker_url()}});
    finished f;
    f.exit = p.wait(300s);
    f.out = p.out();
    f.err = p.err();
    return f;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

/// A long-running program (ours or pika's) that prints " [x] Awaiting RPC requests" when ready.
struct server_process {
    explicit server_process(std::vector<std::string> argv) : proc(std::move(argv)) {
        ready = proc.wait_for_stdout(" [x] Awaiting RPC requests\n", 60s);
    }
    ~server_process() {
        proc.signal(SIGTERM);
        proc.wait(30s);
    }
    child_process proc;
    bool ready = false;
};

class Interop : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
};

TEST_F(Interop, PikaClientReadsOurPlainReplies) {
    const auto q = unique_queue("pika-plain");
    server_process server({server_bin, "--url", broker_url(), "--queue", q});
    ASSERT_TRUE(server.ready) << server.proc.err();
    const auto r = run({python, pika_client, "--url", broker_url(), "--queue", q, "0", "1", "10", "30", "1000"});
    ASSERT_EQ(r.exit.status, 0) << r.err;
    EXPECT_EQ(lines(r.out), (std::vector<std::string>{
                                "client=0 n=0 value=0", "client=0 n=1 value=1", "client=0 n=10 value=55",
                                "client=0 n=1000 value=" + rpc::fibonacci(1000).str(), "client=0 n=30 value=832040"}));
}

// Both sides with the tutorial's defaults: queue rpc_queue (RESOURCE_LOCK rpc_queue in CMake).
TEST_F(Interop, TutorialDefaultsOnRpcQueue) {
    {
        server_process server({server_bin, "--url", broker_url()});
        ASSERT_TRUE(server.ready);
        const auto r = run({python, pika_client, "--url", broker_url(), "30"});
        ASSERT_EQ(r.exit.status, 0) << r.err;
        EXPECT_EQ(r.out, "client=0 n=30 value=832040\n");
    }
    server_process server({python, pika_server, "--url", broker_url()});
    ASSERT_TRUE(server.ready);
    const auto r = run({client_bin, "30"});
    EXPECT_EQ(r.exit.status, 0) << r.err;
    EXPECT_EQ(r.out, " [x] Requesting fib(30)\n [.] Got 832040\n");
}

TEST_F(Interop, PikaClientReadsOurJsonReplies) {
    const auto q = unique_queue("pika-json");
    server_process server({server_bin, "--url", broker_url(), "--queue", q, "--reply-format", "json"});
    ASSERT_TRUE(server.ready);
    const auto r = run({python, pika_client, "--url", broker_url(), "--queue", q, "1000", "20000", "100001"});
    ASSERT_EQ(r.exit.status, 0) << r.err;
    EXPECT_EQ(lines(r.out), (std::vector<std::string>{"client=0 n=1000 value=" + rpc::fibonacci(1000).str(),
                                                      "client=0 n=100001 error=n must be <= 100000, got 100001",
                                                      "client=0 n=20000 value=" + rpc::fibonacci(20000).str()}));
}

TEST_F(Interop, PikaClientGetsAJsonErrorForGarbage) {
    const auto q = unique_queue("pika-garbage");
    server_process server({server_bin, "--url", broker_url(), "--queue", q});
    ASSERT_TRUE(server.ready);
    const auto r = run({python, pika_client, "--url", broker_url(), "--queue", q, "--raw", "thirty"});
    ASSERT_EQ(r.exit.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "client=0 body={\"response\": null, \"error\": \"invalid request: expected a non-negative integer, got "
              "'thirty'\"} ctype=application/json\n");
}

TEST_F(Interop, ManyConcurrentPikaClientsEachWithItsOwnConnection) {
    const auto q = unique_queue("pika-many");
    server_process server({server_bin, "--url", broker_url(), "--queue", q, "--prefetch", "4"});
    ASSERT_TRUE(server.ready);
    constexpr int clients = 8;
    const auto r = run({python, pika_client, "--url", broker_url(), "--queue", q, "--clients", std::to_string(clients),
                        "20", "25", "300"});
    ASSERT_EQ(r.exit.status, 0) << r.err;
    std::vector<std::string> expected;
    for (int i = 0; i < clients; ++i)
        for (const auto& [n, v] : {std::pair{"20", std::string("6765")}, {"25", std::string("75025")},
                                   {"300", rpc::fibonacci(300).str()}})
            expected.push_back("client=" + std::to_string(i) + " n=" + n + " value=" + v);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(lines(r.out), expected);
}

TEST_F(Interop, OurClientsAgainstAPikaServer) {
    const auto q = unique_queue("pika-server");
    server_process server({python, pika_server, "--url", broker_url(), "--queue", q});
    ASSERT_TRUE(server.ready) << server.proc.err();

    auto r = run({client_bin, "--queue", q, "30"});
    EXPECT_EQ(r.exit.status, 0) << r.err;
    EXPECT_EQ(r.out, " [x] Requesting fib(30)\n [.] Got 832040\n");

    r = run({async_bin, "--queue", q});
    EXPECT_EQ(r.exit.status, 0) << r.err;
    EXPECT_NE(r.out.find(" [.] fib(30) = 832040\n"), std::string::npos) << r.out;

    rpc::cli::io_thread io;
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(1000, 60s), rpc::fibonacci(1000));
    auto direct = make_client(io.executor(), q, /*direct_reply_to=*/true);
    EXPECT_EQ(rpc::fibonacci_client(*direct).call(90, 60s), rpc::fibonacci(90));
    // The pika server's plain-mode error is the tutorial's JSON form.
    try {
        rpc::fibonacci_client(*client).call(100001, 60s);
        ADD_FAILURE() << "expected an error reply";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error);
        EXPECT_EQ(e.reason(), "n must be between 0 and 100000");
    }
}

TEST_F(Interop, OurClientAgainstAPikaJsonServer) {
    const auto q = unique_queue("pika-json-server");
    server_process server({python, pika_server, "--url", broker_url(), "--queue", q, "--json", "--max-n", "50"});
    ASSERT_TRUE(server.ready) << server.proc.err();
    rpc::cli::io_thread io;
    auto client = make_client(io.executor(), q);
    EXPECT_EQ(rpc::fibonacci_client(*client).call(50, 60s), rpc::fibonacci(50));
    try {
        rpc::fibonacci_client(*client).call(51, 60s);
        ADD_FAILURE() << "expected an error reply";
    } catch (const rpc::call_error& e) {
        EXPECT_EQ(e.code(), rpc::errc::remote_error);
        EXPECT_EQ(e.reason(), "n must be between 0 and 50");
    }
    const auto r = run({client_bin, "--queue", q, "51"});
    EXPECT_EQ(r.exit.status, 1);
    EXPECT_EQ(r.err, " [!] Error: n must be between 0 and 50\n");
}

}  // namespace
