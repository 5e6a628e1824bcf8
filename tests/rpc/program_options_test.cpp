// The programs' option groups (<programs/cli.hpp>): each group's usage describes every option it
// holds, a program accepts exactly the options of the groups it lists, and each group's parse
// function fills its struct. No broker: URLs are parsed, never connected.
#include <programs/cli.hpp>
#include <rpc/rpc_server.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace rpc::cli;

arguments parse(std::vector<const char*> argv, option_groups groups) {
    argv.insert(argv.begin(), "prog");
    return parse_arguments(static_cast<int>(argv.size()), argv.data(), groups);
}

TEST(ProgramOptions, EachGroupsUsageHasALineForEveryOptionItHolds) {
    for (const option_group* g : {&broker_url_options, &broker_node_options, &client_queue_options,
                                  &client_durability_options, &server_queue_options, &server_durability_options}) {
        ASSERT_FALSE(g->options.empty());
        for (const option_spec& o : g->options) {
            const std::string line_start = "  --" + std::string(o.name) + (o.takes_value ? " " : "  ");
            EXPECT_TRUE(g->usage.rfind(line_start, 0) == 0 || g->usage.find("\n" + line_start) != std::string::npos)
                << "no usage line for --" << o.name << " in:\n"
                << g->usage;
        }
        EXPECT_EQ(g->usage.back(), '\n');
    }
}

TEST(ProgramOptions, AClientTakesItsGroupsOptionsAndFillsItsStructs) {
    const auto args = parse({"--url", "amqp://127.0.0.1:5672/", "--url=amqp://127.0.0.1:5673/", "--shuffle-nodes",
                             "--queue", "q1", "--direct-reply-to", "--queue-type", "quorum"},
                            {broker_node_options, client_queue_options, client_durability_options});
    const rpc::broker_nodes nodes = broker_nodes_from(args);
    ASSERT_EQ(nodes.nodes.size(), 2u);
    EXPECT_EQ(nodes.nodes[1].port, 5673);
    EXPECT_TRUE(nodes.shuffle);
    const rpc::client_options opts = client_options_from(args);
    EXPECT_EQ(opts.queue, "q1");
    EXPECT_TRUE(opts.direct_reply_to);
    EXPECT_TRUE(opts.persistent);        // a durable queue type
    EXPECT_TRUE(opts.confirm_requests);  // on by default with one

    // Without the durability group, its options are unknown, and its fields keep their defaults.
    EXPECT_THROW(parse({"--queue-type", "quorum"}, {broker_node_options, client_queue_options}), usage_error);
    EXPECT_THROW(parse({"--prefetch", "2"}, {broker_node_options, client_queue_options}), usage_error);
    const rpc::client_options plain = client_options_from(parse({}, {client_queue_options}));
    EXPECT_EQ(plain.queue, "rpc_queue");
    EXPECT_FALSE(plain.direct_reply_to || plain.persistent || plain.confirm_requests);
}

TEST(ProgramOptions, AServerTakesItsGroupsOptionsAndFillsItsStructs) {
    const option_group own{{{"workers", true}}, "  --workers N\n"};
    const auto args = parse({"--queue", "s1", "--prefetch", "7", "--queue-type", "classic", "--workers", "3"},
                            {server_queue_options, server_durability_options, own});
    const rpc::server_options opts = server_options_from(args);
    EXPECT_EQ(opts.queue, "s1");
    EXPECT_EQ(opts.prefetch, 7);
    EXPECT_EQ(opts.queue_type, rpc::queue_type::classic);
    EXPECT_TRUE(opts.confirm_replies);
    EXPECT_EQ(workers_from(args), 3u);
    EXPECT_EQ(workers_from(parse({}, {own})), std::nullopt);

    const std::string long_name(256, 'q');
    const std::vector<std::vector<const char*>> bad_lines = {{"--queue="},
                                                             {"--queue", long_name.c_str()},
                                                             {"--prefetch", "0"},
                                                             {"--prefetch", "65536"},
                                                             {"--queue-type", "fancy"}};
    for (const auto& bad : bad_lines)
        EXPECT_THROW(server_options_from(parse(bad, {server_queue_options, server_durability_options})), usage_error)
            << bad[0];
    EXPECT_THROW(workers_from(parse({"--workers", "1025"}, {own})), usage_error);
    EXPECT_THROW(parse({"--direct-reply-to"}, {server_queue_options, own}), usage_error);
    EXPECT_THROW(parse({"--prefetch"}, {server_queue_options}), usage_error);  // no value
}

}  // namespace
