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
