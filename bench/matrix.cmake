# Unit test of the benchmark matrix's callgrind parsing (bench/matrix_callgrind.py, issue 19): the
# component split of instructions per RPC on the benchmark page. Pure Python, no broker.
if(AMQP_BUILD_TESTS AND AMQP_TEST_PYTHON)
  add_test(NAME bench_matrix_callgrind
           COMMAND ${AMQP_TEST_PYTHON} ${PROJECT_SOURCE_DIR}/tests/bench/matrix_callgrind_test.py)
  set_tests_properties(bench_matrix_callgrind PROPERTIES LABELS unit TIMEOUT 60)
endif()
