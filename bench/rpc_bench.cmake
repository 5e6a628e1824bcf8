# rpc_bench: the end-to-end RPC benchmark client on our rpc_client (issue 7), driven by
# bench/run_matrix.sh side by side with the rabbitmq-c and pika peers (bench/peers.cmake).
add_executable(amqp_rpc_rpc_bench ${CMAKE_CURRENT_SOURCE_DIR}/rpc_bench.cpp)
set_target_properties(amqp_rpc_rpc_bench PROPERTIES OUTPUT_NAME rpc_bench)
target_link_libraries(amqp_rpc_rpc_bench PRIVATE amqp_rpc_programs_common amqp_rpc_warnings)

# Smoke run against our rpc_server on the fixture broker: it must complete every call. No timing
# is asserted; the figures belong to run_matrix.sh on a quiet machine.
if(AMQP_BUILD_TESTS AND AMQP_BUILD_EXAMPLES AND TARGET amqp_rpc_rpc_server AND COMMAND amqp_broker_test)
  add_test(NAME rpc_bench_smoke
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/rpc_bench_smoke.sh $<TARGET_FILE:amqp_rpc_rpc_server> $<TARGET_FILE:amqp_rpc_rpc_bench>)
  set_tests_properties(rpc_bench_smoke PROPERTIES LABELS integration TIMEOUT 60)
  amqp_broker_test(rpc_bench_smoke)
endif()

# rpc_echo_server: rpc::rpc_server with an echo handler, the server of the message-size runs.
add_executable(amqp_rpc_rpc_echo_server ${CMAKE_CURRENT_SOURCE_DIR}/rpc_echo_server.cpp)
set_target_properties(amqp_rpc_rpc_echo_server PROPERTIES OUTPUT_NAME rpc_echo_server)
target_link_libraries(amqp_rpc_rpc_echo_server PRIVATE amqp_rpc_programs_common amqp_rpc_warnings)
