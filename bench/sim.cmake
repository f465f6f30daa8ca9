# Simulator benchmark (a small program; figures in docs/PERFORMANCE.md,
# "Simulator"): a year of 5-minute history for 5 stations, with baselines.
add_executable(sim_generate_bench ${CMAKE_CURRENT_SOURCE_DIR}/sim_generate.cc)
target_link_libraries(sim_generate_bench PRIVATE sentinelle::sim sentinelle_warnings)
add_dependencies(sim_generate_bench sentinelle-sim)
