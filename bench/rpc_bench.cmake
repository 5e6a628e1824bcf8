# rpc_bench: the end-to-end RPC benchmark client on our rpc_client (issue 7), driven by
# bench/run_matrix.sh side by side with the rabbitmq-c and pika peers (bench/peers.cmake).
add_executable(rpc_bench ${CMAKE_CURRENT_SOURCE_DIR}/rpc_bench.cpp)
target_link_libraries(rpc_bench PRIVATE rpc amqp_warnings)

# Smoke run against our rpc_server on the fixture broker: it must complete every call. No timing
# is asserted; the figures belong to run_matrix.sh on a quiet machine.
if(AMQP_BUILD_TESTS AND AMQP_BUILD_EXAMPLES AND TARGET rpc_server AND COMMAND amqp_broker_test)
  add_test(NAME rpc_bench_smoke
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/rpc_bench_smoke.sh $<TARGET_FILE:rpc_server> $<TARGET_FILE:rpc_bench>)
  set_tests_properties(rpc_bench_smoke PROPERTIES LABELS integration TIMEOUT 60)
  amqp_broker_test(rpc_bench_smoke)
endif()

# rpc_echo_server: rpc::rpc_server with an echo handler, the server of the message-size runs.
add_executable(rpc_echo_server ${CMAKE_CURRENT_SOURCE_DIR}/rpc_echo_server.cpp)
target_link_libraries(rpc_echo_server PRIVATE rpc amqp_warnings)
