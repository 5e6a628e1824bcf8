# Unit tests of the benchmark matrix's own code (issue 19), pure Python, no broker: the callgrind
# parsing behind the page's instructions by component (bench/matrix_callgrind.py), and the page's
# generated "what bounds each target not met" from a made-up run (matrix_report.py, matrix_bounds.py).
if(AMQP_BUILD_TESTS AND AMQP_TEST_PYTHON)
  foreach(t callgrind page)
    add_test(NAME bench_matrix_${t}
             COMMAND ${AMQP_TEST_PYTHON} ${PROJECT_SOURCE_DIR}/tests/bench/matrix_${t}_test.py)
    set_tests_properties(bench_matrix_${t} PROPERTIES LABELS unit TIMEOUT 60)
  endforeach()
endif()
