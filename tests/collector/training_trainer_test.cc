// The trainer with real XGBoost on small simulated histories in a real
// SQLite store: models, metrics, the time-ordered split, reproducibility and
// the skill gate.
#include <gtest/gtest.h>

#include <cmath>
#include <mutex>
#include <set>

#include "model_fixture.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/monitor/histogram.h"
#include "sentinelle/predict/model_file.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::SimulatedStore;
using sentinelle::testing::SmallTrainingConfig;
using sentinelle::testing::TempDir;

const TrainedModel* Find(const std::vector<TrainedModel>& models, predict::ModelKind kind,
                         predict::ModelScope scope, const std::string& station = "") {
  for (const auto& m : models) {
    if (m.kind == kind && m.scope == scope && m.station == station) return &m;
  }
  return nullptr;
}

TEST(FitMetricsTest, ComputesErrorsAndSkillAgainstPersistence) {
  const std::vector<float> actual = {1, 2, 3, 4};
  const std::vector<float> predicted = {1, 2, 3, 6};
  const std::vector<double> persistence = {2, 3, 4, NAN};
  const FitMetrics m = ComputeFitMetrics(actual, predicted, persistence);
  EXPECT_EQ(m.rows, 4);
  EXPECT_DOUBLE_EQ(m.rmse, 1.0);                  // sqrt(4 / 4)
  EXPECT_DOUBLE_EQ(m.mae, 0.5);
  EXPECT_DOUBLE_EQ(m.r2, 1.0 - 4.0 / 5.0);        // SS_res 4, SS_tot 5
  EXPECT_EQ(m.persistence_rows, 3);
  EXPECT_DOUBLE_EQ(m.persistence_rmse, 1.0);
  EXPECT_DOUBLE_EQ(m.model_rmse_on_persistence_rows, 0.0);
  EXPECT_DOUBLE_EQ(m.skill, 1.0);
}

TEST(SplitTest, NeverLetsAValidationTargetIntoTraining) {
  TempDir dir;
  auto store = SimulatedStore(dir, 1, 6);
  ASSERT_TRUE(store);
  auto stations = store->ListStations();
  ASSERT_TRUE(stations.ok() && !stations->empty());
  auto history = store->QueryReadings((*stations)[0].info.id, {0, INT64_MAX}, INT64_MAX);
  ASSERT_TRUE(history.ok());
  std::vector<Reading> readings;
  for (auto& sr : *history) readings.push_back(sr.reading);
  const auto spec = predict::FeatureSpec::Default();
  auto all = predict::BuildTrainingMatrix(readings, spec, Variable::kPm25, 60);
  ASSERT_TRUE(all.ok()) << all.message();
  const int64_t cutoff = all->window_end_s[all->X.rows * 3 / 4];
  predict::TrainingSet train, val;
  SplitByTime(*all, cutoff, 60, train, val);
  ASSERT_GT(train.X.rows, 100u);
  ASSERT_GT(val.X.rows, 100u);
  EXPECT_EQ(train.X.rows, train.y.size());
  for (size_t i = 0; i < train.X.rows; ++i) {
    EXPECT_LT(train.window_end_s[i] + 3600, cutoff);
    if (i > 0) {
      EXPECT_LT(train.window_end_s[i - 1], train.window_end_s[i]);  // order kept
    }
  }
  for (size_t i = 0; i < val.X.rows; ++i) {
    EXPECT_GE(val.window_end_s[i], cutoff);
    if (i > 0) {
      EXPECT_LT(val.window_end_s[i - 1], val.window_end_s[i]);
    }
  }
  // The hour before the cutoff is dropped: its targets lie in validation time.
  EXPECT_LE(train.X.rows + val.X.rows, all->X.rows);
  EXPECT_GE(train.X.rows + val.X.rows + 12, all->X.rows);
}

TEST(PersistenceTest, ForecastAtATimeUsesOnlyThePast) {
  std::vector<Reading> h;
  for (int i = 0; i < 400; ++i) {
    Reading r;
    r.station_id = "st";
    r.window_end_s = 1767225600 + i * 300;
    r.values[static_cast<int>(Variable::kPm25)] = 10 + (i % 7);
    r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
    h.push_back(r);
  }
  const auto before = PersistenceForecasts(h, Variable::kPm25, 60);
  for (size_t i = 300; i < h.size(); ++i) h[i].values[static_cast<int>(Variable::kPm25)] = 500;
  const auto after = PersistenceForecasts(h, Variable::kPm25, 60);
  for (int i = 0; i < 300; ++i) {
    const int64_t t = 1767225600 + i * 300;
    EXPECT_DOUBLE_EQ(before.at(t), after.at(t)) << i;
  }
  EXPECT_NE(before.at(1767225600 + 300 * 300), after.at(1767225600 + 300 * 300));
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = SimulatedStore(dir_, 2, 30);
    ASSERT_TRUE(store_) << "simulated history";
  }
  TempDir dir_;
  std::unique_ptr<SqliteHistoryStore> store_;
  FakeEnv env_;
};

TEST_F(TrainerTest, TrainsNetworkStationAndLinearModelsThatLoadAndBeatPersistence) {
  TrainingConfig config = SmallTrainingConfig();
  config.station_models = true;
  Trainer trainer(config, store_.get(), &env_);
  std::vector<TrainProgress> progress;
  std::vector<std::string> skipped;
  auto models = trainer.Run(TrainRequest{}, [&](const TrainProgress& p) { progress.push_back(p); },
                            nullptr, &skipped);
  ASSERT_TRUE(models.ok()) << models.message();
  EXPECT_TRUE(skipped.empty());
  ASSERT_EQ(models->size(), 6u);  // (network + 2 stations) x (xgboost + linear)
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress.back().total, 3);

  const TrainedModel* net = Find(*models, predict::ModelKind::kXgboost, predict::ModelScope::kNetwork);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(net->stations.size(), 2u);
  EXPECT_EQ(net->per_station.size(), 2u);
  EXPECT_GT(net->train_rows, 4 * net->validation_rows / 2);
  EXPECT_GT(net->rounds, 0);
  EXPECT_LT(net->window_from_s, net->cutoff_s);
  EXPECT_LT(net->cutoff_s, net->window_to_s);
  EXPECT_FALSE(net->xgboost_version.empty());
  EXPECT_TRUE(std::isfinite(net->overall.rmse));
  EXPECT_GT(net->overall.r2, 0.5);
  EXPECT_GT(net->overall.persistence_rows, net->validation_rows / 2);
  EXPECT_GT(net->overall.skill, 0.0) << net->gate_reason;
  EXPECT_TRUE(net->gate_passed) << net->gate_reason;
  // Reference histograms in the monitor's format, one per feature.
  auto reference = monitor::ReferenceSet::FromJson(net->reference);
  ASSERT_TRUE(reference.ok()) << reference.message();
  // One per feature, and the model's predictions on its validation window.
  EXPECT_EQ(reference->features.size(), net->spec.Width() + 1);
  EXPECT_GE(reference->Find("pm25_lag0"), 0);
  EXPECT_GE(reference->Find("pred/pm25/60"), 0);

  for (const TrainedModel& m : *models) {
    auto file = m.write("7", 1767225600);
    ASSERT_TRUE(file.ok()) << file.message();
    predict::LoadOptions lo;
    lo.station_id = m.scope == predict::ModelScope::kStation ? m.station : "";
    auto loaded = predict::LoadModel(*file, lo);
    ASSERT_TRUE(loaded.ok()) << loaded.message();  // checksum, spec and golden pairs verified
    EXPECT_EQ((*loaded)->meta.version, "7");
    EXPECT_EQ((*loaded)->meta.self_test.size(), 8u);
    EXPECT_TRUE((*loaded)->meta.training.contains("reference_histograms"));
    EXPECT_TRUE((*loaded)->meta.training.contains("metrics"));
  }
  const TrainedModel* lin = Find(*models, predict::ModelKind::kLinear, predict::ModelScope::kNetwork);
  ASSERT_NE(lin, nullptr);
  EXPECT_EQ(lin->validation_rows, net->validation_rows);  // same rows, same features
  EXPECT_GT(lin->overall.rmse, 0);
}

TEST_F(TrainerTest, SameDataAndSeedGiveTheSameBytes) {
  TrainingConfig config = SmallTrainingConfig();
  config.xgb.subsample = 0.7;  // the seed matters
  Trainer trainer(config, store_.get(), &env_);
  TrainRequest req;
  req.linear = false;
  auto a = trainer.Run(req, {}, nullptr);
  auto b = trainer.Run(req, {}, nullptr);
  req.seed = 7;
  auto c = trainer.Run(req, {}, nullptr);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].booster_sha256, (*b)[0].booster_sha256);
  auto fa = (*a)[0].write("3", 1767225600);
  auto fb = (*b)[0].write("3", 1767225600);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ(*fa, *fb);
  EXPECT_NE((*a)[0].booster_sha256, (*c)[0].booster_sha256);
}

TEST_F(TrainerTest, SkillGateRefusesAModelTrainedOnShuffledTargets) {
  Trainer trainer(SmallTrainingConfig(), store_.get(), &env_);
  TrainRequest req;
  req.TEST_shuffle_train_labels = true;
  auto models = trainer.Run(req, {}, nullptr);
  ASSERT_TRUE(models.ok()) << models.message();
  ASSERT_EQ(models->size(), 2u);
  for (const TrainedModel& m : *models) {
    EXPECT_LE(m.overall.skill, 0.0);
    EXPECT_FALSE(m.gate_passed);
    EXPECT_NE(m.gate_reason.find("<="), std::string::npos) << m.gate_reason;
  }
}

TEST_F(TrainerTest, SkipsModelsWithTooFewRowsAndHonoursCancel) {
  TrainingConfig config = SmallTrainingConfig();
  config.min_train_rows = 1000000;
  Trainer trainer(config, store_.get(), &env_);
  std::vector<std::string> skipped;
  auto models = trainer.Run(TrainRequest{}, {}, nullptr, &skipped);
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("pm25/60 network"), std::string::npos) << skipped[0];

  std::atomic<bool> cancel{true};
  auto cancelled = trainer.Run(TrainRequest{}, {}, &cancel);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_NE(cancelled.message().find("cancelled"), std::string::npos);

  TrainRequest unknown;
  unknown.stations = {"no-such-station"};
  EXPECT_FALSE(trainer.Run(unknown, {}, nullptr).ok());
}

// What identifies a trained model's content, in the order Run returns them.
std::vector<std::string> Fingerprints(const std::vector<TrainedModel>& models) {
  std::vector<std::string> out;
  for (const TrainedModel& m : models) {
    out.push_back(std::string(predict::ModelScopeName(m.scope)) + " " + m.station + " " +
                  std::string(Name(m.target)) + "/" + std::to_string(m.horizon_min) + " " +
                  std::to_string(static_cast<int>(m.kind)) + " " + m.booster_sha256 + " " +
                  m.reference.dump());
  }
  return out;
}

TEST_F(TrainerTest, ModelsTrainedInParallelAreTheSameAsOneAtATime) {
  TrainingConfig config = SmallTrainingConfig();
  config.station_models = true;
  config.horizons_min = {5, 60};
  config.xgb.subsample = 0.8;  // the seed matters
  config.parallel_models = 1;
  auto one = Trainer(config, store_.get(), &env_).Run(TrainRequest{}, {}, nullptr);
  config.parallel_models = 3;
  std::vector<TrainProgress> progress;
  std::mutex mu;
  auto three = Trainer(config, store_.get(), &env_)
                   .Run(TrainRequest{},
                        [&](const TrainProgress& p) {
                          std::lock_guard<std::mutex> lock(mu);
                          progress.push_back(p);
                        },
                        nullptr);
  ASSERT_TRUE(one.ok()) << one.message();
  ASSERT_TRUE(three.ok()) << three.message();
  ASSERT_EQ(one->size(), 12u);  // 2 horizons x (network + 2 stations) x (xgboost + linear)
  EXPECT_EQ(Fingerprints(*one), Fingerprints(*three));
  ASSERT_EQ(progress.size(), 6u);
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i].done, static_cast<int>(i));  // counted once per model, in order
    EXPECT_EQ(progress[i].total, 6);
  }
  // The first horizon's network model comes first, then its station models.
  EXPECT_EQ((*three)[0].scope, predict::ModelScope::kNetwork);
  EXPECT_EQ((*three)[0].horizon_min, 5);
  EXPECT_EQ((*three)[2].scope, predict::ModelScope::kStation);
}

// The prediction drift reference: the boosted model's own predictions on its
// validation window, in every model file of the same scope of the run.
TEST_F(TrainerTest, BundlesCarryTheirScopesPredictionReferences) {
  TrainingConfig config = SmallTrainingConfig();
  config.station_models = true;
  config.horizons_min = {5, 60};
  auto models = Trainer(config, store_.get(), &env_).Run(TrainRequest{}, {}, nullptr);
  ASSERT_TRUE(models.ok()) << models.message();
  EXPECT_EQ(PredictionReferenceName(Variable::kPm25, 60), "pred/pm25/60");
  std::map<std::string, std::map<int, uint64_t>> pred_totals;  // station ("" network) -> horizon -> count
  for (const TrainedModel& m : *models) {
    SCOPED_TRACE(m.station + " " + std::to_string(m.horizon_min));
    auto ref = monitor::ReferenceSet::FromJson(m.reference);
    ASSERT_TRUE(ref.ok()) << ref.message();
    EXPECT_GE(ref->Find("pm25_lag0"), 0);
    for (int h : {5, 60}) {
      const int i = ref->Find(PredictionReferenceName(Variable::kPm25, h));
      ASSERT_GE(i, 0) << "pred/pm25/" << h;
      const uint64_t total = ref->features[i].Total();
      auto [it, fresh] = pred_totals[m.station].emplace(h, total);
      EXPECT_EQ(it->second, total) << "one entry per scope and horizon";
      if (h == m.horizon_min && m.kind == predict::ModelKind::kXgboost) {
        EXPECT_EQ(total, static_cast<uint64_t>(m.validation_rows));  // every validation prediction
        // Binned from the predictions, not copied from the target's inputs.
        EXPECT_NE(ref->features[i].edges, ref->features[ref->Find("pm25_lag0")].edges);
      }
    }
    EXPECT_EQ(ref->Find("pred/pm10/60"), -1);  // not trained
    // The model file carries the same reference.
    auto file = m.write("9", 1767225600);
    ASSERT_TRUE(file.ok()) << file.message();
    auto envelope = predict::ReadModelFile(*file);
    ASSERT_TRUE(envelope.ok()) << envelope.message();
    EXPECT_EQ(envelope->training.at("reference_histograms"), m.reference);
  }
  ASSERT_EQ(pred_totals.size(), 3u);  // network and two stations
  // A station model's predictions are its own: fewer than the network's.
  for (const auto& [station, totals] : pred_totals) {
    if (station.empty()) continue;
    EXPECT_LT(totals.at(60), pred_totals.at("").at(60)) << station;
  }
}

TEST_F(TrainerTest, TheMonitorWatchesThePredictionStreamOfAProductionModel) {
  TrainingConfig config = SmallTrainingConfig();
  auto models = Trainer(config, store_.get(), &env_).Run(TrainRequest{}, {}, nullptr);
  ASSERT_TRUE(models.ok()) << models.message();
  auto registry = ModelRegistry::Open(dir_.File("models"));
  ASSERT_TRUE(registry.ok()) << registry.message();
  int64_t newest = 0;
  for (const TrainedModel& m : *models) newest = std::max(newest, m.window_to_s);
  for (const TrainedModel& m : *models) {
    if (m.kind != predict::ModelKind::kXgboost) continue;
    ASSERT_TRUE(m.gate_passed) << m.gate_reason;
    auto rec = (*registry)->Register(m, TriggerInfo{"manual", "test", ""}, newest);
    ASSERT_TRUE(rec.ok()) << rec.message();
    ASSERT_TRUE((*registry)->Promote(rec->version, Stage::kProduction, {}, "test", "test", newest).ok());
  }
  MonitorDeps deps;
  deps.store = store_.get();
  deps.registry = registry->get();
  auto monitor = Monitor::Open(MonitoringConfig{}, dir_.File("alarms.db"), deps);
  ASSERT_TRUE(monitor.ok()) << monitor.message();
  ASSERT_TRUE((*monitor)->RefreshReferences(newest).ok());
  ASSERT_TRUE((*monitor)->Rebuild(newest).ok());
  (*monitor)->Evaluate(newest);
  const nlohmann::json drift = (*monitor)->DriftJson(std::nullopt);
  ASSERT_EQ(drift.size(), 2u);
  for (const auto& station : drift) {
    std::set<std::string> features;
    for (const auto& f : station.at("features")) features.insert(f.at("feature").get<std::string>());
    EXPECT_TRUE(features.count("pred/pm25/60")) << station.dump();
    EXPECT_TRUE(features.count("pm25")) << station.dump();
  }
}

}  // namespace
}  // namespace sentinelle::collector
