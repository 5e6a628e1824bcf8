// What bench_codec's files share: the allocation meter (counted by bench_codec.cpp's global
// operator new), the rates a case reports, and RabbitMQ's connection.start server-properties bytes.
#pragma once

#include <amqp/codec/field_table.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace codec_bench {

using namespace amqp;

/// Allocations so far (every operator new of the process).
extern std::atomic<std::size_t> g_allocs;

// Counts allocations made while a benchmark's timed loop runs.
class alloc_meter {
public:
    alloc_meter() : start_(g_allocs.load(std::memory_order_relaxed)) {}
    void report(benchmark::State& st) const {
        const auto n = g_allocs.load(std::memory_order_relaxed) - start_;
        st.counters["allocs/iter"] =
            benchmark::Counter(static_cast<double>(n) / static_cast<double>(st.iterations()));
    }

private:
    std::size_t start_;
};

inline void set_rates(benchmark::State& st, std::size_t bytes, std::size_t frames) {
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bytes));
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * frames));  // items = frames
}

// RabbitMQ 3.10's connection.start server-properties, as it sends them.
inline const byte_buffer& server_properties_bytes() {
    static const byte_buffer b = [] {
        const field_table caps{{"publisher_confirms", true},         {"exchange_exchange_bindings", true},
                               {"basic.nack", true},                 {"consumer_cancel_notify", true},
                               {"connection.blocked", true},         {"consumer_priorities", true},
                               {"authentication_failure_close", true}, {"per_consumer_qos", true},
                               {"direct_reply_to", true}};
        const field_table t{{"capabilities", caps},
                            {"cluster_name", "rabbit@bench-host"},
                            {"copyright", "Copyright (c) 2007-2022 VMware, Inc. or its affiliates."},
                            {"information", "Licensed under the MPL 2.0. Website: https://rabbitmq.com"},
                            {"platform", "Erlang/OTP 25.2.3"},
                            {"product", "RabbitMQ"},
                            {"version", "3.10.8"}};
        byte_buffer out;
        if (encode_table(t, out)) std::abort();
        return out;
    }();
    return b;
}

/// Registers the server-properties cases (bench_codec_tables.cpp).
void register_table_benchmarks();

}  // namespace codec_bench
