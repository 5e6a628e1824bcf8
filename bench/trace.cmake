# bench_trace: what tracing costs the connection state machine per delivery, off (no observer),
# with an empty observer, and on (every frame formatted) (issue 6).
add_executable(bench_trace ${CMAKE_CURRENT_SOURCE_DIR}/bench_trace.cpp)
target_link_libraries(bench_trace PRIVATE amqp_core benchmark::benchmark amqp_warnings)
