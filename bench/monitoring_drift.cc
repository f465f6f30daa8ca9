// Drift statistics from window summaries: 40 features, 10,000-row windows.
//
//   bench_monitoring [google-benchmark flags]
//       BM_DriftOneStation      40 features x 10,000 rows vs reference (target < 5 ms)
//       BM_DriftNetwork/1000    the same for 1,000 stations in one pass (target < 2 s)
//       BM_IngestRow            adding one 40-value row to a station's windows
//       BM_RebuildFromRaw       baseline: histogramming the raw 10,000 rows again
//       BM_ClassifyNetwork/1000/N one feature's sensor/regional verdicts for 1,000
//                               stations, with (N=1) a year of null windows each
//                               (seasonal baselines, relative bounds) or without
//                               (N=0); x features per network pass
//   bench_monitoring --write-data=DIR
//       writes the same data set (reference rows, window rows, reference JSON)
//       and the C++ statistics for bench/drift_baseline.py to compare with
//       scipy.stats.ks_2samp and a numpy PSI.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "sentinelle/monitor/classify.h"
#include "sentinelle/monitor/drift.h"

namespace sentinelle::monitor {
namespace {

constexpr int kFeatures = 40;
constexpr int kWindowRows = 10000;
constexpr int kReferenceRows = 8064;  // 28 days of 5-minute rows
constexpr int64_t kStep = 300;
constexpr int64_t kReferenceStart = 1767571200;  // 2026-01-05T00:00:00Z
constexpr int64_t kWindowStart = kReferenceStart + kReferenceRows * kStep;
constexpr int64_t kWindowEnd = kWindowStart + kWindowRows * kStep;
// 10,000 rows of 5 minutes = 34.7 days: 35 daily buckets.
constexpr WindowOptions kWindow{86400, 35};

// Feature k's value at ts: four shapes with a daily cycle; every fifth
// feature drifts in the window (scaled by 1.3).
double Value(int k, int64_t ts, bool window, std::mt19937_64& rng) {
  static constexpr double kBandFactor[kBandCount] = {1.4, 1.2, 0.7, 1.1};
  const double f = kBandFactor[static_cast<int>(BandOf(ts))];
  const double drift = window && k % 5 == 0 ? 1.3 : 1.0;
  std::normal_distribution<double> n(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  double v = 0;
  switch (k % 4) {
    case 0: v = 20 + k + 5 * f + 3 * n(rng); break;                 // temperature-like
    case 1: v = std::exp(std::log(10.0 + k) * f / 1.1 + 0.5 * n(rng)); break;  // pollutant-like
    case 2: v = 360 * u(rng); break;                                  // direction-like
    case 3: v = u(rng) < 0.8 ? 0.0 : 5 * f * -std::log(1 - u(rng)); break;    // rain-like
  }
  return v * drift;
}

struct DataSet {
  std::vector<double> reference_rows;  // kReferenceRows x kFeatures
  std::vector<double> window_rows;     // kWindowRows x kFeatures
  std::shared_ptr<const ReferenceSet> reference;
};

const DataSet& Data() {
  static const DataSet* data = [] {
    auto* d = new DataSet;
    std::mt19937_64 rng(20261122);
    std::vector<std::string> names;
    for (int k = 0; k < kFeatures; ++k) names.push_back("f" + std::to_string(k));
    ReferenceBuilder builder(names, ReferenceOptions{20});
    for (int r = 0; r < kReferenceRows; ++r) {
      const int64_t ts = kReferenceStart + (r + 1) * kStep;
      for (int k = 0; k < kFeatures; ++k) d->reference_rows.push_back(Value(k, ts, false, rng));
      builder.AddRow(ts, {d->reference_rows.data() + r * kFeatures, kFeatures});
    }
    for (int r = 0; r < kWindowRows; ++r) {
      const int64_t ts = kWindowStart + (r + 1) * kStep;
      for (int k = 0; k < kFeatures; ++k) d->window_rows.push_back(Value(k, ts, true, rng));
    }
    d->reference = std::make_shared<const ReferenceSet>(builder.Build().value());
    return d;
  }();
  return *data;
}

StationDriftWindow FilledWindow(const std::string& id) {
  const DataSet& d = Data();
  StationDriftWindow w(id, d.reference, kWindow);
  for (int r = 0; r < kWindowRows; ++r) {
    w.AddRow(kWindowStart + (r + 1) * kStep, {d.window_rows.data() + r * kFeatures, kFeatures});
  }
  return w;
}

void BM_DriftOneStation(benchmark::State& state) {
  StationDriftWindow w = FilledWindow("abj-plateau");
  const DriftConfig config;
  int drifting = 0;
  for (auto _ : state) {
    auto r = w.Evaluate(kWindowEnd, config);
    drifting = 0;
    for (const auto& f : r) drifting += f.status == DriftStatus::kDrift;
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["features"] = kFeatures;
  state.counters["rows"] = static_cast<double>(w.window(0).Total());
  state.counters["drifting"] = drifting;
  state.counters["window_bytes"] = static_cast<double>(w.MemoryBytes());
}
BENCHMARK(BM_DriftOneStation)->Unit(benchmark::kMicrosecond);

void BM_DriftNetwork(benchmark::State& state) {
  const int stations = static_cast<int>(state.range(0));
  // Eight distinct filled windows, copied round robin: each station has its
  // own memory, so the pass walks `stations` separate summaries.
  std::vector<StationDriftWindow> templates;
  for (int i = 0; i < 8; ++i) templates.push_back(FilledWindow("t" + std::to_string(i)));
  std::vector<StationDriftWindow> network;
  network.reserve(stations);
  for (int i = 0; i < stations; ++i) network.push_back(templates[i % 8]);
  templates.clear();
  const DriftConfig config;
  size_t results = 0;
  for (auto _ : state) {
    results = 0;
    for (auto& w : network) {
      auto r = w.Evaluate(kWindowEnd, config);
      results += r.size();
      benchmark::DoNotOptimize(r.data());
    }
  }
  state.counters["stations"] = stations;
  state.counters["feature_results"] = static_cast<double>(results);
  state.counters["bytes_per_station"] = static_cast<double>(network[0].MemoryBytes());
}
BENCHMARK(BM_DriftNetwork)->Arg(1000)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_IngestRow(benchmark::State& state) {
  const DataSet& d = Data();
  StationDriftWindow w("abj-plateau", d.reference, kWindow);
  int r = 0;
  int64_t ts = kWindowStart;
  for (auto _ : state) {
    ts += kStep;
    w.AddRow(ts, {d.window_rows.data() + r * kFeatures, kFeatures});
    r = (r + 1) % kWindowRows;
  }
  state.counters["values_per_row"] = kFeatures;
}
BENCHMARK(BM_IngestRow);

// What the summaries avoid: histogramming the raw window again for every
// evaluation (the rows must be kept for that, 3.2 MB per station here).
void BM_RebuildFromRaw(benchmark::State& state) {
  for (auto _ : state) {
    StationDriftWindow w = FilledWindow("abj-plateau");
    auto r = w.Evaluate(kWindowEnd, DriftConfig{});
    benchmark::DoNotOptimize(r.data());
  }
}
BENCHMARK(BM_RebuildFromRaw)->Unit(benchmark::kMillisecond);

// 1,000 stations scattered over a 40 km square (about 4 neighbours within
// reach each), every one with 365 daily null windows of one feature.
void BM_ClassifyNetwork(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> where(0.0, 0.36), noise(-0.1, 0.1);
  std::vector<NullSample> nulls(n);
  std::vector<StationDrift> stations(n);
  const int64_t now = kWindowEnd;
  for (int i = 0; i < n; ++i) {
    for (int d = 380; d >= 15; --d) {
      nulls[i].at.push_back(now - d * 86400 - 1);
      nulls[i].shift.push_back(noise(rng));
    }
    StationDrift& s = stations[i];
    s.station_id = "s" + std::to_string(i);
    s.lat = 5.2 + where(rng);
    s.lon = -4.2 + where(rng);
    s.evaluated = true;
    s.drifting = i % 97 == 0;
    s.figures.shift = s.drifting ? 1.5 : noise(rng);
    s.null = state.range(1) ? &nulls[i] : nullptr;
  }
  ClassifierConfig config;
  for (auto _ : state) {
    auto v = ClassifyDrift(stations, config, now);
    benchmark::DoNotOptimize(v.stations.data());
  }
}
BENCHMARK(BM_ClassifyNetwork)->Args({1000, 0})->Args({1000, 1})->Unit(benchmark::kMillisecond);

int WriteData(const std::string& dir) {
  const DataSet& d = Data();
  auto write = [&](const std::string& name, const void* p, size_t bytes) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(bytes));
    return static_cast<bool>(out);
  };
  std::vector<int64_t> ref_ts, win_ts;
  for (int r = 0; r < kReferenceRows; ++r) ref_ts.push_back(kReferenceStart + (r + 1) * kStep);
  for (int r = 0; r < kWindowRows; ++r) win_ts.push_back(kWindowStart + (r + 1) * kStep);
  bool ok = write("reference.f64", d.reference_rows.data(), d.reference_rows.size() * 8) &&
            write("window.f64", d.window_rows.data(), d.window_rows.size() * 8) &&
            write("reference_ts.i64", ref_ts.data(), ref_ts.size() * 8) &&
            write("window_ts.i64", win_ts.data(), win_ts.size() * 8);
  const std::string ref_json = d.reference->Encode();
  ok = ok && write("reference.json", ref_json.data(), ref_json.size());

  // The C++ figures, global (as numpy/scipy compute them) and context-aware,
  // and the time of one 40-feature evaluation from the summaries.
  StationDriftWindow w = FilledWindow("abj-plateau");
  DriftConfig global;
  global.context_aware = false;
  const auto g = w.Evaluate(kWindowEnd, global);
  const auto a = w.Evaluate(kWindowEnd, DriftConfig{});
  constexpr int kRepeats = 200;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRepeats; ++i) benchmark::DoNotOptimize(w.Evaluate(kWindowEnd, global));
  const double eval_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
      kRepeats;
  nlohmann::json out = {{"features", kFeatures},
                        {"window_rows", kWindowRows},
                        {"reference_rows", kReferenceRows},
                        {"psi_epsilon", kPsiEpsilon},
                        {"evaluate_40_features_ms", eval_ms},
                        {"global", nlohmann::json::array()},
                        {"context_aware", nlohmann::json::array()}};
  for (const auto& f : g) {
    out["global"].push_back({{"feature", f.feature}, {"psi", f.psi}, {"ks", f.ks},
                             {"js", f.js}, {"wasserstein", f.wasserstein},
                             {"status", DriftStatusName(f.status)}});
  }
  for (const auto& f : a) {
    out["context_aware"].push_back({{"feature", f.feature}, {"psi", f.psi}, {"ks", f.ks},
                                    {"status", DriftStatusName(f.status)}});
  }
  const std::string stats = out.dump(1);
  ok = ok && write("cpp_stats.json", stats.data(), stats.size());
  if (!ok) {
    std::fprintf(stderr, "cannot write to %s\n", dir.c_str());
    return 1;
  }
  std::printf("wrote %s (evaluation of %d features from summaries: %.4f ms)\n", dir.c_str(),
              kFeatures, eval_ms);
  return 0;
}

}  // namespace
}  // namespace sentinelle::monitor

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--write-data=", 13) == 0) {
      return sentinelle::monitor::WriteData(argv[i] + 13);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
