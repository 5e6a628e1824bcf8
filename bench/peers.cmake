# Benchmark peers (issue 7): a Fibonacci RPC client and server on rabbitmq-c, built when
# librabbitmq is found. The pika peers (bench/peers/pika_rpc_*.py) need no build.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(RABBITMQ_C IMPORTED_TARGET librabbitmq)
endif()
include(CheckLanguage)
check_language(C)
if(NOT RABBITMQ_C_FOUND)
  message(STATUS "librabbitmq not found: rabbitmq-c bench peers skipped (apt-get install librabbitmq-dev)")
elseif(NOT CMAKE_C_COMPILER)
  message(STATUS "no C compiler: rabbitmq-c bench peers skipped")
else()
  # The peers are C like the library they exercise; only this directory needs the language.
  enable_language(C)
  foreach(peer rmqc_rpc_server rmqc_rpc_client)
    add_executable(amqp_rpc_${peer} ${CMAKE_CURRENT_SOURCE_DIR}/peers/${peer}.c)
    set_target_properties(amqp_rpc_${peer} PROPERTIES OUTPUT_NAME ${peer}
                          C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
    target_compile_options(amqp_rpc_${peer} PRIVATE -Wall -Wextra -Wpedantic $<$<BOOL:${AMQP_WERROR}>:-Werror>)
    target_link_libraries(amqp_rpc_${peer} PRIVATE PkgConfig::RABBITMQ_C)
  endforeach()
endif()

# The Go peer (amqp091-go from Debian, built offline by bench/peers/go/build.sh), built with the
# tree when Debian's Go toolchain and the library are installed (scripts/deps.sh installs both).
find_program(AMQP_GO go)
set(_amqp091_src /usr/share/gocode/src/github.com/rabbitmq/amqp091-go)
if(AMQP_GO AND EXISTS ${_amqp091_src})
  file(GLOB _go_peer_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/peers/go/*)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/amqp091_rpc
                     COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/peers/go/build.sh ${CMAKE_CURRENT_BINARY_DIR}/amqp091_rpc
                     DEPENDS ${_go_peer_sources}
                     COMMENT "Building the Go benchmark peer (amqp091-go)" VERBATIM)
  add_custom_target(amqp_rpc_amqp091_rpc ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/amqp091_rpc)
else()
  message(STATUS "go or golang-github-rabbitmq-amqp091-go-dev missing: Go bench peer skipped")
endif()

# Smoke test of each peer (tests/interop/peers_smoke_test.py, issue 19): a few calls each way, so
# that a broken peer is caught before a benchmark run. Registered here, where rpc_bench and the
# peers are defined; skipped (77) where a peer's toolchain is not installed.
if(AMQP_BUILD_TESTS AND AMQP_BUILD_EXAMPLES AND TARGET amqp_rpc_rpc_server AND COMMAND amqp_broker_test)
  foreach(peer rabbitmq-c pika go node aio-pika)
    add_test(NAME peers_smoke_${peer}
             COMMAND ${AMQP_TEST_PYTHON} ${PROJECT_SOURCE_DIR}/tests/interop/peers_smoke_test.py
                     --build ${CMAKE_BINARY_DIR} --peer ${peer})
    set_tests_properties(peers_smoke_${peer} PROPERTIES LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77)
    amqp_broker_test(peers_smoke_${peer})
  endforeach()
  set(_peer_targets amqp_rpc_rpc_server amqp_rpc_rpc_bench amqp_rpc_rpc_echo_server)
  foreach(t amqp_rpc_rmqc_rpc_server amqp_rpc_rmqc_rpc_client amqp_rpc_amqp091_rpc)
    if(TARGET ${t})
      list(APPEND _peer_targets ${t})
    endif()
  endforeach()
  amqp_label_targets(interop ${_peer_targets})
endif()
