// Training on the collector, measured on simulator data (docs/PERFORMANCE.md,
// "Training"):
//   1. one target/horizon network model (pm25, 60 min) on a year of 5-minute
//      history for 5 stations (~525,000 rows) with the default settings,
//      and with the previous defaults (max_bin 256, eta 0.1, nthread 2) as
//      the baseline in the same run;
//   2. a full retrain of the default targets and horizons (network and
//      station models, linear fallbacks), wall and CPU time;
//   3. skill of every model against seasonal persistence on the validation
//      window (the comparison is persistence itself), 60 and 5 minutes.
// Before 1, a phase profile of one network model: reading the history,
// computing the features, seasonal persistence, building the DMatrix and
// boosting, each timed on its own. The load average is printed at the start
// and the end (the machine may be shared).
//
//   build/bin/training_bench [days=365] [stations=5] [dir=/tmp]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include "sentinelle/collector/import.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/predict/features.h"
#include "sentinelle/xgboost/xgb_booster.h"
#include "sentinelle/sim/engine.h"
#include "sentinelle/sim/scenario.h"

using namespace sentinelle;
using namespace sentinelle::collector;

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// User + system CPU seconds of this process so far.
double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void PrintLoad(const char* when) {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) == 3) {
    std::printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
  }
}

// The defaults before the 2026-12-01 tuning (one model at a time, 2 OpenMP
// threads each, eta 0.1), the same-run baseline.
TrainingConfig PreviousDefaults() {
  TrainingConfig c;
  c.xgb.eta = 0.1;
  c.xgb.nthread = 2;
  c.parallel_models = 1;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const int days = argc > 1 ? std::atoi(argv[1]) : 365;
  const int stations = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string base = argc > 3 ? argv[3] : "/tmp";
  const std::string dir = base + "/sentinelle-training-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // tables appear as they are measured
  PrintLoad("at start");

  // History: the simulator's default network, imported like any CSV.
  auto t0 = std::chrono::steady_clock::now();
  sim::Scenario scenario;
  scenario.duration_s = int64_t{days} * 86400;
  scenario.stations = sim::DefaultNetwork(stations);
  sim::GenerateOptions go;
  go.out_path = dir + "/history.csv";
  auto gen = sim::Generate(scenario, go);
  if (!gen) {
    std::fprintf(stderr, "generate: %s\n", gen.message().c_str());
    return 1;
  }
  SqliteStoreOptions so;
  so.path = dir + "/collector.db";
  auto store = SqliteHistoryStore::Open(so);
  if (!store) return 1;
  auto imported = ImportHistoryCsv(**store, CsvFileSource(go.out_path), {}, 0);
  if (!imported) {
    std::fprintf(stderr, "import: %s\n", imported.message().c_str());
    return 1;
  }
  std::printf("history: %lld rows, %d stations, %d days (generated + imported in %.1f s)\n\n",
              static_cast<long long>(imported->inserted), stations, days, Seconds(t0));

  FakeEnv env;
  // 0. Where the time of one network model goes (pm25, 60 min).
  {
    std::printf("## phases of one network model (pm25, 60 min)\n");
    auto listed = (*store)->ListStations();
    if (!listed) return 1;
    auto t = std::chrono::steady_clock::now();
    std::vector<std::vector<Reading>> histories;
    for (const auto& rec : *listed) {
      auto rows = (*store)->QueryReadings(rec.info.id, TimeRange{}, INT64_MAX);
      if (!rows) return 1;
      std::vector<Reading> h;
      for (auto& sr : *rows) h.push_back(std::move(sr.reading));
      histories.push_back(std::move(h));
    }
    std::printf("read history          %7.2f s\n", Seconds(t));
    const auto spec = predict::FeatureSpec::ForTargets(TrainingConfig{}.targets, 300);
    t = std::chrono::steady_clock::now();
    predict::TrainingSet all;
    for (const auto& h : histories) {
      auto set = predict::BuildTrainingMatrix(h, spec, Variable::kPm25, 60);
      if (!set) return 1;
      for (size_t i = 0; i < set->X.rows; ++i) all.X.AppendRow(set->X.row(i), set->X.cols);
      all.y.insert(all.y.end(), set->y.begin(), set->y.end());
    }
    std::printf("features (%zu x %zu)  %7.2f s\n", all.X.rows, all.X.cols, Seconds(t));
    t = std::chrono::steady_clock::now();
    size_t forecasts = 0;
    for (const auto& h : histories) forecasts += PersistenceForecasts(h, Variable::kPm25, 60).size();
    std::printf("persistence (%zu)     %7.2f s\n", forecasts, Seconds(t));
    // Boosting alone on the same rows (the last fifth of the rows, i.e. the
    // last station's, as the early-stopping set: a timing, not a skill figure).
    const size_t cut = all.X.rows * 4 / 5;
    predict::DenseMatrix Xt(0, all.X.cols), Xv(0, all.X.cols);
    for (size_t i = 0; i < all.X.rows; ++i) (i < cut ? Xt : Xv).AppendRow(all.X.row(i), all.X.cols);
    std::vector<float> yt(all.y.begin(), all.y.begin() + static_cast<ptrdiff_t>(cut));
    std::vector<float> yv(all.y.begin() + static_cast<ptrdiff_t>(cut), all.y.end());
    TrainingConfig coarse;  // the defaults with 64 bins (faster, see the 5-minute skill)
    coarse.xgb.max_bin = 64;
    for (const TrainingConfig& c : {PreviousDefaults(), TrainingConfig{}, coarse}) {
      xgb::TrainParams p;
      p.max_depth = c.xgb.max_depth;
      p.eta = c.xgb.eta;
      p.num_rounds = c.xgb.num_rounds;
      p.nthread = c.xgb.nthread;
      p.max_bin = c.xgb.max_bin;
      t = std::chrono::steady_clock::now();
      const double cpu = CpuSeconds();
      auto b = xgb::TrainXgb(p, Xt, yt, &Xv, &yv, c.xgb.early_stopping_rounds, 42,
                             predict::XgbEncoding::kUbjson);
      if (!b) return 1;
      std::printf("boosting max_bin %-3d eta %.1f nthread %d %7.2f s (cpu %.1f s, %d rounds kept)\n",
                  p.max_bin, p.eta, p.nthread, Seconds(t), CpuSeconds() - cpu, b->rounds);
    }
    std::printf("\n");
  }
  // 1. One network model.
  std::printf("## one network model: pm25, 60 min (xgboost only, no linear)\n");
  std::printf("%-34s %8s %8s %10s %8s %8s %10s\n", "settings", "seconds", "cpu_s", "train_rows",
              "rounds", "rmse", "skill");
  for (bool previous : {false, true}) {
    TrainingConfig c = previous ? PreviousDefaults() : TrainingConfig{};
    c.targets = {Variable::kPm25};
    c.horizons_min = {60};
    c.station_models = false;
    Trainer trainer(c, store->get(), &env);
    TrainRequest req;
    req.linear = false;
    auto t = std::chrono::steady_clock::now();
    const double cpu = CpuSeconds();
    auto models = trainer.Run(req, {}, nullptr);
    const double s = Seconds(t);
    if (!models || models->empty()) {
      std::fprintf(stderr, "training failed: %s\n", models ? "no model" : models.message().c_str());
      return 1;
    }
    const TrainedModel& m = (*models)[0];
    char settings[64];
    std::snprintf(settings, sizeof settings, "%s (bin %d, eta %.1f, nthread %d)",
                  previous ? "previous" : "default", c.xgb.max_bin, c.xgb.eta, c.xgb.nthread);
    std::printf("%-34s %8.1f %8.1f %10lld %8d %8.3f %+10.3f\n", settings, s, CpuSeconds() - cpu,
                static_cast<long long>(m.train_rows), m.rounds, m.overall.rmse, m.overall.skill);
  }

  // 2 + 3. Full default retrain, and the 60-minute skill table.
  std::printf("\n## full default retrain (TrainingConfig defaults)\n");
  TrainingConfig defaults;
  Trainer trainer(defaults, store->get(), &env);
  auto t = std::chrono::steady_clock::now();
  const double cpu = CpuSeconds();
  auto models = trainer.Run(TrainRequest{}, {}, nullptr);
  const double full_s = Seconds(t);
  const double full_cpu = CpuSeconds() - cpu;
  if (!models) {
    std::fprintf(stderr, "full retrain failed: %s\n", models.message().c_str());
    return 1;
  }
  std::printf("%zu models (%zu targets x %zu horizons x (network + %d stations) x (xgboost + "
              "linear)) in %.1f s (cpu %.1f s, %d models at a time)\n",
              models->size(), defaults.targets.size(), defaults.horizons_min.size(), stations,
              full_s, full_cpu, defaults.parallel_models);
  PrintLoad("after the full retrain");

  for (int horizon : {60, 5}) {
    std::printf("\n## %d-minute models vs seasonal persistence (validation window, last 20%%)\n",
                horizon);
    std::printf("%-8s %-10s %-16s %8s %8s %8s %10s %8s %s\n", "target", "kind", "scope", "rmse",
                "mae", "r2", "pers_rmse", "skill", "gate");
    for (const TrainedModel& m : *models) {
      if (m.horizon_min != horizon) continue;
      if (m.scope == predict::ModelScope::kStation && m.kind == predict::ModelKind::kLinear) continue;
      std::printf("%-8s %-10s %-16s %8.3f %8.3f %8.3f %10.3f %+8.3f %s\n",
                  std::string(Name(m.target)).c_str(),
                  m.kind == predict::ModelKind::kXgboost ? "xgboost" : "linear",
                  m.scope == predict::ModelScope::kNetwork ? "network" : m.station.c_str(),
                  m.overall.rmse, m.overall.mae, m.overall.r2, m.overall.persistence_rmse,
                  m.overall.skill, m.gate_passed ? "pass" : "FAIL");
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
