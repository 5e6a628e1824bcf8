// rpc_server's execution and ack modes against a real RabbitMQ: handlers inline on the I/O thread
// (server_options::workers = 0) and batched acks (server_options::batch_acks). The server's
// connection goes through a recording proxy, so the tests read what it put on the wire: every
// request is acked exactly once, and never before its reply was published.
#include <test_support/rpc_fixture.hpp>
#include <test_support/test_relay.hpp>
#include <fibonacci/fibonacci_client.hpp>

#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace rpc_test;
using namespace std::chrono_literals;

/// What the tests look at in a recorded AMQP stream.
struct wire_event {
    enum class kind { deliver, publish, ack } k;
    std::uint64_t tag = 0;  // deliver, ack
    bool multiple = false;  // ack
    std::string correlation_id;  // deliver, publish (from the content header that follows)
};

/// The deliveries, publishes and acks in `bytes` (one direction of one connection), in order.
std::vector<wire_event> parse_stream(const std::string& bytes) {
    std::vector<wire_event> out;
    amqp::bytes_view in = amqp::as_bytes(bytes);
    if (bytes.rfind("AMQP", 0) == 0) in = in.subspan(8);  // the client's protocol header
    amqp::frame_decoder dec(1u << 20);
    dec.feed(in);
    constexpr std::size_t none = static_cast<std::size_t>(-1);
    std::size_t awaiting_header = none;  // index of the deliver/publish whose header comes next
    for (;;) {
        const amqp::frame_result r = dec.next();
        if (r.status != amqp::decode_status::ok) {
            EXPECT_NE(r.status, amqp::decode_status::error) << dec.diag().message;
            break;
        }
        amqp::diagnostics diag;
        if (r.frame.type == amqp::frame_type::method) {
            amqp::method m;
            if (amqp::decode_method(r.frame.payload, m, diag)) {
                ADD_FAILURE() << "undecodable method: " << diag.message;
                break;
            }
            awaiting_header = none;
            if (const auto* d = std::get_if<amqp::basic_deliver>(&m)) {
                out.push_back({wire_event::kind::deliver, d->delivery_tag, false, {}});
                awaiting_header = out.size() - 1;
            } else if (std::holds_alternative<amqp::basic_publish>(m)) {
                out.push_back({wire_event::kind::publish, 0, false, {}});
                awaiting_header = out.size() - 1;
            } else if (const auto* a = std::get_if<amqp::basic_ack>(&m)) {
                out.push_back({wire_event::kind::ack, a->delivery_tag, a->multiple, {}});
            }
        } else if (r.frame.type == amqp::frame_type::header && awaiting_header != none) {
            amqp::content_header h;
            if (amqp::decode_content_header(r.frame.payload, h, diag)) {
                ADD_FAILURE() << "undecodable content header: " << diag.message;
                break;
            }
            if (h.properties.correlation_id) out[awaiting_header].correlation_id.assign(*h.properties.correlation_id);
            awaiting_header = none;
        }
    }
    return out;
}

/// What the server sent, checked against what it received: each delivery acked exactly once, by
/// an ack that comes after the publish of its reply. Returns the number of ack frames.
std::size_t check_reply_before_ack(const std::string& from_broker, const std::string& to_broker) {
    std::map<std::uint64_t, std::string> cid_of_tag;
    for (const auto& e : parse_stream(from_broker)) {
        if (e.k == wire_event::kind::deliver) cid_of_tag[e.tag] = e.correlation_id;
    }
    std::set<std::string> published;
    std::set<std::uint64_t> acked;
    std::size_t acks = 0;
    for (const auto& e : parse_stream(to_broker)) {
        if (e.k == wire_event::kind::publish) {
            published.insert(e.correlation_id);
            continue;
        }
        if (e.k != wire_event::kind::ack) continue;
        ++acks;
        EXPECT_TRUE(cid_of_tag.count(e.tag)) << "ack of a tag never delivered: " << e.tag;
        std::vector<std::uint64_t> covered;
        if (e.multiple) {
            for (const auto& [tag, cid] : cid_of_tag)
                if (tag <= e.tag && !acked.count(tag)) covered.push_back(tag);
            EXPECT_GE(covered.size(), 1u) << "multiple ack covering nothing: " << e.tag;
        } else {
            EXPECT_FALSE(acked.count(e.tag)) << "tag acked twice: " << e.tag;
            covered.push_back(e.tag);
        }
        for (const std::uint64_t tag : covered) {
            EXPECT_TRUE(published.count(cid_of_tag[tag]))
                << "request " << cid_of_tag[tag] << " (tag " << tag << ") acked before its reply was published";
            acked.insert(tag);
        }
    }
    for (const auto& [tag, cid] : cid_of_tag) {
        EXPECT_TRUE(acked.count(tag)) << "never acked: tag " << tag << " " << cid;
    }
    return acks;
}

std::size_t count(const std::vector<wire_event>& events, wire_event::kind k) {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.k == k; }));
}

class RpcServerModes : public ::testing::Test {
protected:
    void SetUp() override { RPC_REQUIRE_BROKER(); }

    /// Broker options through `proxy`.
    static amqp::connection_options via(const amqp_test::test_relay& proxy) {
        auto conn = broker_options();
        conn.host = "127.0.0.1";
        conn.port = proxy.port();
        return conn;
    }

    /// Wait (bounded) until the proxy has relayed or held `n` deliveries to its first connection.
    static bool wait_for_deliveries(const amqp_test::test_relay& proxy, std::size_t n) {
        for (int i = 0; i < 3000; ++i) {
            if (count(parse_stream(proxy.received_from_broker(0)), wire_event::kind::deliver) >= n) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }

    /// An inline server (workers 0) on `q`, through `proxy`, takes `total` requests in one read
    /// (the proxy holds the broker's bytes until all of them are there) and answers them all.
    void serve_in_one_read(amqp_test::test_relay& proxy, const std::string& q, bool batch_acks, std::size_t total) {
        rpc::server_options opts = fib_server::options(q, 20);
        opts.workers = 0;
        opts.batch_acks = batch_acks;
        rpc::rpc_server server(io.executor(), via(proxy), opts, rpc::make_fibonacci_handler({}));
        server.start();
        raw_peer peer(io.executor());
        const auto replies = peer.declare_exclusive();
        inbox box;
        peer.consume(replies, box);
        proxy.hold_from_broker();
        for (std::size_t i = 0; i < total; ++i) peer.publish(q, "20", replies, "c-" + std::to_string(i));
        ASSERT_TRUE(wait_for_deliveries(proxy, total));
        proxy.release_held();
        for (std::size_t i = 0; i < total; ++i) ASSERT_TRUE(box.pop()) << "only " << i << " replies";
        server.stop();
    }

    rpc::cli::io_thread io;
};

TEST_F(RpcServerModes, InlineHandlersAnswerPipelinedCallsWithExactValues) {
    const auto q = unique_queue("inline");
    rpc::server_options opts = fib_server::options(q, 16);
    opts.workers = 0;
    rpc::rpc_server server(io.executor(), broker_options(), opts, rpc::make_fibonacci_handler({}));
    server.start();
    auto client = make_client(io.executor(), q);
    std::vector<std::future<rpc::big_int>> calls;
    for (std::uint64_t i = 0; i < 300; ++i) calls.push_back(rpc::fibonacci_client(*client).async_call(i % 90, 60s, boost::asio::use_future));
    for (std::uint64_t i = 0; i < 300; ++i) EXPECT_EQ(calls[i].get(), rpc::fibonacci(i % 90)) << i;
    EXPECT_EQ(server.stats().requests, 300u);
    EXPECT_EQ(server.stats().replies, 300u);
    server.stop();
    EXPECT_EQ(server.in_flight(), 0u);
    raw_peer peer(io.executor());
    EXPECT_EQ(peer.ready(q), 0u);  // all acked: nothing went back to the queue
}

TEST_F(RpcServerModes, InlineHandlersReportFailuresAndAckRequestsWithoutReplyTo) {
    const auto q = unique_queue("inline-fail");
    rpc::server_options opts = fib_server::options(q, 4);
    opts.workers = 0;
    auto handler = [](const rpc::request& r) -> rpc::reply {
        if (r.body == "boom") throw std::runtime_error("boom");
        return rpc::make_value_reply(rpc::big_int(r.body), rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), broker_options(), opts, handler);
    std::promise<std::string> logged;
    std::atomic<bool> logged_once{false};
    server.on_log([&](std::string_view text) {
        if (!logged_once.exchange(true)) logged.set_value(std::string(text));
    });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    peer.publish(q, "12", std::nullopt, std::string("no-reply-to"));
    peer.publish(q, "boom", replies, std::string("c-boom"));
    peer.publish(q, "12", replies, std::string("c-12"));
    auto first = box.pop();
    auto second = box.pop();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->correlation_id, "c-boom");
    EXPECT_EQ(first->body, R"({"response": null, "error": "boom"})");
    EXPECT_EQ(second->correlation_id, "c-12");
    EXPECT_EQ(second->body, "12");
    auto text = logged.get_future();
    ASSERT_EQ(text.wait_for(30s), std::future_status::ready);
    EXPECT_NE(text.get().find("reply_to"), std::string::npos);
    EXPECT_EQ(server.stats().handler_failures, 1u);
    EXPECT_EQ(server.stats().no_reply_to, 1u);
    server.stop();
    EXPECT_EQ(peer.ready(q), 0u);
}

// The guarantee a crash test can only sample, checked frame by frame: for every worker count and
// ack mode, a request's ack never precedes its reply on the server's connection.
class ReplyBeforeAck : public RpcServerModes, public ::testing::WithParamInterface<std::tuple<std::size_t, bool>> {};

TEST_P(ReplyBeforeAck, EveryRequestIsAckedOnceAndOnlyAfterItsReply) {
    const auto [workers, batch] = GetParam();
    const auto q = unique_queue("order");
    raw_peer peer(io.executor());
    peer.declare(q);
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    // Queued before the server starts: the broker then pushes a prefetch's worth at once.
    constexpr int total = 60;
    for (int i = 0; i < total; ++i) peer.publish(q, std::to_string(i % 7), replies, "c-" + std::to_string(i));

    amqp_test::test_relay proxy(broker_options().port);
    proxy.record();
    rpc::server_options opts = fib_server::options(q, 10);
    opts.workers = workers;
    opts.batch_acks = batch;
    // Uneven handler times, so a pool finishes requests out of order.
    auto handler = [](const rpc::request& r) {
        const auto n = std::stoull(r.body);
        if (n % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(n));
        return rpc::make_value_reply(rpc::fibonacci(n), rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), via(proxy), opts, handler);
    server.start();
    std::set<std::string> answered;
    for (int i = 0; i < total; ++i) {
        auto m = box.pop();
        ASSERT_TRUE(m) << "only " << i << " replies";
        answered.insert(m->correlation_id.value_or(""));
    }
    EXPECT_EQ(answered.size(), static_cast<std::size_t>(total));
    server.stop();
    EXPECT_EQ(peer.ready(q), 0u);
    const std::size_t acks = check_reply_before_ack(proxy.received_from_broker(0), proxy.sent_to_broker(0));
    std::printf("workers %zu, batch_acks %d: %zu requests, %zu ack frames\n", workers, int(batch), std::size_t(total), acks);
    if (!batch) {
        EXPECT_EQ(acks, static_cast<std::size_t>(total));
    }
    EXPECT_LE(acks, static_cast<std::size_t>(total));
}

INSTANTIATE_TEST_SUITE_P(WorkersAndAckModes, ReplyBeforeAck,
                         ::testing::Combine(::testing::Values(std::size_t{0}, std::size_t{1}, std::size_t{4}),
                                            ::testing::Bool()),
                         [](const auto& info) {
                             return "workers" + std::to_string(std::get<0>(info.param)) +
                                    (std::get<1>(info.param) ? "_batched" : "_each");
                         });

// Deliveries that arrive in one read are answered, then acked by a single basic.ack with
// multiple=true, in the same write as the replies or after it.
TEST_F(RpcServerModes, InlineHandlersAckOneReadsDeliveriesWithOneAck) {
    const auto q = unique_queue("batch");
    amqp_test::test_relay proxy(broker_options().port);
    proxy.record();
    constexpr std::size_t total = 8;
    ASSERT_NO_FATAL_FAILURE(serve_in_one_read(proxy, q, true, total));

    const std::string sent = proxy.sent_to_broker(0);
    const auto events = parse_stream(sent);
    std::vector<wire_event> acks;
    for (const auto& e : events) {
        if (e.k == wire_event::kind::ack) acks.push_back(e);
    }
    ASSERT_EQ(acks.size(), 1u) << "one read of " << total << " deliveries, one ack";
    EXPECT_TRUE(acks[0].multiple);
    std::uint64_t last_tag = 0;
    for (const auto& e : parse_stream(proxy.received_from_broker(0))) {
        if (e.k == wire_event::kind::deliver) last_tag = std::max(last_tag, e.tag);
    }
    EXPECT_EQ(acks[0].tag, last_tag);
    check_reply_before_ack(proxy.received_from_broker(0), sent);
    raw_peer peer(io.executor());
    EXPECT_EQ(peer.ready(q), 0u);
}

// The same read with batching off: one ack per request, as the tutorial's server does.
TEST_F(RpcServerModes, WithoutBatchingEachRequestHasItsOwnAck) {
    const auto q = unique_queue("each");
    amqp_test::test_relay proxy(broker_options().port);
    proxy.record();
    constexpr std::size_t total = 8;
    ASSERT_NO_FATAL_FAILURE(serve_in_one_read(proxy, q, false, total));
    const auto events = parse_stream(proxy.sent_to_broker(0));
    EXPECT_EQ(count(events, wire_event::kind::ack), total);
    for (const auto& e : events) {
        EXPECT_FALSE(e.k == wire_event::kind::ack && e.multiple);
    }
    check_reply_before_ack(proxy.received_from_broker(0), proxy.sent_to_broker(0));
}

// server_options::runs_inline with a pool: the requests it picks run on the I/O thread, the
// others on a worker, and every request is still acked once, after its reply, while the
// two kinds finish out of order.
TEST_F(RpcServerModes, RunsInlineSplitsRequestsBetweenTheIoThreadAndThePool) {
    const auto q = unique_queue("split");
    amqp_test::test_relay proxy(broker_options().port);
    proxy.record();
    rpc::server_options opts = fib_server::options(q, 10);
    opts.workers = 2;
    opts.runs_inline = [](std::string_view body) { return body.size() == 1; };  // n < 10
    const std::thread::id io_thread = boost::asio::post(io.executor(), boost::asio::use_future([] {
                                          return std::this_thread::get_id();
                                      })).get();
    std::mutex m;
    std::set<std::string> on_io, on_pool;
    auto handler = [&](const rpc::request& r) {
        {
            std::lock_guard lock(m);
            (std::this_thread::get_id() == io_thread ? on_io : on_pool).insert(r.body);
        }
        const auto n = std::stoull(r.body);
        if (n >= 10) std::this_thread::sleep_for(std::chrono::milliseconds(n));  // finished after later ones
        return rpc::make_value_reply(rpc::fibonacci(n), rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), via(proxy), opts, handler);
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    constexpr int total = 40;
    for (int i = 0; i < total; ++i) peer.publish(q, std::to_string(i), replies, "c-" + std::to_string(i));
    std::set<std::string> answered;
    for (int i = 0; i < total; ++i) {
        auto r = box.pop();
        ASSERT_TRUE(r) << "only " << i << " replies";
        EXPECT_EQ(r->body, rpc::fibonacci(std::stoull(r->correlation_id.value_or("c-0").substr(2))).str());
        answered.insert(r->correlation_id.value_or(""));
    }
    EXPECT_EQ(answered.size(), static_cast<std::size_t>(total));
    server.stop();
    EXPECT_EQ(peer.ready(q), 0u);
    check_reply_before_ack(proxy.received_from_broker(0), proxy.sent_to_broker(0));
    std::set<std::string> small, large;
    for (int i = 0; i < total; ++i) (i < 10 ? small : large).insert(std::to_string(i));
    EXPECT_EQ(on_io, small);
    EXPECT_EQ(on_pool, large);
}

// The defaults' promise kept with runs_inline: a long request it leaves to the pool does not stop
// the connection's heartbeats, and the cheap requests behind it are answered inline meanwhile.
TEST_F(RpcServerModes, LongRequestOnThePoolLetsHeartbeatsAndInlineRequestsThrough) {
    const auto q = unique_queue("split-heartbeat");
    auto conn = broker_options();
    conn.heartbeat = 1;  // the broker drops a peer silent for ~2 heartbeats
    rpc::server_options opts = fib_server::options(q, 4);
    opts.workers = 1;
    opts.runs_inline = [](std::string_view body) { return body != "slow"; };
    std::atomic<bool> slow_done{false};
    auto handler = [&](const rpc::request& r) {
        if (r.body == "slow") {
            std::this_thread::sleep_for(3s);
            slow_done = true;
            return rpc::make_value_reply(7, rpc::reply_format::plain);
        }
        return rpc::make_value_reply(rpc::fibonacci(std::stoull(r.body)), rpc::reply_format::plain);
    };
    rpc::rpc_server server(io.executor(), conn, opts, handler);
    std::atomic<bool> lost{false};
    server.on_connection_lost([&](const amqp::close_reason&) { lost = true; });
    server.start();
    raw_peer peer(io.executor());
    const auto replies = peer.declare_exclusive();
    inbox box;
    peer.consume(replies, box);
    peer.publish(q, "slow", replies, std::string("c-slow"));
    peer.publish(q, "12", replies, std::string("c-12"));
    auto first = box.pop(60s);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->correlation_id, "c-12");
    EXPECT_EQ(first->body, "144");
    EXPECT_FALSE(slow_done);
    auto second = box.pop(60s);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->correlation_id, "c-slow");
    EXPECT_FALSE(lost);
    EXPECT_EQ(server.stats().replies, 2u);
    server.stop();
}

}  // namespace
