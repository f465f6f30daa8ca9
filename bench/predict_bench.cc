// Station-side prediction speed.
//
// BM_SingleRow_Sentinelle vs BM_SingleRow_XGBoost: one 200-tree depth-6
// model, one row at a time; the baseline is XGBoost's own single-row path
// (XGBoosterPredictFromDense, nthread=1) in the same run, on the same rows.
// Set-up checks that both give the same outputs before timing anything.
// BM_SingleRow_Sentinelle uses the default layout (blocked float nodes);
// BM_SingleRow_Quantised the 4-byte quantised nodes, BM_SingleRow_Generic
// the node array; BM_Quantise times the quantised layout's row
// quantisation alone (part of BM_SingleRow_Quantised).
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
  std::unique_ptr<XgbModel> model, quantised, generic;
  std::unique_ptr<xgb::Booster> reference;

  Fixture() {
    auto set = BuildTrainingMatrix(history, BenchRequest(Variable::kPm25, 60).spec, Variable::kPm25, 60);
    if (!set) std::abort();
    rows = std::move(set->X);
    auto env = ReadModelFile(files[1]);  // pm25 / 60 min
    if (!env) std::abort();
    booster = env->booster;
    auto r = xgb::Booster::Load(booster);
    if (!r) std::abort();
    reference = std::make_unique<xgb::Booster>(std::move(r.value()));
    model = Load(XgbLayout::kBlocked);
    quantised = Load(XgbLayout::kQuantised);
    generic = Load(XgbLayout::kGeneric);
  }

  std::unique_ptr<XgbModel> Load(XgbLayout layout) {
    auto m = XgbModel::Parse(booster, XgbEncoding::kUbjson, layout);
    if (!m || m->layout() != layout) std::abort();
    size_t exact = 0;
    float max_diff = 0;
    for (size_t i = 0; i < rows.rows; ++i) {
      auto want = reference->PredictRow(rows.row(i), rows.cols);
      if (!want) std::abort();
      const float got = m->Predict(rows.row(i));
      max_diff = std::max(max_diff, std::fabs(got - *want));
      exact += got == *want;
    }
    std::fprintf(stderr,
                 "%s layout: agreement on %zu rows: %zu bit-identical, max |diff| %g; trees %d, depth %d, "
                 "%zu bytes\n",
                 std::string(XgbLayoutName(layout)).c_str(), rows.rows, exact, static_cast<double>(max_diff),
                 m->num_trees(), m->max_depth(), m->MemoryBytes());
    if (max_diff > 1e-3f) std::abort();
    return std::make_unique<XgbModel>(std::move(m.value()));
  }
};

// Never destroyed: freeing an XGBoost booster at exit, after the main
// thread's thread-local storage is gone, crashes inside libxgboost (its
// learner erases itself from a thread-local map that no longer exists).
Fixture& F() {
  static Fixture* f = new Fixture;
  return *f;
}

void SingleRow(benchmark::State& state, const XgbModel& model);
void BM_SingleRow_Sentinelle(benchmark::State& state) { SingleRow(state, *F().model); }
BENCHMARK(BM_SingleRow_Sentinelle);

void SingleRow(benchmark::State& state, const XgbModel& model) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.Predict(f.rows.row(i)));
    i = (i + 1) % f.rows.rows;
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_SingleRow_Quantised(benchmark::State& state) { SingleRow(state, *F().quantised); }
BENCHMARK(BM_SingleRow_Quantised);
void BM_SingleRow_Generic(benchmark::State& state) { SingleRow(state, *F().generic); }
BENCHMARK(BM_SingleRow_Generic);

void BM_Quantise(benchmark::State& state) {
  Fixture& f = F();
  std::vector<uint16_t> ranks(2 * f.rows.cols);
  size_t i = 0;
  for (auto _ : state) {
    f.quantised->QuantiseRow(f.rows.row(i), ranks.data());
    benchmark::DoNotOptimize(ranks.data());
    benchmark::ClobberMemory();
    i = (i + 1) % f.rows.rows;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Quantise);

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
