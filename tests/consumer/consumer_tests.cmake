# The consumer tests (issue 17): tests/consumer is a project of someone else's that takes amqp_rpc
# in each supported way, builds its own service's server and client, and makes one call against
# the fixture's broker. Included from tests/CMakeLists.txt (the folder itself is that project).
#   consumer_install       cmake --install into a scratch prefix, find_package(amqp_rpc 0.2 CONFIG);
#                          also every installed header on its own, and a client built from amqp_rpc.pc
#   consumer_build_tree    find_package against this build tree (export())
#   consumer_subdirectory  add_subdirectory(<our source tree>)
#   consumer_fetchcontent  FetchContent with SOURCE_DIR <our source tree> (no network)
#   consumer_all_targets   configure only, our tests/benchmarks/programs on: every target amqp_rpc_*
# Each builds a small project with -j2 (ccache reused when on PATH); one at a time (RESOURCE_LOCK)
# so that they do not starve the other tests. With a warm ccache the five take about a minute;
# cold, subdirectory compiles our ~40 sources once more (their compile commands differ from the
# main build's, so the main build's cache entries do not serve them): minutes on a busy machine. Not under sanitizers or fuzz builds: a consumer
# would have to repeat our instrumentation flags to link our instrumented libraries.
if(AMQP_SANITIZE OR AMQP_FUZZ)
  return()
endif()
foreach(how install build-tree subdirectory fetchcontent)
  string(REPLACE "-" "_" name consumer_${how})
  add_test(NAME ${name}
           COMMAND ${AMQP_TEST_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/run_consumer.py --how ${how}
                   --source ${PROJECT_SOURCE_DIR} --build ${PROJECT_BINARY_DIR}
                   --work ${CMAKE_CURRENT_BINARY_DIR}/consumer/${how} --cxx ${CMAKE_CXX_COMPILER}
                   --build-type "${CMAKE_BUILD_TYPE}")
  amqp_broker_test(${name})
  set_tests_properties(${name} PROPERTIES LABELS "integration;consumer" TIMEOUT 1200 RESOURCE_LOCK amqp_rpc_consumer)
endforeach()
add_test(NAME consumer_all_targets
         COMMAND ${AMQP_TEST_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/run_consumer.py --how all-targets
                 --source ${PROJECT_SOURCE_DIR} --build ${PROJECT_BINARY_DIR}
                 --work ${CMAKE_CURRENT_BINARY_DIR}/consumer/all-targets --cxx ${CMAKE_CXX_COMPILER})
set_tests_properties(consumer_all_targets PROPERTIES LABELS "unit;consumer" TIMEOUT 300)
# fetchcontent compiles our sources with the very commands subdirectory used (same BINARY_DIR, same
# depth below the build tree): after it, ccache serves them all.
set_tests_properties(consumer_fetchcontent PROPERTIES DEPENDS consumer_subdirectory)
