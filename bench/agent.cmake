# Agent benchmarks (small programs; figures in docs/PERFORMANCE.md, "Agent").
# They start a real Mosquitto and an ack peer from tests/support.
if(TARGET sentinelle_ack_peer)
  add_executable(agent_drain_bench ${CMAKE_CURRENT_SOURCE_DIR}/agent_drain.cc)
  target_link_libraries(agent_drain_bench PRIVATE sentinelle::agent sentinelle_ack_peer
                        sentinelle_warnings)
  add_executable(agent_memory_bench ${CMAKE_CURRENT_SOURCE_DIR}/agent_memory.cc)
  # "tls": the agent reaches the broker over TLS (certificates from
  # scripts/make-dev-certs.sh, via tests/deploy's RunScript).
  target_link_libraries(agent_memory_bench PRIVATE sentinelle::agent sentinelle_ack_peer
                        sentinelle_deploy_test_support sentinelle_warnings)
  target_include_directories(agent_memory_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/deploy)
  add_dependencies(agent_memory_bench sentinelle-agent)
  # The "models" option runs predict_make_models (bench/predict.cmake).
  add_dependencies(agent_memory_bench predict_make_models)
endif()

# sha256_bench: the portable SHA-256 the agent uses for model files against
# OpenSSL's, on a model-sized input.
add_executable(sha256_bench ${CMAKE_CURRENT_SOURCE_DIR}/sha256_bench.cc)
target_link_libraries(sha256_bench PRIVATE sentinelle::shared OpenSSL::Crypto benchmark::benchmark
                      sentinelle_warnings)
