# Model updater benchmark (docs/PERFORMANCE.md, "Model updater").
#   updater_verify_bench: what the agent spends on a downloaded bundle
#   (signature, checksum, envelope, feature spec, booster, golden pairs) and
#   on the atomic install, next to a plain JSON parse of the same bytes.
add_executable(updater_verify_bench ${CMAKE_CURRENT_SOURCE_DIR}/updater_verify.cc)
target_include_directories(updater_verify_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/predict)
target_link_libraries(updater_verify_bench PRIVATE sentinelle::shared sentinelle::xgboost
                      benchmark::benchmark sentinelle_warnings)
