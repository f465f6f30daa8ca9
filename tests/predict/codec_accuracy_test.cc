// Prediction batch codec (strict decoding of outside data) and the edge
// accuracy tracker joining predictions with the readings they predicted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sentinelle/predict/accuracy.h"
#include "sentinelle/predict/prediction_codec.h"
#include "synthetic.h"

namespace sentinelle::predict {
namespace {

Prediction Answered(LinkKind link, double value, int horizon = 60) {
  Prediction p;
  p.station_id = "st-1";
  p.from_seq = 42;
  p.from_window_end_s = 1767229200;
  p.target = Variable::kPm25;
  p.horizon_min = horizon;
  p.target_time_s = p.from_window_end_s + horizon * 60;
  p.value = value;
  p.link = link;
  if (link != LinkKind::kPersistence) {
    p.model_version = "v1";
    p.model_sha256 = std::string(64, 'a');
  }
  return p;
}

TEST(PredictionCodec, RoundTripsEveryShape) {
  Prediction a = Answered(LinkKind::kNetwork, 12.5);
  a.skipped = {{LinkKind::kStation, SkipReason::kRefused}};
  a.missing_inputs = {Variable::kNo2, Variable::kWindDirDeg};
  Prediction b = Answered(LinkKind::kPersistence, 30.0, 5);
  b.target = Variable::kO3;
  b.skipped = {{LinkKind::kStation, SkipReason::kMissing},
               {LinkKind::kNetwork, SkipReason::kStale},
               {LinkKind::kLinear, SkipReason::kOutOfRange}};
  Prediction c = Answered(LinkKind::kPersistence, kMissingValue, 5);
  c.skipped = {{LinkKind::kStation, SkipReason::kMissing}, {LinkKind::kNetwork, SkipReason::kMissing},
               {LinkKind::kLinear, SkipReason::kMissing}, {LinkKind::kPersistence, SkipReason::kNoHistory}};
  const PredictionBatch batch = MakePredictionBatch({a, b, c});
  const std::string payload = EncodePredictionBatch(batch);
  auto back = DecodePredictionBatch(payload, "st-1");
  ASSERT_TRUE(back) << back.message();
  ASSERT_EQ(back->predictions.size(), 3u);
  EXPECT_EQ(back->seq, 42);
  EXPECT_EQ(back->window_end_s, 1767229200);
  const auto& x = back->predictions;
  EXPECT_EQ(x[0].value, 12.5);
  EXPECT_EQ(x[0].link, LinkKind::kNetwork);
  EXPECT_EQ(x[0].model_sha256, a.model_sha256);
  EXPECT_EQ(x[0].skipped, a.skipped);
  EXPECT_EQ(x[0].missing_inputs, a.missing_inputs);
  EXPECT_EQ(x[1].target, Variable::kO3);
  EXPECT_EQ(x[1].skipped, b.skipped);
  EXPECT_TRUE(x[1].model_version.empty());
  EXPECT_FALSE(x[2].answered());
  EXPECT_EQ(x[2].skipped, c.skipped);
  EXPECT_EQ(EncodePredictionBatch(*back), payload);
}

TEST(PredictionCodec, RefusesMalformedOrInconsistentPayloads) {
  const auto good = nlohmann::json::parse(EncodePredictionBatch(MakePredictionBatch({Answered(LinkKind::kStation, 10)})));
  ASSERT_TRUE(DecodePredictionBatch(good.dump(), "st-1"));
  EXPECT_FALSE(DecodePredictionBatch(good.dump(), "st-2"));
  EXPECT_FALSE(DecodePredictionBatch("{", "st-1"));
  EXPECT_FALSE(DecodePredictionBatch(std::string(2 << 20, ' '), "st-1"));
  auto refused = [&](auto mutate, const char* why) {
    auto j = good;
    mutate(j);
    auto r = DecodePredictionBatch(j.dump(), "st-1");
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.message().find(why), std::string::npos) << r.message();
  };
  auto p0 = [](nlohmann::json& j) -> nlohmann::json& { return j["predictions"][0]; };
  refused([&](auto& j) { p0(j)["target_time"] = "2026-01-01T03:00:00Z"; }, "target_time");
  refused([&](auto& j) { p0(j)["value"] = 5000.0; }, "physical range");
  refused([&](auto& j) { p0(j)["link"] = "oracle"; }, "link");
  refused([&](auto& j) { p0(j)["model_version"] = nullptr; }, "model_version");
  refused([&](auto& j) { p0(j)["skipped"] = {{{"link", "station"}, {"reason", "bored"}}}; }, "reason");
  refused([&](auto& j) { p0(j)["missing_inputs"] = {"nh3"}; }, "missing_inputs");
  refused([&](auto& j) { p0(j)["extra"] = 1; }, "extra");
  refused([&](auto& j) { p0(j)["target"] = "benzene"; }, "target");
  refused([&](auto& j) { j["predictions"] = nlohmann::json::array(); }, "predictions");
  refused([&](auto& j) { j["schema"] = 2; }, "schema");
  refused([&](auto& j) { p0(j)["value"] = nullptr; }, "link");  // null value with a link
}

TEST(Accuracy, JoinsPredictionsWithTheReadingsTheyPredicted) {
  AccuracyTracker tracker(AccuracyConfig{3, 100});
  auto history = testing::MakeHistory(30);
  // Predictions made at window i for window i+1 (5 min) and i+12 (60 min).
  for (size_t i = 0; i + 1 < history.size(); ++i) {
    const Reading& now = history[i];
    std::vector<Prediction> ps;
    for (int h : {5, 60}) {
      Prediction p = Answered(h == 5 ? LinkKind::kStation : LinkKind::kPersistence, 0, h);
      p.from_window_end_s = now.window_end_s;
      p.target_time_s = now.window_end_s + h * 60;
      p.value = 10.0 + static_cast<double>(i);
      ps.push_back(p);
    }
    tracker.AddPredictions(ps);
    auto joined = tracker.Observe(history[i + 1]);
    ASSERT_EQ(joined.size(), i >= 11 ? 2u : 1u);
    const JoinedError& five = joined[0].horizon_min == 5 ? joined[0] : joined[1];
    EXPECT_EQ(five.actual, history[i + 1].value(Variable::kPm25));
    EXPECT_EQ(five.predicted, 10.0 + static_cast<double>(i));
    EXPECT_EQ(five.link, LinkKind::kStation);
  }
  auto st = tracker.Stats(Variable::kPm25, 5, LinkKind::kStation);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->joined_total, 29);
  EXPECT_EQ(st->window_count, 3u);  // rolling window
  // The last three errors, by hand.
  double abs_sum = 0, sq = 0, sum = 0;
  for (size_t i = 26; i < 29; ++i) {
    const double e = 10.0 + static_cast<double>(i) - history[i + 1].value(Variable::kPm25);
    abs_sum += std::fabs(e);
    sq += e * e;
    sum += e;
  }
  EXPECT_NEAR(st->mae, abs_sum / 3, 1e-9);
  EXPECT_NEAR(st->rmse, std::sqrt(sq / 3), 1e-9);
  EXPECT_NEAR(st->bias, sum / 3, 1e-9);
  auto hour = tracker.Stats(Variable::kPm25, 60, LinkKind::kPersistence);
  ASSERT_TRUE(hour);
  EXPECT_EQ(hour->joined_total, 29 - 11);
  EXPECT_FALSE(tracker.Stats(Variable::kPm25, 60, LinkKind::kStation));
  EXPECT_EQ(tracker.pending(), 11u);  // 60-minute predictions still in the future
}

TEST(Accuracy, MissingOrFlaggedTargetsAndGapsLeavePredictionsUnlabelled) {
  AccuracyTracker tracker(AccuracyConfig{10, 4});
  auto history = testing::MakeHistory(10);
  std::vector<Prediction> ps;
  for (int k = 1; k <= 3; ++k) {
    Prediction p = Answered(LinkKind::kLinear, 20, 5 * k);
    p.from_window_end_s = history[0].window_end_s;
    p.target_time_s = history[k].window_end_s;
    ps.push_back(p);
  }
  tracker.AddPredictions(ps);
  Reading flagged = history[1];
  flagged.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kSpike;
  EXPECT_TRUE(tracker.Observe(flagged).empty());
  // Window 2 never arrives (a gap): window 3 labels its own and drops 2's.
  EXPECT_EQ(tracker.Observe(history[3]).size(), 1u);
  EXPECT_EQ(tracker.unlabelled_total(), 2);
  EXPECT_EQ(tracker.pending(), 0u);
  // Bounded pending set.
  std::vector<Prediction> many(6, Answered(LinkKind::kLinear, 20, 5));
  tracker.AddPredictions(many);
  EXPECT_EQ(tracker.pending(), 4u);
  EXPECT_EQ(tracker.overflow_total(), 2);
}

}  // namespace
}  // namespace sentinelle::predict
