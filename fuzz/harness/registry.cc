#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "harness.h"

namespace sentinelle::fuzz {
namespace {

// Names match the fuzz/ binaries (fuzz_<name>) and fuzz/corpus/<name>/.
constexpr Entry kHarnesses[] = {
    {"sensor_line", SensorLine},
    {"reading_batch", ReadingBatch},
    {"ack", Ack},
    {"status", Status},
    {"command", Command},
    {"prediction_batch", PredictionBatch},
    {"manifest", Manifest},
    {"model_file", ModelFile},
    {"xgb_json", XgbJson},
    {"xgb_ubjson", XgbUbjson},
    {"agent_config", AgentConfig},
    {"collector_config", CollectorConfig},
    {"history_csv", HistoryCsv},
    {"http_request", HttpRequest},
};

}  // namespace

Harness Find(std::string_view name) {
  for (const Entry& e : kHarnesses) {
    if (name == e.name) return e.harness;
  }
  return nullptr;
}

const Entry* begin() { return std::begin(kHarnesses); }
const Entry* end() { return std::end(kHarnesses); }

void Fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace sentinelle::fuzz
