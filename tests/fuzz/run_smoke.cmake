# Run a libFuzzer binary for a bounded time. The first folder libFuzzer is given receives new
# inputs, so it is a scratch folder in the build tree; the checked-in folders are read only.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/new ${WORK}/artifacts)
set(dirs ${WORK}/new)
foreach(d ${CORPUS} ${REGRESSIONS})
  if(IS_DIRECTORY ${d})
    list(APPEND dirs ${d})
  endif()
endforeach()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=1024 -timeout=10
          -artifact_prefix=${WORK}/artifacts/ -print_final_stats=1 ${dirs}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducer in ${WORK}/artifacts/")
endif()
