# Training benchmarks (a program that prints tables; figures in
# docs/PERFORMANCE.md, "Training").
#   training_bench: a year of 5-minute history for 5 simulated stations in a
#                   real store; one network model's training time (nthread 2
#                   vs 1 in the same run), the full default retrain, and the
#                   60-minute models' skill against seasonal persistence.
#                   Phase profile first: history read, features, persistence, boosting.
add_executable(training_bench ${CMAKE_CURRENT_SOURCE_DIR}/training_bench.cc)
target_link_libraries(training_bench PRIVATE sentinelle::collector sentinelle::xgboost sentinelle::sim
                      sentinelle_warnings)
