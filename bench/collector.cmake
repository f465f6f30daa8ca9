# Collector benchmarks (small programs; figures in docs/PERFORMANCE.md, "Collector").
#   collector_ingest_bench: MQTT -> committed SQLite throughput and publish->ack
#                           latency with N simulated stations (real Mosquitto
#                           from tests/support, collector in-process).
#   collector_codec_bench:  reading batch decoding, DOM reference vs fast path.
#   collector_query_bench:  one station's last 24 h from a year of history for
#                           100 stations.
if(TARGET sentinelle_test_support)
  add_executable(collector_ingest_bench ${CMAKE_CURRENT_SOURCE_DIR}/collector_ingest.cc)
  target_link_libraries(collector_ingest_bench PRIVATE sentinelle::collector
                        sentinelle_test_support PahoMqttCpp::paho-mqttpp3 sentinelle_warnings)
endif()
add_executable(collector_query_bench ${CMAKE_CURRENT_SOURCE_DIR}/collector_query.cc)
target_link_libraries(collector_query_bench PRIVATE sentinelle::collector sentinelle_warnings)
add_executable(collector_codec_bench ${CMAKE_CURRENT_SOURCE_DIR}/collector_codec.cc)
target_link_libraries(collector_codec_bench PRIVATE sentinelle::shared benchmark::benchmark
                      sentinelle_warnings)
