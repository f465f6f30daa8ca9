// Station-side prediction speed.
//
// BM_SingleRow_Sentinelle vs BM_SingleRow_XGBoost: one 200-tree depth-6
// model, one row at a time; the baseline is XGBoost's own single-row path
// (XGBoosterPredictFromDense, nthread=1) in the same run, on the same rows.
// Set-up checks that both give the same outputs before timing anything.
//
// BM_FullCycle: one new reading through the chain: features plus 4 targets
// x 2 horizons, every slot answered by a 200-tree depth-6 station model.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "predict_models.h"
#include "sentinelle/predict/chain.h"
#include "sentinelle/predict/xgb_model.h"

namespace sentinelle::predict::bench {
namespace {

struct Fixture {
  std::vector<Reading> history = BenchHistory(6 * 288);
  std::vector<Reading> train{history.begin(), history.begin() + 5 * 288};
  std::vector<std::string> files = TrainBenchModels(train);
  DenseMatrix rows;
  std::string booster;
  std::unique_ptr<XgbModel> model;
  std::unique_ptr<xgb::Booster> reference;

  Fixture() {
    auto set = BuildTrainingMatrix(history, BenchRequest(Variable::kPm25, 60).spec, Variable::kPm25, 60);
    if (!set) std::abort();
    rows = std::move(set->X);
    auto env = ReadModelFile(files[1]);  // pm25 / 60 min
    if (!env) std::abort();
    booster = env->booster;
    auto m = XgbModel::Parse(booster, XgbEncoding::kUbjson);
    auto r = xgb::Booster::Load(booster);
    if (!m || !r) std::abort();
    model = std::make_unique<XgbModel>(std::move(m.value()));
    reference = std::make_unique<xgb::Booster>(std::move(r.value()));
    size_t exact = 0;
    float max_diff = 0;
    for (size_t i = 0; i < rows.rows; ++i) {
      auto want = reference->PredictRow(rows.row(i), rows.cols);
      if (!want) std::abort();
      const float got = model->Predict(rows.row(i));
      max_diff = std::max(max_diff, std::fabs(got - *want));
      exact += got == *want;
    }
    std::fprintf(stderr, "agreement on %zu rows: %zu bit-identical, max |diff| %g; trees %d, depth %d\n",
                 rows.rows, exact, static_cast<double>(max_diff), model->num_trees(), model->max_depth());
    if (max_diff > 1e-3f) std::abort();
  }
};

Fixture& F() {
  static Fixture f;
  return f;
}

void BM_SingleRow_Sentinelle(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.model->Predict(f.rows.row(i)));
    i = (i + 1) % f.rows.rows;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SingleRow_Sentinelle);

void BM_SingleRow_XGBoost(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    auto r = f.reference->PredictRow(f.rows.row(i), f.rows.cols);
    benchmark::DoNotOptimize(r);
    i = (i + 1) % f.rows.rows;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SingleRow_XGBoost);

void BM_Features(benchmark::State& state) {
  Fixture& f = F();
  FeatureBuilder b(BenchRequest(Variable::kPm25, 60).spec);
  for (size_t i = 0; i < 5 * 288; ++i) b.Push(f.history[i]);
  std::vector<float> row(b.Width());
  int64_t step = 0;
  for (auto _ : state) {
    Reading r = f.history[5 * 288 + static_cast<size_t>(step % 288)];
    r.window_end_s = f.history[5 * 288].window_end_s + step * 300;
    b.Push(r);
    b.Compute(row.data());
    benchmark::DoNotOptimize(row.data());
    ++step;
  }
}
BENCHMARK(BM_Features);

void BM_FullCycle(benchmark::State& state) {
  Fixture& f = F();
  ChainConfig config;
  config.max_model_age_s = 0;  // the clock runs far past the training data here
  FallbackChain chain("st-1", config);
  for (const std::string& file : f.files) {
    if (!chain.Install(file)) std::abort();
  }
  for (size_t i = 0; i < 5 * 288; ++i) chain.Warm(f.history[i]);
  int64_t step = 0;
  size_t station_answers = 0, total = 0;
  for (auto _ : state) {
    Reading r = f.history[5 * 288 + static_cast<size_t>(step % 288)];
    r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
    r.window_end_s = f.history[5 * 288].window_end_s + step * 300;
    auto ps = chain.Observe(r);
    for (const auto& p : ps) station_answers += p.link == LinkKind::kStation;
    total += ps.size();
    benchmark::DoNotOptimize(ps.data());
    ++step;
  }
  state.counters["models"] = static_cast<double>(chain.Models().size());
  state.counters["station_answer_share"] = total ? static_cast<double>(station_answers) / total : 0.0;
}
BENCHMARK(BM_FullCycle);

}  // namespace
}  // namespace sentinelle::predict::bench

BENCHMARK_MAIN();
