// The updater's per-bundle cost on one 200-tree, depth-6 pm25/60 model (the
// prediction benchmark's model), after the download:
//   BM_VerifyBundle: VerifyManifest + SHA-256 + size + JSON parse + both
//                    feature-spec checks + ReadModelFile + LoadModel (booster
//                    parse and golden pairs), as ModelUpdater does it;
//   BM_ParseJsonOnly: nlohmann parse of the same bytes (the baseline: the
//                    least any loader must do);
//   BM_InstallAtomic: WriteFileAtomic of the file (write, fsync, rename,
//                    directory fsync) into a temporary directory.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "predict_models.h"
#include "sentinelle/crypto.h"
#include "sentinelle/fetch.h"
#include "sentinelle/json_util.h"
#include "sentinelle/manifest.h"

namespace sentinelle {
namespace {

struct Bundle {
  std::string file;
  Manifest manifest;
  std::string public_key;
};

const Bundle& TheBundle() {
  static const Bundle b = [] {
    Bundle out;
    const auto history = predict::bench::BenchHistory();
    auto req = predict::bench::BenchRequest(Variable::kPm25, 60);
    req.scope = predict::ModelScope::kNetwork;
    req.station.clear();
    req.version = "7";
    auto set = predict::BuildTrainingMatrix(history, req.spec, Variable::kPm25, 60);
    if (!set) throw std::runtime_error(set.message());
    auto file = xgb::TrainXgbModelFile(req, *set, nullptr, predict::bench::BenchParams(), 0, 1,
                                       predict::XgbEncoding::kUbjson);
    if (!file) throw std::runtime_error(file.message());
    out.file = *file;
    auto keys = GenerateEd25519KeyPair();
    if (!keys) throw std::runtime_error(keys.message());
    out.public_key = keys->public_key;
    Manifest& m = out.manifest;
    m.target = "pm25";
    m.horizon_min = 60;
    m.kind = "network";
    m.version = 7;
    m.stage = "production";
    m.created_s = 1767225600;
    m.expires_s = m.created_s + 30 * 86400;
    m.artifact_url = "http://127.0.0.1/api/v1/models/7/artifact";
    m.artifact_sha256 = Sha256Hex(out.file);
    m.artifact_size = static_cast<int64_t>(out.file.size());
    m.feature_spec = req.spec.ToJson();
    if (auto st = SignManifest(m, keys->private_key); !st) throw std::runtime_error(st.message());
    return out;
  }();
  return b;
}

void BM_VerifyBundle(benchmark::State& state) {
  const Bundle& b = TheBundle();
  const std::string encoded = EncodeManifest(b.manifest);
  for (auto _ : state) {
    auto m = DecodeManifest(encoded);
    if (!m || !VerifyManifest(*m, b.public_key)) state.SkipWithError("manifest");
    auto spec = predict::FeatureSpec::FromJson(m->feature_spec);
    if (static_cast<int64_t>(b.file.size()) != m->artifact_size || Sha256Hex(b.file) != m->artifact_sha256) {
      state.SkipWithError("checksum");
    }
    auto raw = ParseJsonLimited(b.file, predict::kMaxModelFileBytes, 64);
    auto file_spec = predict::FeatureSpec::FromJson((*raw)["feature_spec"]);
    if (!spec || !file_spec || !(*spec == *file_spec)) state.SkipWithError("spec");
    auto e = predict::ReadModelFile(b.file);
    if (!e) state.SkipWithError("envelope");
    predict::LoadOptions lo;
    auto loaded = predict::LoadModel(b.file, lo);
    if (!loaded) state.SkipWithError(loaded.message().c_str());
    benchmark::DoNotOptimize(loaded);
  }
  state.counters["file_bytes"] = static_cast<double>(b.file.size());
}
BENCHMARK(BM_VerifyBundle)->Unit(benchmark::kMillisecond);

void BM_ParseJsonOnly(benchmark::State& state) {
  const Bundle& b = TheBundle();
  for (auto _ : state) {
    auto j = nlohmann::json::parse(b.file);
    benchmark::DoNotOptimize(j);
  }
}
BENCHMARK(BM_ParseJsonOnly)->Unit(benchmark::kMillisecond);

void BM_InstallAtomic(benchmark::State& state) {
  const Bundle& b = TheBundle();
  const auto dir = std::filesystem::temp_directory_path() / ("updater-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "pm25_60_network.json").string();
  for (auto _ : state) {
    if (auto st = WriteFileAtomic(path, b.file); !st) state.SkipWithError(st.message().c_str());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_InstallAtomic)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sentinelle

BENCHMARK_MAIN();
