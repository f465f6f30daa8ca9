# Drift statistics benchmarks (docs/PERFORMANCE.md, "Monitoring: drift statistics").
add_executable(bench_monitoring ${CMAKE_CURRENT_SOURCE_DIR}/monitoring_drift.cc)
target_link_libraries(bench_monitoring PRIVATE sentinelle::shared benchmark::benchmark
                      sentinelle_warnings)

# Ingest-time cost of the collector's monitoring hook (docs/PERFORMANCE.md,
# "Monitoring: ingest hook").
add_executable(bench_monitoring_hook ${CMAKE_CURRENT_SOURCE_DIR}/monitoring_hook.cc)
target_link_libraries(bench_monitoring_hook PRIVATE sentinelle::collector benchmark::benchmark
                      sentinelle_warnings)
