# bench_trace: what tracing costs the connection state machine per delivery, off (no observer),
# with an empty observer, and on (every frame formatted) (issue 6).
add_executable(amqp_rpc_bench_trace ${CMAKE_CURRENT_SOURCE_DIR}/bench_trace.cpp)
set_target_properties(amqp_rpc_bench_trace PROPERTIES OUTPUT_NAME bench_trace)
target_link_libraries(amqp_rpc_bench_trace PRIVATE amqp_rpc::protocol benchmark::benchmark amqp_rpc_warnings)
