# Every benchmark once, in its smallest setting, as a test (label "bench"):
# the figures in docs/PERFORMANCE.md are only as good as the programs that
# produce them, and a benchmark nobody runs breaks unnoticed. These assert
# that each program runs to the end and exits 0 (the agent benchmarks also
# that every window was confirmed and the agent stopped cleanly), never a
# speed: speed targets are read from full runs, not from tests.
if(NOT SENTINELLE_BUILD_TESTS)
  return()
endif()

function(sentinelle_bench_smoke name)
  add_test(NAME bench_smoke.${name} COMMAND ${ARGN} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(bench_smoke.${name} PROPERTIES LABELS bench TIMEOUT 300)
endfunction()

# A temporary directory for benchmarks that write files, removed afterwards.
set(_tmp_run [=[d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && ]=])

if(TARGET agent_drain_bench)
  sentinelle_bench_smoke(agent_drain $<TARGET_FILE:agent_drain_bench> 2000 500 8)
  sentinelle_bench_smoke(agent_memory_plain $<TARGET_FILE:agent_memory_bench> 1 plain)
  sentinelle_bench_smoke(agent_memory_tls $<TARGET_FILE:agent_memory_bench> 1 tls)
endif()
if(TARGET collector_ingest_bench)
  sentinelle_bench_smoke(collector_ingest $<TARGET_FILE:collector_ingest_bench>
                         --stations 50 --connections 5 --batches 4)
endif()
sentinelle_bench_smoke(collector_query /bin/sh -c
  "${_tmp_run} \"$0\" --db \"$d/q.db\" --stations 3 --days 5 --queries 50"
  $<TARGET_FILE:collector_query_bench>)
sentinelle_bench_smoke(predict_memory /bin/sh -c
  "${_tmp_run} \"$0\" \"$d\" && \"$1\" \"$d\""
  $<TARGET_FILE:predict_make_models> $<TARGET_FILE:predict_memory>)
sentinelle_bench_smoke(sim_generate /bin/sh -c "${_tmp_run} \"$0\" 1 \"$d\""
  $<TARGET_FILE:sim_generate_bench>)
foreach(gbench sha256_bench collector_codec_bench bench_monitoring bench_monitoring_hook
               predict_bench updater_verify_bench)
  if(TARGET ${gbench})
    sentinelle_bench_smoke(${gbench} $<TARGET_FILE:${gbench}> --benchmark_min_time=0.01)
  endif()
endforeach()
if(TARGET training_bench)
  # 20 days of 2 stations instead of a year of 5 (about 10 s here).
  sentinelle_bench_smoke(training /bin/sh -c "${_tmp_run} \"$0\" 20 2 \"$d\""
    $<TARGET_FILE:training_bench>)
endif()
