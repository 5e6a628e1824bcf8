// Routing through a topic exchange, for the second walkthrough (docs/beyond.md): declare a topic
// exchange, bind a queue with a pattern, publish a key it matches (delivered), unbind, publish
// again (returned: 312 NO_ROUTE), delete the exchange. With --passive it only checks that the
// exchange exists, which for a missing one is the broker's channel.close 404 NOT_FOUND.
#include <programs/cli.hpp>

#include <amqp/codec/printable.hpp>
#include <amqp/connection.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace {

constexpr std::string_view usage =
    "usage: topic_demo [--url URL] [--exchange NAME] [--passive]\n"
    "Declare the topic exchange NAME (default topic_demo), bind a queue to it with 'fib.*', publish\n"
    "'fib.request' (routed), unbind, publish again (returned: 312 NO_ROUTE), delete the exchange.\n";

const rpc::cli::option_group own_options{
    {{"exchange", true}, {"passive", false}},
    "  --exchange NAME      the exchange (default topic_demo)\n"
    "  --passive            only check that NAME exists (a missing one: 404 NOT_FOUND, exit 1)\n"};

constexpr std::string_view binding_key = "fib.*";
constexpr std::string_view routing_key = "fib.request";
constexpr auto wait_limit = std::chrono::seconds(10);

// Waits for what a handler on the connection's strand hands over, bounded.
std::string await(std::future<std::string>& f, std::string_view what) {
    if (f.wait_for(wait_limit) != std::future_status::ready)
        throw std::runtime_error("no " + std::string(what) + " within 10 s");
    return f.get();
}

void demo(amqp::channel& ch, const std::string& exchange) {
    using rpc::cli::say;
    amqp::exchange_options xo;
    xo.name = exchange;
    xo.type = "topic";
    ch.declare_exchange(xo);
    amqp::queue_options qo;
    qo.exclusive = true;
    const auto queue = ch.declare_queue(qo).name;
    amqp::binding_options b;
    b.queue = queue;
    b.exchange = exchange;
    b.routing_key = std::string(binding_key);
    ch.bind_queue(b);
    say(" [x] Bound " + queue + " to " + exchange + " with '" + b.routing_key + "'");

    std::promise<std::string> delivered;
    std::promise<std::string> returned;
    amqp::consume_options co;
    co.queue = queue;
    co.no_ack = true;
    ch.consume(co, [&](const amqp::delivered_message& m) {
        delivered.set_value(std::string(m.method.routing_key) + " -> " + std::string(amqp::as_string_view(m.body)));
    });
    ch.on_return([&](const amqp::returned_message& m) {
        returned.set_value(std::to_string(m.method.reply_code) + " " + amqp::printable(m.method.reply_text));
    });

    amqp::publish_options po;
    po.exchange = exchange;
    po.routing_key = routing_key;
    po.mandatory = true;
    if (auto ec = ch.publish(po, {}, amqp::as_bytes("routed"))) throw amqp::error(ec, "publish");
    auto d = delivered.get_future();
    say(" [.] Delivered " + await(d, "delivery"));

    ch.unbind_queue(b);
    if (auto ec = ch.publish(po, {}, amqp::as_bytes("unroutable"))) throw amqp::error(ec, "publish");
    auto r = returned.get_future();
    say(" [.] Returned " + await(r, "basic.return"));
    ch.delete_exchange(exchange);
    say(" [x] Deleted " + exchange);
}

int run(const rpc::cli::arguments& args) {
    if (!args.positionals.empty()) throw rpc::cli::usage_error("unexpected argument '" + args.positionals[0] + "'");
    const std::string exchange = args.value("exchange").value_or("topic_demo");
    const bool passive = args.flag("passive");

    rpc::cli::io_thread io;
    amqp::connection c(io.executor(), rpc::cli::broker_options(args));
    c.open();
    try {
        auto ch = c.open_channel();
        if (passive) {
            amqp::exchange_options xo;
            xo.name = exchange;
            xo.passive = true;
            ch.declare_exchange(xo);
            rpc::cli::say(" [x] " + exchange + " exists");
        } else {
            demo(ch, exchange);
        }
    } catch (const amqp::error&) {
        c.close();  // a channel error leaves the connection open: end it cleanly, then report
        throw;
    }
    c.close();
    return rpc::cli::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    return rpc::cli::run(argc, argv, usage, {rpc::cli::broker_url_options, own_options}, run);
}
