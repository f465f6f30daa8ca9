// Resident memory of a process holding the station's prediction state: 8
// models (200 trees, depth 6) in a fallback chain, warmed with a history,
// having predicted. Links sentinelle::shared only (no libxgboost), as the
// agent does.
//   predict_memory DIR   (DIR from predict_make_models)
#include <malloc.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "sentinelle/codec.h"
#include "sentinelle/predict/chain.h"

namespace {

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return -1;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sentinelle;
  using namespace sentinelle::predict;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  auto history = DecodeReadingBatch(Slurp(dir + "/history.json"), "st-1");
  if (!history) {
    std::fprintf(stderr, "history: %s\n", history.message().c_str());
    return 1;
  }
  // The replayed history is the benchmark's input, not station state.
  malloc_trim(0);
  const long before_kb = StatusKb("VmRSS:");
  ChainConfig config;
  config.max_model_age_s = 0;
  FallbackChain chain("st-1", config);
  for (int i = 0; i < 8; ++i) {
    auto r = chain.Install(Slurp(dir + "/model-" + std::to_string(i) + ".json"));
    if (!r) {
      std::fprintf(stderr, "model %d: %s\n", i, r.message().c_str());
      return 1;
    }
  }
  const long loaded_kb = StatusKb("VmRSS:");
  // Parsing a model builds a large temporary JSON tree; glibc keeps the
  // freed pages unless asked. The agent's prediction service trims after
  // each model reload the same way.
  malloc_trim(0);
  const long trimmed_kb = StatusKb("VmRSS:");
  size_t station = 0, total = 0;
  for (const Reading& r : history->readings) {
    for (const auto& p : chain.Observe(r)) {
      station += p.link == LinkKind::kStation;
      ++total;
    }
  }
  std::printf("models=%zu model_bytes=%zu predictions=%zu station_answers=%zu\n", chain.Models().size(),
              chain.ModelMemoryBytes(), total, station);
  malloc_trim(0);
  std::printf("rss_before_kb=%ld rss_after_load_kb=%ld rss_after_trim_kb=%ld rss_kb=%ld hwm_kb=%ld\n", before_kb,
              loaded_kb, trimmed_kb, StatusKb("VmRSS:"), StatusKb("VmHWM:"));
  return 0;
}
