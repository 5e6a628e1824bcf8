# The connection state machine driven past the handshake with arbitrary broker bytes.
amqp_fuzz_target(NAME fuzz_connection SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_connection.cpp LIBS amqp_rpc::protocol)
