// The connection.start server-properties cases of bench_codec: our table decoders against
// rabbitmq-c's amqp_decode_table on the same bytes.
#include "bench_codec_support.hpp"

#include <amqp/codec/field_table.hpp>

#include <amqp.h>
#include <amqp_framing.h>

#include <benchmark/benchmark.h>

#include <string_view>
#include <vector>

// rabbitmq-c exports this but declares it only in a private header (amqp_table.h).
extern "C" int amqp_decode_table(amqp_bytes_t encoded, amqp_pool_t* pool, amqp_table_t* output, size_t* offset);

namespace codec_bench {
namespace {

// ---- decode connection.start server-properties ------------------------------------------------

// What rabbitmq-c's amqp_decode_table produces: every entry, nested tables included, as
// (name, value) views into the input, in storage reused across iterations (its recycled pool),
// with every byte validated (as decode_method validates connection.start's table).
struct entry_view {
    std::string_view name;
    field_value_view value;
};

void collect_entries(table_view t, std::vector<entry_view>& out) {
    for_each_entry(t, [&](std::string_view name, const field_value_view& v) {
        out.push_back({name, v});
        if (v.tag == 'F') collect_entries(v.as_table(), out);
    });
}

// A server-properties case: `fill` collects every entry of the table into `entries`, reused
// across iterations; it says false when the table does not decode.
template <class Fill>
void server_properties_case(benchmark::State& st, Fill fill) {
    const auto& raw = server_properties_bytes();
    diagnostics diag;
    std::vector<entry_view> entries;
    entries.reserve(64);
    alloc_meter meter;
    for (auto _ : st) {
        entries.clear();
        if (!fill(raw, diag, entries)) st.SkipWithError("decode");
        benchmark::DoNotOptimize(entries.data());
        benchmark::ClobberMemory();
    }
    meter.report(st);
    if (entries.size() != 16) st.SkipWithError("expected 7 + 9 entries");
    set_rates(st, raw.size() + 4, 1);
}

// One pass: walk_table validates every byte and hands over each entry, nested ones included.
void decode_server_properties_amqp(benchmark::State& st) {
    server_properties_case(st, [](const byte_buffer& raw, diagnostics& diag, std::vector<entry_view>& entries) {
        return !walk_table(raw, diag,
                           [&](std::string_view name, const field_value_view& v) { entries.push_back({name, v}); });
    });
}

// Informational: validate_table, then for_each_entry over the now trusted bytes (two walks).
void decode_server_properties_two_pass_amqp(benchmark::State& st) {
    server_properties_case(st, [](const byte_buffer& raw, diagnostics& diag, std::vector<entry_view>& entries) {
        if (validate_table(raw, diag)) return false;
        collect_entries(table_view{raw}, entries);
        return true;
    });
}

// Informational: validate_table alone (what decode_method pays for connection.start's table).
void validate_server_properties_amqp(benchmark::State& st) {
    const auto& raw = server_properties_bytes();
    diagnostics diag;
    for (auto _ : st) {
        auto ec = validate_table(raw, diag);
        benchmark::DoNotOptimize(ec);
    }
    set_rates(st, raw.size() + 4, 1);
}

// Into the owning value model (std::string, std::vector): what a caller pays to keep the
// table. Informational: rabbitmq-c has no owning form.
void decode_server_properties_owned_amqp(benchmark::State& st) {
    const auto& raw = server_properties_bytes();
    field_table t;
    diagnostics diag;
    alloc_meter meter;
    for (auto _ : st) {
        if (decode_table(table_view{raw}, t, diag)) st.SkipWithError("decode");
        benchmark::DoNotOptimize(t.data());
    }
    meter.report(st);
    set_rates(st, raw.size() + 4, 1);
}

void decode_server_properties_rabbitmq_c(benchmark::State& st) {
    const auto& raw = server_properties_bytes();
    byte_buffer with_len(4 + raw.size());
    const auto n = static_cast<std::uint32_t>(raw.size());
    with_len[0] = static_cast<std::uint8_t>(n >> 24);
    with_len[1] = static_cast<std::uint8_t>(n >> 16);
    with_len[2] = static_cast<std::uint8_t>(n >> 8);
    with_len[3] = static_cast<std::uint8_t>(n);
    std::memcpy(with_len.data() + 4, raw.data(), raw.size());
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    for (auto _ : st) {
        amqp_table_t table;
        std::size_t offset = 0;
        if (amqp_decode_table(amqp_bytes_t{with_len.size(), with_len.data()}, &pool, &table, &offset) !=
            AMQP_STATUS_OK)
            st.SkipWithError("decode");
        benchmark::DoNotOptimize(table.entries);
        recycle_amqp_pool(&pool);
    }
    empty_amqp_pool(&pool);
    set_rates(st, with_len.size(), 1);
}

}  // namespace

void register_table_benchmarks() {
    benchmark::RegisterBenchmark("decode_server_properties/amqp", decode_server_properties_amqp);
    benchmark::RegisterBenchmark("decode_server_properties/rabbitmq_c", decode_server_properties_rabbitmq_c);
    benchmark::RegisterBenchmark("decode_server_properties_two_pass/amqp", decode_server_properties_two_pass_amqp);
    benchmark::RegisterBenchmark("decode_server_properties_owned/amqp", decode_server_properties_owned_amqp);
    benchmark::RegisterBenchmark("validate_server_properties/amqp", validate_server_properties_amqp);
}

}  // namespace codec_bench
