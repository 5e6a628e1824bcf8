// A synchronous handler that takes its request (rpc::owning_request_handler, `reply(request&&)`):
// which callables the server stores as one, and that a handler moving every field out of its
// request is still answered at the request's reply_to with its correlation_id, inline and on
// workers, with each request's own body (the inline request's buffers are reused).
#include <test_support/server_test_support.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace rpc_test;

using by_const_ref = decltype([](const rpc::request&) { return rpc::reply{}; });
using by_value = decltype([](rpc::request) { return rpc::reply{}; });
using by_rvalue = decltype([](rpc::request&&) { return rpc::reply{}; });
// Handlers written before owning handlers existed stay request_handlers (the same copies as before).
static_assert(!rpc::detail::takes_request_rvalue<by_const_ref>);
static_assert(!rpc::detail::takes_request_rvalue<by_value>);
static_assert(rpc::detail::takes_request_rvalue<by_rvalue>);
static_assert(rpc::detail::takes_request_rvalue<rpc::owning_request_handler>);
static_assert(!rpc::detail::takes_request_rvalue<rpc::request_handler>);

class RpcServerOwning : public ::testing::TestWithParam<std::size_t> {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }
    rpc::cli::io_thread io;
};

TEST_P(RpcServerOwning, AHandlerThatTakesItsRequestIsAnsweredWithEachRequestsOwnBody) {
    rpc::server_options opts;
    opts.queue = unique_queue("owning");
    opts.workers = GetParam();
    opts.max_request_size = 1 << 20;
    rpc::rpc_server server(io.executor(), broker_options(), opts, [](rpc::request&& req) {
        rpc::request own = std::move(req);  // every field moved out, reply_to and correlation_id too
        return rpc::reply{std::move(own.body) + "!"};
    });
    server.start();
    auto client = make_client(io.executor(), opts.queue);
    // Larger, smaller, then one above the inline buffers' reuse bound (64 KiB).
    for (const std::size_t size : {100u, 5000u, 10u, 70000u, 3u}) {
        rpc::request_message m;
        m.body.assign(size, static_cast<char>('a' + size % 26));
        EXPECT_EQ(client->request(m).body, m.body + "!") << size;
    }
    EXPECT_TRUE(server.stop());
}

TEST_P(RpcServerOwning, AddServiceTakesOneToo) {
    rpc::server_options opts;
    opts.workers = GetParam();
    rpc::rpc_server server(io.executor(), broker_options(), opts);
    const std::string q = unique_queue("owning-svc");
    server.add_service(q, [](rpc::request&& req) { return rpc::reply{std::move(req.body)}; });
    server.start();
    auto client = make_client(io.executor(), q);
    rpc::request_message m;
    m.body = "echo";
    EXPECT_EQ(client->request(m).body, "echo");
    EXPECT_TRUE(server.stop());
}

INSTANTIATE_TEST_SUITE_P(InlineAndOnWorkers, RpcServerOwning, ::testing::Values(std::size_t{0}, std::size_t{2}));

}  // namespace
