// Writes the 8 benchmark model files (200 trees, depth 6) and the station
// history into a directory, for predict_memory.
//   predict_make_models DIR
#include <cstdio>
#include <fstream>

#include "predict_models.h"
#include "sentinelle/codec.h"

int main(int argc, char** argv) {
  using namespace sentinelle;
  using namespace sentinelle::predict;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto history = bench::BenchHistory();
  const auto files = bench::TrainBenchModels(history);
  for (size_t i = 0; i < files.size(); ++i) {
    std::ofstream(dir + "/model-" + std::to_string(i) + ".json", std::ios::binary) << files[i];
  }
  ReadingBatch batch{"st-1", DeliveryKind::kReplay, {}};
  batch.readings.assign(history.begin(), history.begin() + 1000);
  std::ofstream(dir + "/history.json", std::ios::binary) << EncodeReadingBatch(batch);
  std::printf("wrote %zu models to %s\n", files.size(), dir.c_str());
  return 0;
}
