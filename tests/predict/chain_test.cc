// The fallback chain with real trained models: every skip reason, corrupt
// files, foreign feature specifications, missing sensors, hot swap, and the
// chain's answers checked against libxgboost on the training-path features.
#include "sentinelle/predict/chain.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "model_fixture.h"

namespace sentinelle::predict {
namespace {

using testing::TrainedFiles;

const TrainedFiles& Files() {
  static const TrainedFiles files = testing::TrainFiles();
  return files;
}

}  // namespace

void PrintTo(const LinkSkip& s, std::ostream* os) {
  *os << LinkKindName(s.link) << ":" << SkipReasonName(s.reason);
}

namespace {

const SlotKey kStationPm25{LinkKind::kStation, Variable::kPm25, 60};
const SlotKey kLinearPm25{LinkKind::kLinear, Variable::kPm25, 60};

// Six days: the first five are the training history, the sixth is live.
const std::vector<Reading>& SixDays() {
  static const std::vector<Reading> days = [] {
    testing::SyntheticOptions o;
    o.seed = 3;
    o.flag_rate = 0.01;
    return testing::MakeHistory(6 * 288, o);
  }();
  return days;
}

std::unique_ptr<FallbackChain> WarmChain(size_t warm = 5 * 288) {
  auto chain = std::make_unique<FallbackChain>("st-1", ChainConfig{});
  for (size_t i = 0; i < warm; ++i) chain->Warm(SixDays()[i]);
  return chain;
}

Prediction Find(const std::vector<Prediction>& ps, Variable target, int horizon_min) {
  for (const auto& p : ps) {
    if (p.target == target && p.horizon_min == horizon_min) return p;
  }
  throw std::runtime_error("no prediction");
}

// A reading whose pm25 is valid (the chain skips tree models otherwise).
Reading LiveReading(size_t index = 5 * 288 + 10) {
  Reading r = SixDays()[index];
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  return r;
}

TEST(Chain, AllLinksPresentStationModelAnswersLikeLibxgboost) {
  auto chain = WarmChain(5 * 288 + 10);
  ASSERT_TRUE(chain->Install(Files().station_xgb)) << chain->Install(Files().station_xgb).message();
  ASSERT_TRUE(chain->Install(Files().network_xgb));
  ASSERT_TRUE(chain->Install(Files().linear));
  EXPECT_EQ(chain->Models().size(), 3u);

  // The training path's features for the same window, predicted by libxgboost.
  std::vector<Reading> history(SixDays().begin(), SixDays().begin() + 5 * 288 + 11);
  history.back() = LiveReading();
  const auto spec = testing::Request(ModelScope::kStation, "x").spec;
  auto set = BuildTrainingMatrix(history, spec, Variable::kPm25, 5);
  ASSERT_TRUE(set);
  ASSERT_EQ(set->window_end_s.back(), history[history.size() - 2].window_end_s);
  auto envelope = ReadModelFile(Files().station_xgb);
  ASSERT_TRUE(envelope);
  auto reference = xgb::Booster::Load(envelope->booster);
  ASSERT_TRUE(reference);
  FeatureBuilder b(spec);
  for (const auto& r : history) b.Push(r);
  const auto row = b.Compute();
  auto want = reference->PredictRow(row.data(), row.size());
  ASSERT_TRUE(want);

  const auto ps = chain->Observe(LiveReading());
  ASSERT_EQ(ps.size(), 8u);  // 4 targets x 2 horizons
  const Prediction p = Find(ps, Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kStation);
  EXPECT_TRUE(p.skipped.empty());
  EXPECT_EQ(p.model_version, "st-v1");
  EXPECT_EQ(p.model_sha256, envelope->sha256);
  EXPECT_NEAR(p.value, *want, 1e-4 * std::max(1.0, std::fabs(static_cast<double>(*want))));
  EXPECT_EQ(p.target_time_s, LiveReading().window_end_s + 3600);
  EXPECT_EQ(p.from_seq, LiveReading().seq);

  // Targets without models fall through to persistence, saying why.
  const Prediction no2 = Find(ps, Variable::kNo2, 5);
  EXPECT_EQ(no2.link, LinkKind::kPersistence);
  EXPECT_TRUE(no2.answered());
  EXPECT_EQ(no2.skipped, (std::vector<LinkSkip>{{LinkKind::kStation, SkipReason::kMissing},
                                                 {LinkKind::kNetwork, SkipReason::kMissing},
                                                 {LinkKind::kLinear, SkipReason::kMissing}}));
  EXPECT_TRUE(no2.model_version.empty());
}

TEST(Chain, NewStationIsServedByTheNetworkModelFromDayOne) {
  auto chain = std::make_unique<FallbackChain>("st-new", ChainConfig{});
  ASSERT_TRUE(chain->Install(Files().network_xgb));
  // The station model of another station is refused, naming why.
  auto foreign = chain->Install(Files().station_xgb);
  ASSERT_FALSE(foreign);
  EXPECT_NE(foreign.message().find("st-1"), std::string::npos);
  // Two hours of its own readings are enough for the network model.
  std::vector<Prediction> ps;
  for (size_t i = 0; i < 24; ++i) ps = chain->Observe(LiveReading(100 + i));
  const Prediction p = Find(ps, Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kNetwork) << (p.skipped.empty() ? "" : SkipReasonName(p.skipped[0].reason));
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0], (LinkSkip{LinkKind::kStation, SkipReason::kRefused}));
  EXPECT_EQ(p.model_version, "net-v1");
}

TEST(Chain, FreshStationWithNoHistorySkipsTreesForIncompleteInputs) {
  auto chain = std::make_unique<FallbackChain>("st-1", ChainConfig{});
  ASSERT_TRUE(chain->Install(Files().station_xgb));
  ASSERT_TRUE(chain->Install(Files().linear));
  const auto ps = chain->Observe(LiveReading());
  const Prediction p = Find(ps, Variable::kPm25, 60);
  // One window: long-window features are missing, the trees decline; the
  // linear model imputes and answers.
  EXPECT_EQ(p.link, LinkKind::kLinear);
  EXPECT_EQ(p.skipped, (std::vector<LinkSkip>{{LinkKind::kStation, SkipReason::kInputsIncomplete},
                                               {LinkKind::kNetwork, SkipReason::kMissing}}));
  EXPECT_EQ(p.model_version, "lin-v1");
}

TEST(Chain, MissingTargetSensorSkipsTreesAndListsTheMissingInputs) {
  auto chain = WarmChain();
  ASSERT_TRUE(chain->Install(Files().station_xgb));
  ASSERT_TRUE(chain->Install(Files().network_xgb));
  ASSERT_TRUE(chain->Install(Files().linear));
  Reading r = LiveReading();
  r.values[static_cast<int>(Variable::kPm25)] = kMissingValue;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kMissing;
  r.qc[static_cast<int>(Variable::kHumidityPct)] = QcFlag::kStuck;  // a value, but flagged
  const auto ps = chain->Observe(r);
  const Prediction p = Find(ps, Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kLinear);
  EXPECT_EQ(p.skipped, (std::vector<LinkSkip>{{LinkKind::kStation, SkipReason::kInputsIncomplete},
                                               {LinkKind::kNetwork, SkipReason::kInputsIncomplete}}));
  EXPECT_NE(std::find(p.missing_inputs.begin(), p.missing_inputs.end(), Variable::kPm25), p.missing_inputs.end());
  EXPECT_NE(std::find(p.missing_inputs.begin(), p.missing_inputs.end(), Variable::kHumidityPct),
            p.missing_inputs.end());
  EXPECT_EQ(std::find(p.missing_inputs.begin(), p.missing_inputs.end(), Variable::kNo2), p.missing_inputs.end());

  // Every sensor dead for over three hours: the linear model still imputes
  // (the daily means hold); without it persistence answers from the last
  // values and the station's profile.
  Reading dead = SixDays()[5 * 288 + 11];
  dead.qc.fill(QcFlag::kMissing);
  dead.values.fill(kMissingValue);
  std::vector<Prediction> ps2;
  for (int k = 0; k < 40; ++k) {
    dead.window_end_s += 300;
    ps2 = chain->Observe(dead);
  }
  const Prediction lin = Find(ps2, Variable::kPm25, 60);
  EXPECT_EQ(lin.link, LinkKind::kLinear);
  EXPECT_EQ(lin.missing_inputs.size(), FeatureSpec::Default().Inputs().size());
  chain->Remove(kLinearPm25);
  dead.window_end_s += 300;
  const Prediction q = Find(chain->Observe(dead), Variable::kPm25, 60);
  EXPECT_EQ(q.link, LinkKind::kPersistence);
  EXPECT_EQ(q.skipped, (std::vector<LinkSkip>{{LinkKind::kStation, SkipReason::kInputsIncomplete},
                                               {LinkKind::kNetwork, SkipReason::kInputsIncomplete},
                                               {LinkKind::kLinear, SkipReason::kMissing}}));
  EXPECT_TRUE(q.answered());
  EXPECT_EQ(q.missing_inputs.size(), FeatureSpec::Default().Inputs().size());
}

TEST(Chain, OutOfRangeOutputFallsThrough) {
  auto chain = WarmChain();
  ASSERT_TRUE(chain->Install(Files().out_of_range_xgb));
  ASSERT_TRUE(chain->Install(Files().network_xgb));
  const Prediction p = Find(chain->Observe(LiveReading()), Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kNetwork);
  EXPECT_EQ(p.skipped, (std::vector<LinkSkip>{{LinkKind::kStation, SkipReason::kOutOfRange}}));
}

class FailingModel final : public Model {
 public:
  explicit FailingModel(bool throws) : throws_(throws) {}
  Result<float> Predict(const float*) const override {
    if (throws_) throw std::runtime_error("boom");
    return MakeError("evaluator failure");
  }
  size_t num_features() const override { return FeatureSpec::Default().Width(); }
  size_t MemoryBytes() const override { return 0; }

 private:
  bool throws_;
};

TEST(Chain, RuntimeErrorsAreCaughtAndFallThrough) {
  auto chain = WarmChain();
  for (bool throws : {false, true}) {
    auto failing = std::make_shared<LoadedModel>();
    auto env = ReadModelFile(Files().station_xgb);
    ASSERT_TRUE(env);
    failing->meta = *env;
    failing->model = std::make_shared<FailingModel>(throws);
    ASSERT_TRUE(chain->InstallLoaded(failing));
    ASSERT_TRUE(chain->Install(Files().linear));
    const Prediction p = Find(chain->Observe(LiveReading(5 * 288 + 10 + throws)), Variable::kPm25, 60);
    EXPECT_EQ(p.link, LinkKind::kLinear);
    ASSERT_FALSE(p.skipped.empty());
    EXPECT_EQ(p.skipped[0], (LinkSkip{LinkKind::kStation, SkipReason::kRuntimeError}));
  }
}

TEST(Chain, StaleModelIsSkipped) {
  ChainConfig config;
  config.max_model_age_s = 86400;
  FallbackChain chain("st-1", config);
  for (size_t i = 0; i < 5 * 288 + 100; ++i) chain.Warm(SixDays()[i]);
  ASSERT_TRUE(chain.Install(Files().station_xgb));
  // Half a day after the training data ends: fresh.
  EXPECT_EQ(Find(chain.Observe(LiveReading(5 * 288 + 100)), Variable::kPm25, 60).link, LinkKind::kStation);
  // Two days of readings later: stale.
  Reading late = LiveReading(5 * 288 + 101);
  late.window_end_s = testing::kTrainedUntil + 2 * 86400;
  const Prediction p = Find(chain.Observe(late), Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kPersistence);
  EXPECT_EQ(p.skipped[0], (LinkSkip{LinkKind::kStation, SkipReason::kStale}));
}

TEST(Chain, CorruptOrForeignModelsAreRefusedAndThePreviousOneStays) {
  auto chain = WarmChain();
  ASSERT_TRUE(chain->Install(Files().station_xgb));
  const std::string good = Files().station_xgb;

  auto json = nlohmann::json::parse(good);
  std::vector<std::pair<std::string, std::string>> bad;  // (file, expected message part)
  bad.push_back({good.substr(0, good.size() / 2), "model file"});
  bad.push_back({"\x00\x01garbage", "model file"});
  {
    auto j = json;  // flipped booster bytes: checksum
    std::string& data = j["booster"]["data"].get_ref<std::string&>();
    data[100] = data[100] == 'A' ? 'B' : 'A';
    bad.push_back({j.dump(), "sha256"});
  }
  {
    auto j = json;  // a feature algorithm this build does not have
    j["feature_spec"]["version"] = 2;
    bad.push_back({j.dump(), "version 2"});
  }
  {
    auto j = json;  // a feature this build does not compute
    j["feature_spec"]["names"][5] = "pm25_ewma12";
    bad.push_back({j.dump(), "names[5]"});
  }
  {
    auto j = json;  // a variable this build does not know
    j["feature_spec"]["series"].push_back("nh3");
    bad.push_back({j.dump(), "nh3"});
  }
  {
    auto j = json;  // self-test pair that the booster does not reproduce
    j["self_test"][0]["y"] = j["self_test"][0]["y"].get<double>() + 5.0;
    bad.push_back({j.dump(), "self-test"});
  }
  for (const auto& [file, why] : bad) {
    auto r = chain->Install(file, kStationPm25);
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.message().find(why), std::string::npos) << r.message();
    // The previous model keeps answering.
    auto models = chain->Models();
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0].version, "st-v1");
  }
  const Prediction p = Find(chain->Observe(LiveReading()), Variable::kPm25, 60);
  EXPECT_EQ(p.link, LinkKind::kStation);

  // With no previous model, the refusal is the reason the link is skipped.
  chain->Remove(kStationPm25);
  ASSERT_FALSE(chain->Install(bad[3].first));  // foreign spec, slot read from the envelope
  ASSERT_TRUE(chain->Refusal(kStationPm25).has_value());
  const Prediction q = Find(chain->Observe(LiveReading(5 * 288 + 11)), Variable::kPm25, 60);
  EXPECT_EQ(q.skipped[0], (LinkSkip{LinkKind::kStation, SkipReason::kRefused}));
  // A file for another slot than the one expected is refused too.
  EXPECT_FALSE(chain->Install(Files().network_xgb, kStationPm25));
  // A good model clears the refusal.
  ASSERT_TRUE(chain->Install(good));
  EXPECT_FALSE(chain->Refusal(kStationPm25).has_value());
}

TEST(Chain, PersistenceWithoutAnyHistoryAnswersNothingAndSaysSo) {
  ChainConfig config;
  config.targets = {Variable::kSo2};
  config.horizons_min = {5};
  FallbackChain chain("st-1", config);
  Reading r = LiveReading();
  r.qc[static_cast<int>(Variable::kSo2)] = QcFlag::kMissing;
  r.values[static_cast<int>(Variable::kSo2)] = kMissingValue;
  const auto ps = chain.Observe(r);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_FALSE(ps[0].answered());
  EXPECT_EQ(ps[0].skipped.back(), (LinkSkip{LinkKind::kPersistence, SkipReason::kNoHistory}));
  // The next valid value is enough.
  Reading next = LiveReading(5 * 288 + 11);
  EXPECT_TRUE(chain.Observe(next)[0].answered());
}

TEST(Chain, HotSwapWhilePredicting) {
  auto chain = WarmChain();
  ASSERT_TRUE(chain->Install(Files().station_xgb));
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    while (!stop) {
      EXPECT_TRUE(chain->Install(swaps % 2 ? Files().station_xgb : Files().out_of_range_xgb));
      ++swaps;
    }
  });
  // Predict until the swapper has replaced the model many times (progress,
  // not time, ends the loop, so a slow machine only makes it longer).
  int station = 0, other = 0;
  Reading r = LiveReading();
  for (int step = 0; swaps < 20 && step < 2000000; ++step) {
    r.window_end_s += 300;
    const Prediction p = Find(chain->Observe(r), Variable::kPm25, 60);
    ASSERT_TRUE(p.answered());
    (p.link == LinkKind::kStation ? station : other)++;
  }
  stop = true;
  swapper.join();
  EXPECT_GE(swaps.load(), 20);
  EXPECT_GT(station + other, 0);
}

TEST(Chain, SeasonalPersistenceBlendsLastValueAndProfile) {
  SeasonalProfile profile;
  Reading r;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  for (int day = 0; day < 3; ++day) {
    r.window_end_s = 1767225600 + day * 86400 + 8 * 3600;  // 08:00 UTC
    r.values[static_cast<int>(Variable::kPm25)] = 50.0;
    profile.Add(r);
  }
  ASSERT_EQ(profile.At(Variable::kPm25, 8), 50.0);
  EXPECT_FALSE(profile.At(Variable::kPm25, 9).has_value());
  PersistenceInputs in;
  in.last_value = 20.0;
  in.now_s = 1767225600 + 3 * 86400 + 7 * 3600;
  in.last_time_s = in.now_s;
  in.target_time_s = in.now_s + 3600;
  const double a = std::exp(-60.0 / 180.0);
  EXPECT_DOUBLE_EQ(SeasonalPersistence(profile, Variable::kPm25, in), a * 20.0 + (1 - a) * 50.0);
  in.target_time_s = in.now_s + 300;  // 07:05: no profile for hour 7
  EXPECT_DOUBLE_EQ(SeasonalPersistence(profile, Variable::kPm25, in), 20.0);
  in.last_value = kMissingValue;
  in.target_time_s = in.now_s + 3600;
  EXPECT_DOUBLE_EQ(SeasonalPersistence(profile, Variable::kPm25, in), 50.0);
  EXPECT_TRUE(std::isnan(SeasonalPersistence(profile, Variable::kNo2, in)));
}

TEST(Chain, RidgeRecoversALinearRelationWithMissingInputs) {
  DenseMatrix X(500, 3);
  std::vector<float> y(500);
  for (size_t i = 0; i < 500; ++i) {
    X.row(i)[0] = static_cast<float>(i % 17);
    X.row(i)[1] = static_cast<float>((i * 7) % 11);
    X.row(i)[2] = i % 5 == 0 ? NAN : 1.0f;  // constant when present: no weight
    y[i] = 3.0f + 2.0f * X.row(i)[0] - 0.5f * X.row(i)[1];
  }
  auto m = FitRidge(X, y, 0.0);
  ASSERT_TRUE(m) << m.message();
  const float row[3] = {4.0f, 2.0f, NAN};
  EXPECT_NEAR(m->Predict(row), 10.0, 1e-6);
  const float missing[3] = {NAN, 2.0f, 1.0f};  // imputed with the mean of feature 0 (~8)
  EXPECT_NEAR(m->Predict(missing), 3.0 + 2.0 * m->mean[0] - 1.0, 1e-6);
  auto back = LinearModel::FromJson(m->ToJson());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->Predict(row), m->Predict(row));
  EXPECT_FALSE(FitRidge(DenseMatrix(1, 3), {1.0f}));
}

}  // namespace
}  // namespace sentinelle::predict
