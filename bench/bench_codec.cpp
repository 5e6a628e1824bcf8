// Our codec against rabbitmq-c's public codec functions, side by side on the same bytes.
// Pairs are named <case>/amqp and <case>/rabbitmq_c. rabbitmq-c's decoders allocate from an
// amqp_pool_t, recycled after every message as its own connection loop does; its frame
// headers are parsed inline the way amqp_handle_input does, since that function needs a
// live connection. Our allocations are counted with a global operator new (allocs/iter).
#include <amqp/codec/delivery.hpp>
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

#include <amqp.h>
#include <amqp_framing.h>

#include "bench_codec_support.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

// ---- allocation counting ----------------------------------------------------------------------

std::atomic<std::size_t> codec_bench::g_allocs{0};

// The replacement pair goes through these two so gcc does not see malloc/free paired with
// new/delete (a false -Wmismatched-new-delete).
[[gnu::noinline]] static void* counted_alloc(std::size_t n) {
    codec_bench::g_allocs.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] static void counted_free(void* p) noexcept { std::free(p); }

void* operator new(std::size_t n) {
    if (void* p = counted_alloc(n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace {

using namespace amqp;
using namespace codec_bench;


// ---- the bytes ------------------------------------------------------------------------------

const std::string correlation_id = "6f1c9a52-3b7e-4d0a-9e61-0c2f5b8d7a43";
const std::string reply_to = "amq.gen-Jz3Qy8Z2n5v8kT0aX4pWcA";
const std::string small_body = "832040";

// basic.deliver + content header (correlation-id, reply-to) + body, as RabbitMQ sends a reply.
const byte_buffer& deliver_bytes() {
    static const byte_buffer b = [] {
        byte_buffer out;
        basic_properties p;
        p.correlation_id = correlation_id;
        p.reply_to = reply_to;
        const basic_deliver d{"amq.ctag-4Jx2Zb0oQ1y7hLZ5yq3U0w", 1234567, false, "", "rpc_queue"};
        if (append_message(out, 1, d, p, as_bytes(small_body), 131072)) std::abort();
        return out;
    }();
    return b;
}


// ---- decode basic.deliver + header + body -----------------------------------------------------

// The one-pass decoder for a whole delivered message (delivery.hpp): what the case measures.
void decode_deliver_amqp(benchmark::State& st) {
    const auto& in = deliver_bytes();
    delivery_view d;
    alloc_meter meter;
    for (auto _ : st) {
        if (decode_delivery(in, 131072, d) != in.size()) st.SkipWithError("decode failed");
        benchmark::DoNotOptimize(d.deliver().delivery_tag);
        benchmark::DoNotOptimize(d.properties().correlation_id->data());
        benchmark::DoNotOptimize(d.body().data());
    }
    meter.report(st);
    set_rates(st, in.size(), 3);
}

// The same frame by frame (decode_frame, decode_method, decode_content_header): the path for
// any input. Informational.
void decode_deliver_frames_amqp(benchmark::State& st) {
    const auto& in = deliver_bytes();
    diagnostics diag;
    method m;
    content_header h;
    alloc_meter meter;
    for (auto _ : st) {
        bytes_view rest(in);
        auto f1 = decode_frame(rest, 131072, diag);
        rest = rest.subspan(f1.consumed);
        auto f2 = decode_frame(rest, 131072, diag);
        rest = rest.subspan(f2.consumed);
        auto f3 = decode_frame(rest, 131072, diag);
        if (f1.status != decode_status::ok || f2.status != decode_status::ok || f3.status != decode_status::ok ||
            decode_method(f1.frame.payload, m, diag) || decode_content_header(f2.frame.payload, h, diag))
            st.SkipWithError("decode failed");
        benchmark::DoNotOptimize(std::get_if<basic_deliver>(&m)->delivery_tag);
        benchmark::DoNotOptimize(h.properties.correlation_id->data());
        benchmark::DoNotOptimize(f3.frame.payload.data());
    }
    meter.report(st);
    set_rates(st, in.size(), 3);
}

// The same through the streaming decoder (copy into its buffer, then views), as the connection
// will use it. No rabbitmq-c twin: informational.
void decode_deliver_stream_amqp(benchmark::State& st) {
    const auto& in = deliver_bytes();
    frame_decoder dec(131072);
    diagnostics diag;
    method m;
    content_header h;
    alloc_meter meter;
    for (auto _ : st) {
        dec.feed(in);
        auto f1 = dec.next();
        auto f2 = dec.next();
        auto f3 = dec.next();
        if (f3.status != decode_status::ok || decode_method(f1.frame.payload, m, diag) ||
            decode_content_header(f2.frame.payload, h, diag))
            st.SkipWithError("decode failed");
        benchmark::DoNotOptimize(f3.frame.payload.data());
    }
    meter.report(st);
    set_rates(st, in.size(), 3);
}

struct c_frame {
    std::uint8_t type;
    std::uint16_t channel;
    amqp_bytes_t payload;
};

// What amqp_handle_input does per frame once the bytes are in: header fields, frame-end check.
inline bool c_parse_frame(const std::uint8_t*& p, const std::uint8_t* end, c_frame& f) {
    if (end - p < 8) return false;
    f.type = p[0];
    f.channel = static_cast<std::uint16_t>((p[1] << 8) | p[2]);
    const std::uint32_t size =
        (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[4]} << 16) | (std::uint32_t{p[5]} << 8) | p[6];
    if (size > static_cast<std::size_t>(end - p) - 8 || p[7 + size] != AMQP_FRAME_END) return false;
    f.payload.bytes = const_cast<std::uint8_t*>(p + 7);
    f.payload.len = size;
    p += 8 + size;
    return true;
}

// A method payload: 4-byte id, then the arguments, through amqp_decode_method.
inline void* c_decode_method(amqp_bytes_t payload, amqp_pool_t* pool) {
    const auto* mp = static_cast<const std::uint8_t*>(payload.bytes);
    const amqp_method_number_t id =
        (std::uint32_t{mp[0]} << 24) | (std::uint32_t{mp[1]} << 16) | (std::uint32_t{mp[2]} << 8) | mp[3];
    amqp_bytes_t args{payload.len - 4, const_cast<std::uint8_t*>(mp + 4)};
    void* method = nullptr;
    return amqp_decode_method(id, pool, args, &method) == AMQP_STATUS_OK ? method : nullptr;
}

// A content header payload: class (2), weight (2), body size (8), then flags + properties
// through amqp_decode_properties.
inline amqp_basic_properties_t* c_decode_header(amqp_bytes_t payload, amqp_pool_t* pool, std::uint64_t& body_size) {
    const auto* hp = static_cast<const std::uint8_t*>(payload.bytes);
    const std::uint16_t class_id = static_cast<std::uint16_t>((hp[0] << 8) | hp[1]);
    body_size = 0;
    for (int i = 4; i < 12; ++i) body_size = (body_size << 8) | hp[i];
    amqp_bytes_t props{payload.len - 12, const_cast<std::uint8_t*>(hp + 12)};
    void* decoded = nullptr;
    if (amqp_decode_properties(class_id, pool, props, &decoded) != AMQP_STATUS_OK) return nullptr;
    return static_cast<amqp_basic_properties_t*>(decoded);
}

amqp_bytes_t c_bytes(bytes_view b) { return {b.size(), const_cast<std::uint8_t*>(b.data())}; }

void decode_deliver_rabbitmq_c(benchmark::State& st) {
    const auto& in = deliver_bytes();
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    for (auto _ : st) {
        const std::uint8_t* p = in.data();
        const std::uint8_t* end = p + in.size();
        c_frame f1{}, f2{}, f3{};
        if (!c_parse_frame(p, end, f1) || !c_parse_frame(p, end, f2) || !c_parse_frame(p, end, f3))
            st.SkipWithError("frame");
        void* method = c_decode_method(f1.payload, &pool);
        std::uint64_t body_size = 0;
        amqp_basic_properties_t* props = c_decode_header(f2.payload, &pool, body_size);
        if (method == nullptr || props == nullptr) st.SkipWithError("decode");
        benchmark::DoNotOptimize(static_cast<amqp_basic_deliver_t*>(method)->delivery_tag);
        benchmark::DoNotOptimize(props->correlation_id.bytes);
        benchmark::DoNotOptimize(body_size);
        benchmark::DoNotOptimize(f3.payload.bytes);
        recycle_amqp_pool(&pool);
    }
    empty_amqp_pool(&pool);
    set_rates(st, in.size(), 3);
}

// ---- the three parts of decode_deliver, apart (informational: where the time goes) -----------

struct deliver_parts {
    bytes_view method, header, body;
};
const deliver_parts& parts() {
    static const deliver_parts p = [] {
        diagnostics diag;
        bytes_view rest(deliver_bytes());
        deliver_parts out;
        bytes_view* slots[3] = {&out.method, &out.header, &out.body};
        for (auto* s : slots) {
            auto f = decode_frame(rest, 131072, diag);
            *s = f.frame.payload;
            rest = rest.subspan(f.consumed);
        }
        return out;
    }();
    return p;
}

void part_frames_amqp(benchmark::State& st) {
    const auto& in = deliver_bytes();
    diagnostics diag;
    for (auto _ : st) {
        bytes_view rest(in);
        for (int i = 0; i < 3; ++i) {
            auto f = decode_frame(rest, 131072, diag);
            if (f.status != decode_status::ok) st.SkipWithError("frame");
            benchmark::DoNotOptimize(f.frame.payload.data());
            rest = rest.subspan(f.consumed);
        }
    }
}
void part_frames_rabbitmq_c(benchmark::State& st) {
    const auto& in = deliver_bytes();
    for (auto _ : st) {
        const std::uint8_t* p = in.data();
        const std::uint8_t* end = p + in.size();
        for (int i = 0; i < 3; ++i) {
            c_frame f{};
            if (!c_parse_frame(p, end, f)) st.SkipWithError("frame");
            benchmark::DoNotOptimize(f.payload.bytes);
        }
    }
}
void part_method_amqp(benchmark::State& st) {
    const auto pl = parts().method;
    diagnostics diag;
    method m;
    for (auto _ : st) {
        if (decode_method(pl, m, diag)) st.SkipWithError("method");
        benchmark::DoNotOptimize(std::get_if<basic_deliver>(&m)->delivery_tag);
    }
}
void part_method_rabbitmq_c(benchmark::State& st) {
    const auto pl = c_bytes(parts().method);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    for (auto _ : st) {
        void* method = c_decode_method(pl, &pool);
        if (method == nullptr) st.SkipWithError("method");
        benchmark::DoNotOptimize(static_cast<amqp_basic_deliver_t*>(method)->delivery_tag);
        recycle_amqp_pool(&pool);
    }
    empty_amqp_pool(&pool);
}
void part_header_amqp(benchmark::State& st) {
    const auto pl = parts().header;
    diagnostics diag;
    content_header h;
    for (auto _ : st) {
        if (decode_content_header(pl, h, diag)) st.SkipWithError("header");
        benchmark::DoNotOptimize(h.properties.correlation_id->data());
    }
}
void part_header_rabbitmq_c(benchmark::State& st) {
    const auto pl = c_bytes(parts().header);
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    for (auto _ : st) {
        std::uint64_t body_size = 0;
        amqp_basic_properties_t* props = c_decode_header(pl, &pool, body_size);
        if (props == nullptr) st.SkipWithError("props");
        benchmark::DoNotOptimize(props->correlation_id.bytes);
        benchmark::DoNotOptimize(body_size);
        recycle_amqp_pool(&pool);
    }
    empty_amqp_pool(&pool);
}

// ---- encode basic.publish + header + body -----------------------------------------------------

// basic.publish + header + body through append_message into a growable byte_buffer, what the
// connection's publish calls: encode_publish's encoder after growing the buffer by its bound.
// Informational.
void encode_publish_append_amqp(benchmark::State& st) {
    basic_properties p;
    p.correlation_id = correlation_id;
    p.reply_to = reply_to;
    const method pub = basic_publish{0, "", "rpc_queue", false, false};
    byte_buffer out;
    out.reserve(4096);
    alloc_meter meter;
    for (auto _ : st) {
        out.clear();
        if (append_message(out, 1, pub, p, as_bytes(small_body), 131072)) st.SkipWithError("encode");
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    meter.report(st);
    if (out != deliver_bytes() && out.size() == 0) st.SkipWithError("empty");
    set_rates(st, out.size(), 3);
}

// basic.publish + header + body written into a caller's buffer (encode_publish), as the
// rabbitmq-c side writes into its static one: what the case measures.
void encode_publish_amqp(benchmark::State& st) {
    basic_properties p;
    p.correlation_id = correlation_id;
    p.reply_to = reply_to;
    basic_publish pub{0, "", "rpc_queue", false, false};
    static std::uint8_t buf[4096];
    std::size_t total = 0;
    alloc_meter meter;
    for (auto _ : st) {
        // Opaque to the compiler, as they are to rabbitmq-c's library: encode_publish is
        // inline, and with arguments known at compile time it would fold most of its work.
        benchmark::DoNotOptimize(pub);
        benchmark::DoNotOptimize(p);
        const auto r = encode_publish(buf, 1, pub, p, as_bytes(small_body), 131072);
        if (r.ec) st.SkipWithError("encode");
        total = r.size;
        benchmark::DoNotOptimize(buf);
        benchmark::ClobberMemory();
    }
    meter.report(st);
    set_rates(st, total, 3);
}

inline std::uint8_t* c_put_header(std::uint8_t* p, std::uint8_t type, std::uint16_t ch, std::uint32_t size) {
    p[0] = type;
    p[1] = static_cast<std::uint8_t>(ch >> 8);
    p[2] = static_cast<std::uint8_t>(ch);
    p[3] = static_cast<std::uint8_t>(size >> 24);
    p[4] = static_cast<std::uint8_t>(size >> 16);
    p[5] = static_cast<std::uint8_t>(size >> 8);
    p[6] = static_cast<std::uint8_t>(size);
    return p + 7;
}

// What amqp_basic_publish → amqp_frame_to_bytes does for the three frames, into one buffer.
void encode_publish_rabbitmq_c(benchmark::State& st) {
    static std::uint8_t buf[4096];
    amqp_basic_publish_t pub{};
    pub.exchange = amqp_cstring_bytes("");
    pub.routing_key = amqp_cstring_bytes("rpc_queue");
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG;
    props.correlation_id = amqp_cstring_bytes(correlation_id.c_str());
    props.reply_to = amqp_cstring_bytes(reply_to.c_str());
    std::size_t total = 0;
    for (auto _ : st) {
        std::uint8_t* p = buf;
        // method frame
        std::uint8_t* payload = p + 7;
        payload[0] = 0, payload[1] = 60, payload[2] = 0, payload[3] = 40;
        amqp_bytes_t enc{sizeof buf - 12, payload + 4};
        const int mlen = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &pub, enc);
        if (mlen < 0) st.SkipWithError("method");
        c_put_header(p, AMQP_FRAME_METHOD, 1, static_cast<std::uint32_t>(mlen + 4));
        p = payload + 4 + mlen;
        *p++ = AMQP_FRAME_END;
        // header frame
        payload = p + 7;
        payload[0] = 0, payload[1] = 60, payload[2] = 0, payload[3] = 0;
        const std::uint64_t bs = small_body.size();
        for (int i = 0; i < 8; ++i) payload[4 + i] = static_cast<std::uint8_t>(bs >> (56 - 8 * i));
        amqp_bytes_t penc{static_cast<std::size_t>(buf + sizeof buf - (payload + 12)), payload + 12};
        const int plen = amqp_encode_properties(AMQP_BASIC_CLASS, &props, penc);
        if (plen < 0) st.SkipWithError("props");
        c_put_header(p, AMQP_FRAME_HEADER, 1, static_cast<std::uint32_t>(plen + 12));
        p = payload + 12 + plen;
        *p++ = AMQP_FRAME_END;
        // body frame
        p = c_put_header(p, AMQP_FRAME_BODY, 1, static_cast<std::uint32_t>(small_body.size()));
        std::memcpy(p, small_body.data(), small_body.size());
        p += small_body.size();
        *p++ = AMQP_FRAME_END;
        total = static_cast<std::size_t>(p - buf);
        benchmark::DoNotOptimize(buf);
        benchmark::ClobberMemory();
    }
    set_rates(st, total, 3);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::RegisterBenchmark("decode_deliver/amqp", decode_deliver_amqp);
    benchmark::RegisterBenchmark("decode_deliver/rabbitmq_c", decode_deliver_rabbitmq_c);
    benchmark::RegisterBenchmark("decode_deliver_frames/amqp", decode_deliver_frames_amqp);
    benchmark::RegisterBenchmark("decode_deliver_stream/amqp", decode_deliver_stream_amqp);
    benchmark::RegisterBenchmark("part_frames/amqp", part_frames_amqp);
    benchmark::RegisterBenchmark("part_frames/rabbitmq_c", part_frames_rabbitmq_c);
    benchmark::RegisterBenchmark("part_method/amqp", part_method_amqp);
    benchmark::RegisterBenchmark("part_method/rabbitmq_c", part_method_rabbitmq_c);
    benchmark::RegisterBenchmark("part_header/amqp", part_header_amqp);
    benchmark::RegisterBenchmark("part_header/rabbitmq_c", part_header_rabbitmq_c);
    benchmark::RegisterBenchmark("encode_publish/amqp", encode_publish_amqp);
    benchmark::RegisterBenchmark("encode_publish/rabbitmq_c", encode_publish_rabbitmq_c);
    benchmark::RegisterBenchmark("encode_publish_append/amqp", encode_publish_append_amqp);
    codec_bench::register_table_benchmarks();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
