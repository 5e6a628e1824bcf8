// What tracing costs on the receive path: the connection state machine taking in deliveries
// (basic.deliver + content header + body, as RabbitMQ sends a request to rpc_server) with
//   - no frame observer: tracing off, what every connection runs unless --trace / AMQP_TRACE=1;
//   - an observer that does nothing: the price of the hook itself, an upper bound for "off";
//   - the tracer formatting every frame into a discarding stream: tracing on.
// Compare the items/s of the first two to see that "off" costs nothing measurable.
#include <amqp/protocol/options.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/protocol/connection_machine.hpp>
#include <amqp/codec/trace.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ostream>
#include <streambuf>

namespace {

using amqp::byte_buffer;
namespace protocol = amqp::protocol;

constexpr int deliveries_per_batch = 64;

byte_buffer method_frame(std::uint16_t channel, const amqp::method& m) {
    byte_buffer out;
    if (amqp::append_method_frame(out, channel, m)) std::abort();
    return out;
}

void drain(protocol::connection_machine& m) {
    protocol::event ev;
    while (m.next_event(ev)) {
    }
    byte_buffer sink;
    m.take_output(sink);
}

// A machine that has done the handshake and opened channel 1.
void open(protocol::connection_machine& m, protocol::time_point now) {
    m.start(now);
    amqp::connection_start start;
    start.mechanisms = "PLAIN";
    start.locales = "en_US";
    amqp::connection_tune tune;
    tune.channel_max = 2047;
    tune.frame_max = 131072;
    tune.heartbeat = 0;
    for (const auto& f : {method_frame(0, start), method_frame(0, tune), method_frame(0, amqp::connection_open_ok{})}) {
        m.feed(f, now);
        drain(m);
    }
    std::uint16_t id = 0;
    if (m.open_channel(id) || id != 1) std::abort();
    m.feed(method_frame(1, amqp::channel_open_ok{}), now);
    drain(m);
    if (!m.is_channel_open(1)) std::abort();
}

// What RabbitMQ sends rpc_server for `rpc_client 30`, deliveries_per_batch times.
byte_buffer deliveries() {
    byte_buffer out;
    amqp::basic_properties props;
    props.correlation_id = "17b0f258-de60-9712-c174-1bf31ce30163";
    props.reply_to = "amq.gen-IzStQtH4jqW3h-j9WnnBXQ";
    props.expiration = "30000";
    const std::string body = "30";
    for (int i = 0; i < deliveries_per_batch; ++i) {
        amqp::basic_deliver d;
        d.consumer_tag = "amq.ctag-iBxhf5C-VDmLaUAXT0yX9A";
        d.delivery_tag = static_cast<std::uint64_t>(i + 1);
        d.routing_key = "rpc_queue";
        if (amqp::append_message(out, 1, d, props, amqp::as_bytes(body), 131072)) std::abort();
    }
    return out;
}

class null_buffer : public std::streambuf {
protected:
    int_type overflow(int_type c) override { return traits_type::not_eof(c); }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

enum class mode { off, noop_observer, formatting };

void run(benchmark::State& state, mode md) {
    const auto now = protocol::clock::now();
    amqp::protocol_options opts;
    opts.heartbeat = 0;
    protocol::connection_machine m(opts);
    null_buffer nb;
    std::ostream null_stream(&nb);
    if (md == mode::noop_observer)
        m.set_frame_observer([](protocol::direction, const amqp::frame_view& f) { benchmark::DoNotOptimize(f.payload.data()); });
    if (md == mode::formatting)
        m.set_frame_observer([&null_stream](protocol::direction d, const amqp::frame_view& f) {
            amqp::trace::format_frame(null_stream,
                                      d == protocol::direction::in ? amqp::trace::direction::received
                                                                   : amqp::trace::direction::sent,
                                      f);
        });
    open(m, now);
    const byte_buffer traffic = deliveries();
    std::int64_t delivered = 0;
    protocol::event ev;
    for (auto _ : state) {
        m.feed(traffic, now);
        while (m.next_event(ev))
            if (ev.kind == protocol::event_kind::delivery) ++delivered;
    }
    if (delivered != static_cast<std::int64_t>(state.iterations()) * deliveries_per_batch)
        state.SkipWithError("not every delivery came out");
    state.SetItemsProcessed(delivered);
}

void BM_ReceiveDeliveries_TraceOff(benchmark::State& s) { run(s, mode::off); }
void BM_ReceiveDeliveries_NoopObserver(benchmark::State& s) { run(s, mode::noop_observer); }
void BM_ReceiveDeliveries_TraceOn(benchmark::State& s) { run(s, mode::formatting); }

BENCHMARK(BM_ReceiveDeliveries_TraceOff);
BENCHMARK(BM_ReceiveDeliveries_NoopObserver);
BENCHMARK(BM_ReceiveDeliveries_TraceOn);

}  // namespace

BENCHMARK_MAIN();
