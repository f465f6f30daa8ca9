# Prediction benchmarks (docs/PERFORMANCE.md, "Prediction on the station").
#   predict_bench: single-row evaluator vs XGBoosterPredictFromDense, full
#                  prediction cycle (features + 8 models through the chain).
#   predict_make_models / predict_memory: writes 8 model files, then measures
#                  the resident memory of a process holding them in a chain
#                  (predict_memory links no libxgboost, like the agent).
add_executable(predict_bench ${CMAKE_CURRENT_SOURCE_DIR}/predict_bench.cc)
target_include_directories(predict_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/predict)
target_link_libraries(predict_bench PRIVATE sentinelle::shared sentinelle::xgboost benchmark::benchmark
                      sentinelle_warnings)

add_executable(predict_make_models ${CMAKE_CURRENT_SOURCE_DIR}/predict_make_models.cc)
target_include_directories(predict_make_models PRIVATE ${PROJECT_SOURCE_DIR}/tests/predict)
target_link_libraries(predict_make_models PRIVATE sentinelle::shared sentinelle::xgboost sentinelle_warnings)

add_executable(predict_memory ${CMAKE_CURRENT_SOURCE_DIR}/predict_memory.cc)
target_include_directories(predict_memory PRIVATE ${PROJECT_SOURCE_DIR}/tests/predict)
target_link_libraries(predict_memory PRIVATE sentinelle::shared sentinelle_warnings)
