// Ingest-time cost of the collector's monitoring hook (Monitor::OnCommitted):
// per reading, the drift windows of the station's features, the join with
// the prediction made an hour earlier, the duplicate check; against the
// SQLite commit of the same batch, measured in the same run.
//
//   bench_monitoring_hook [google-benchmark flags]
//       BM_MonitorHook/100     100 stations, one reading and one prediction each per batch
//       BM_StoreCommit/100     the same batches committed to SQLite (WAL, NORMAL)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <unistd.h>
#include <random>
#include <string>
#include <vector>

#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/monitor/histogram.h"

namespace sentinelle::collector {
namespace {

constexpr int64_t kT0 = 1786838400;  // 2026-08-16T00:00:00Z
constexpr int64_t kStep = 300;

Reading Make(const std::string& station, int64_t t, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0, 1);
  const double hour = static_cast<double>((t % 86400) / 3600);
  Reading r;
  r.station_id = station;
  r.window_end_s = t;
  r.interval_s = 300;
  r.seq = 1 + (t - kT0) / kStep;
  r.boot_id = "b";
  r.time = TimeQuality{true, "ntp"};
  const double base[kVariableCount] = {27, 80, 1012, 2.5, 215, 0, 25, 50, 30, 40, 5, 0.5};
  for (int v = 0; v < kVariableCount; ++v) {
    r.values[v] = std::max(0.0, base[v] * (1 + 0.2 * std::sin(hour / 4) + 0.1 * n(rng)));
    r.qc[v] = QcFlag::kOk;
  }
  return r;
}

// What a model's reference carries: the twelve inputs (pollutants as lag 0).
monitor::ReferenceSet Reference() {
  std::vector<std::string> names;
  for (int v = 0; v < kVariableCount; ++v) {
    const std::string n(Name(static_cast<Variable>(v)));
    names.push_back(IsPollutant(static_cast<Variable>(v)) ? n + "_lag0" : n);
  }
  monitor::ReferenceBuilder b(names);
  std::mt19937_64 rng(3);
  std::vector<double> row(kVariableCount);
  for (int64_t t = kT0 - 28 * 86400; t < kT0; t += kStep) {
    const Reading r = Make("ref", t, rng);
    for (int v = 0; v < kVariableCount; ++v) row[v] = r.values[v];
    b.AddRow(t, row);
  }
  return *b.Build();
}

struct Setup {
  std::string dir;
  std::unique_ptr<SqliteHistoryStore> store;
  std::unique_ptr<Monitor> monitor;
  std::vector<std::string> stations;
  Setup(int n, bool with_monitor) {
    dir = std::filesystem::temp_directory_path() /
          ("bench-monitor-" + std::to_string(::getpid()) + (with_monitor ? "-m" : "-s"));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    SqliteStoreOptions o;
    o.path = dir + "/collector.db";
    auto opened = SqliteHistoryStore::Open(o);
    store = std::move(*opened);
    for (int i = 0; i < n; ++i) stations.push_back("st-" + std::to_string(i));
    if (with_monitor) {
      MonitorDeps deps;
      deps.store = store.get();
      auto m = Monitor::Open(MonitoringConfig{}, o.path, deps);
      monitor = std::move(*m);
      monitor->TEST_SetReference(Reference(), {{Variable::kPm25, 60}});
    }
  }
  ~Setup() {
    monitor.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
  WriteBatch Batch(int64_t t, std::mt19937_64& rng) const {
    WriteBatch b;
    for (const auto& s : stations) {
      StoredReading sr;
      sr.reading = Make(s, t, rng);
      sr.arrival_ms = t * 1000;
      b.readings.push_back(std::move(sr));
      PredictionRecord p;
      p.station_id = s;
      p.issued_s = t;
      p.target = "pm25";
      p.horizon_min = 60;
      p.value = 30;
      p.model_kind = "station";
      p.model_version = "3";
      b.predictions.push_back(std::move(p));
    }
    return b;
  }
};

void BM_MonitorHook(benchmark::State& state) {
  Setup s(static_cast<int>(state.range(0)), true);
  std::mt19937_64 rng(1);
  int64_t t = kT0;
  // Batches are made outside the timed region.
  std::vector<WriteBatch> batches;
  for (int i = 0; i < 2016; ++i) batches.push_back(s.Batch(t + i * kStep, rng));
  size_t i = 0;
  for (auto _ : state) {
    s.monitor->OnCommitted(batches[i % batches.size()]);
    ++i;
    if (i % batches.size() == 0) {
      state.PauseTiming();
      t += static_cast<int64_t>(batches.size()) * kStep;
      for (size_t k = 0; k < batches.size(); ++k) batches[k] = s.Batch(t + k * kStep, rng);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i) * state.range(0));
  state.counters["pairs_joined"] = static_cast<double>(s.monitor->counters().pairs_joined);
}
BENCHMARK(BM_MonitorHook)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_StoreCommit(benchmark::State& state) {
  Setup s(static_cast<int>(state.range(0)), false);
  std::mt19937_64 rng(1);
  int64_t t = kT0;
  for (auto _ : state) {
    state.PauseTiming();
    const WriteBatch b = s.Batch(t, rng);
    t += kStep;
    state.ResumeTiming();
    benchmark::DoNotOptimize(s.store->Commit(b));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_StoreCommit)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sentinelle::collector

BENCHMARK_MAIN();
