# amqp_fuzz_target(NAME fuzz_x SOURCES a.cpp [b.cpp...] LIBS lib... [SECONDS n])
#
# The source defines LLVMFuzzerTestOneInput. Seeds live in tests/fuzz/corpus/<NAME>/, crash
# reproducers in tests/fuzz/regressions/<NAME>/ (both checked in, both optional).
#  - AMQP_FUZZ=ON (fuzz preset: clang, ASan+UBSan): a libFuzzer binary, and the ctest
#    `<NAME>_smoke` (label fuzz) that fuzzes for SECONDS (default 20) starting from both folders.
#    New inputs go to a scratch folder in the build tree, never into the source tree.
#  - AMQP_FUZZ=OFF: the same source linked with replay_main.cpp, and the ctest `<NAME>_replay`
#    (label unit) that runs every seed and regression input once.
# Usable from any CMakeLists.txt under tests/ (for AMQP_TEST_INCLUDE_DIR, the <test_support/...> root):
# include(${PROJECT_SOURCE_DIR}/tests/fuzz/amqp_fuzz.cmake), or
# drop a tests/fuzz/<area>.cmake file, which tests/fuzz/CMakeLists.txt includes.
include_guard(GLOBAL)

set(AMQP_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})

if(AMQP_FUZZ)
  # Coverage feedback needs the code under test instrumented, not just the harness.
  foreach(lib amqp_rpc_protocol amqp_rpc_amqp)
    if(TARGET ${lib})
      get_target_property(_type ${lib} TYPE)
      if(NOT _type STREQUAL "INTERFACE_LIBRARY")
        target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
      endif()
    endif()
  endforeach()
endif()

function(amqp_fuzz_target)
  cmake_parse_arguments(F "" "NAME;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS 20)
  endif()
  set(corpus ${AMQP_FUZZ_DIR}/corpus/${F_NAME})
  set(regressions ${AMQP_FUZZ_DIR}/regressions/${F_NAME})
  set(target amqp_rpc_${F_NAME}) # prefixed like every target of ours; the program keeps NAME
  if(AMQP_FUZZ)
    add_executable(${target} ${F_SOURCES})
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${target} PRIVATE ${F_LIBS} amqp_rpc_warnings)
    target_include_directories(${target} PRIVATE ${AMQP_TEST_INCLUDE_DIR})
    add_test(NAME ${F_NAME}_smoke
             COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:${target}>
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}_work
                     -DCORPUS=${corpus} -DREGRESSIONS=${regressions} -DSECONDS=${F_SECONDS}
                     -P ${AMQP_FUZZ_DIR}/run_smoke.cmake)
    math(EXPR timeout "${F_SECONDS} + 120")
    set_tests_properties(${F_NAME}_smoke PROPERTIES LABELS fuzz TIMEOUT ${timeout})
    amqp_label_targets(fuzz ${target})
  else()
    add_executable(${target} ${F_SOURCES} ${AMQP_FUZZ_DIR}/replay_main.cpp)
    target_link_libraries(${target} PRIVATE ${F_LIBS} amqp_rpc_warnings)
    target_include_directories(${target} PRIVATE ${AMQP_TEST_INCLUDE_DIR})
    add_test(NAME ${F_NAME}_replay COMMAND ${target} ${corpus} ${regressions})
    set_tests_properties(${F_NAME}_replay PROPERTIES LABELS unit TIMEOUT 120)
  endif()
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${F_NAME})
endfunction()
