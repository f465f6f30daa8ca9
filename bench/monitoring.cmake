# Drift statistics benchmarks (docs/PERFORMANCE.md, "Monitoring: drift statistics").
add_executable(bench_monitoring ${CMAKE_CURRENT_SOURCE_DIR}/monitoring_drift.cc)
target_link_libraries(bench_monitoring PRIVATE sentinelle::shared benchmark::benchmark
                      sentinelle_warnings)
