// How a service declares its request queue and what it says when the broker refuses (no broker:
// the close reasons are the ones RabbitMQ sends, word for word).
#include <rpc/server_queue.hpp>

#include <amqp/codec/types.hpp>

#include <gtest/gtest.h>

namespace {

amqp::close_reason broker_close(std::uint16_t code, std::string text) {
    amqp::close_reason r;
    r.reply_code = code;
    r.reply_text = std::move(text);
    r.class_id = 50;  // queue.declare
    r.method_id = 10;
    r.from_broker = true;
    return r;
}

// RabbitMQ 4.3's connection.close for a transient non-exclusive queue (deprecated feature denied
// by default).
const std::string refused_transient =
    "INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated.\n"
    "By default, this feature is not permitted anymore.\n"
    "The feature will be removed from a future major RabbitMQ version, regardless of the configuration; actual "
    "version to be determined.\n"
    "To continue using this feature when it is not permitted by default, set the following parameter in your "
    "configuration:\n"
    "    \"deprecated_features.permit.transient_nonexcl_queues = true\"";

TEST(ServerQueue, TypesParseAndPrintBothWays) {
    for (auto t : {rpc::queue_type::transient, rpc::queue_type::classic, rpc::queue_type::quorum})
        EXPECT_EQ(rpc::parse_queue_type(rpc::to_string(t)), t);
    EXPECT_FALSE(rpc::parse_queue_type("Quorum"));
    EXPECT_FALSE(rpc::parse_queue_type(""));
    EXPECT_FALSE(rpc::parse_queue_type("stream"));
}

TEST(ServerQueue, DeclarationsAreTheTutorialsADurableClassicAndAQuorumQueue) {
    const amqp::queue_options t = rpc::queue_declaration("q", rpc::queue_type::transient);
    EXPECT_EQ(t.name, "q");
    EXPECT_FALSE(t.durable || t.exclusive || t.auto_delete || t.passive);
    EXPECT_TRUE(t.arguments.empty());

    const amqp::queue_options c = rpc::queue_declaration("q", rpc::queue_type::classic);
    EXPECT_TRUE(c.durable);
    EXPECT_FALSE(c.exclusive || c.auto_delete);
    EXPECT_TRUE(c.arguments.empty());

    const amqp::queue_options q = rpc::queue_declaration("q", rpc::queue_type::quorum);
    EXPECT_TRUE(q.durable);
    EXPECT_FALSE(q.exclusive || q.auto_delete);  // a quorum queue may be neither
    ASSERT_EQ(q.arguments.size(), 1u);
    EXPECT_EQ(q.arguments[0].first, "x-queue-type");
    ASSERT_TRUE(q.arguments[0].second.is<std::string>());
    EXPECT_EQ(q.arguments[0].second.get<std::string>(), "quorum");
}

TEST(ServerQueue, ABrokerRefusingTransientQueuesGetsTheDurableTypesAsTheFix) {
    const std::string hint = rpc::declare_refusal_hint("rpc_queue", rpc::queue_type::transient,
                                                       broker_close(541, refused_transient));
    EXPECT_NE(hint.find("--queue-type classic|quorum"), std::string::npos) << hint;
    EXPECT_NE(hint.find("\"rpc_queue\""), std::string::npos) << hint;
    // A broker refusing it with 406 instead: the same fix.
    EXPECT_EQ(rpc::declare_refusal_hint("rpc_queue", rpc::queue_type::transient,
                                        broker_close(406, "PRECONDITION_FAILED - transient queues are not allowed")),
              hint);
}

TEST(ServerQueue, AQueueOfAnotherTypeOrDurabilityGetsTheTypeOptionOrItsDeletion) {
    for (const char* text : {"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'jobs' in vhost '/': "
                             "received the value 'quorum' of type 'longstr' but current is none",
                             "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'jobs' in vhost '/': "
                             "received 'true' but current is 'false'"}) {
        const std::string hint = rpc::declare_refusal_hint("jobs", rpc::queue_type::quorum, broker_close(406, text));
        EXPECT_NE(hint.find("--queue-type quorum"), std::string::npos) << hint;
        EXPECT_NE(hint.find("--queue-type transient|classic|quorum"), std::string::npos) << hint;
        EXPECT_NE(hint.find("delete_queue \"jobs\""), std::string::npos) << hint;
    }
    // Declared transient over a durable queue: the mismatch, not "transient queues refused".
    const std::string back = rpc::declare_refusal_hint(
        "jobs", rpc::queue_type::transient,
        broker_close(406,
                     "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'jobs' in vhost '/': received "
                     "'false' but current is 'true'"));
    EXPECT_NE(back.find("exists already"), std::string::npos) << back;
}

TEST(ServerQueue, OtherRefusalsGetNoHintAndTheQueueNameIsEscaped) {
    EXPECT_EQ(rpc::declare_refusal_hint("q", rpc::queue_type::quorum,
                                        broker_close(403, "ACCESS_REFUSED - access to queue 'q' refused")),
              "");
    EXPECT_EQ(rpc::declare_refusal_hint("q", rpc::queue_type::classic, broker_close(406, "PRECONDITION_FAILED - x")),
              "");
    const std::string hint = rpc::declare_refusal_hint("a\nb", rpc::queue_type::transient,
                                                       broker_close(541, refused_transient));
    EXPECT_EQ(hint.find('\n'), std::string::npos) << hint;
}

}  // namespace
