// Live accuracy accumulators and the accuracy-degradation alarm.
#include <gtest/gtest.h>

#include <cmath>

#include "sentinelle/monitor/accuracy.h"
#include "synthetic.h"

namespace sentinelle::monitor {
namespace {

using testing::kDryStart;

AccuracyKey Key(const std::string& station = "abj-plateau") {
  return AccuracyKey{station, Variable::kPm25, 60, "xgboost", 12};
}

TEST(AccuracyTest, KnownFigures) {
  AccuracyTracker t;
  // Errors +3, -1, +2, 0: RMSE sqrt(14/4), MAE 6/4, bias 4/4.
  const double pred[] = {13, 9, 42, 60};
  const double actual[] = {10, 10, 40, 60};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(t.Add(Key(), kDryStart + i * 300, pred[i], actual[i]));
  const auto s = t.Summary(Key(), kDryStart + 3600);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->n, 4u);
  EXPECT_NEAR(s->rmse, std::sqrt(14.0 / 4), 1e-12);
  EXPECT_NEAR(s->mae, 1.5, 1e-12);
  EXPECT_NEAR(s->bias, 1.0, 1e-12);
  // PM2.5 categories (EPA 2024): 0-9 good, 9.1-35.4 moderate, 35.5-55.4 USG, 55.5+ unhealthy.
  // (13,10) moderate/moderate hit; (9,10) good/moderate miss; (42,40) hit; (60,60) hit.
  EXPECT_EQ(s->category_n, 4u);
  EXPECT_NEAR(s->hit_rate, 0.75, 1e-12);
  EXPECT_FALSE(t.Summary(Key("other"), kDryStart).has_value());
}

TEST(AccuracyTest, NonPollutantsHaveNoHitRate) {
  AccuracyTracker t;
  AccuracyKey k = Key();
  k.target = Variable::kTemperatureC;
  ASSERT_TRUE(t.Add(k, kDryStart, 27, 28));
  const auto s = t.Summary(k, kDryStart);
  EXPECT_EQ(s->category_n, 0u);
  EXPECT_TRUE(std::isnan(s->hit_rate));
}

TEST(AccuracyTest, QcFlaggedActualsAreRefused) {
  AccuracyTracker t;
  Reading r;
  r.window_end_s = kDryStart;
  r.values[static_cast<int>(Variable::kPm25)] = 500;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kSpike;
  EXPECT_FALSE(t.Add(Key(), 20.0, r));
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  r.values[static_cast<int>(Variable::kPm25)] = 22;
  EXPECT_TRUE(t.Add(Key(), 20.0, r));
  EXPECT_FALSE(t.Add(Key(), NAN, r));
  EXPECT_EQ(t.refused_values(), 2u);
  EXPECT_NEAR(t.Summary(Key(), kDryStart)->rmse, 2.0, 1e-12);
}

TEST(AccuracyTest, WindowExpiresAndMemoryIsBounded) {
  AccuracyTracker t(AccuracyOptions{3600, 24, 2});
  for (int h = 0; h < 48; ++h) ASSERT_TRUE(t.Add(Key(), kDryStart + h * 3600, h < 24 ? 100 : 11, 10));
  // Only the last 24 hours count: all errors are 1.
  EXPECT_NEAR(t.Summary(Key(), kDryStart + 47 * 3600)->rmse, 1.0, 1e-12);
  EXPECT_EQ(t.Summary(Key(), kDryStart + 47 * 3600)->n, 24u);
  EXPECT_FALSE(t.Add(Key(), kDryStart, 1, 1));  // older than the window
  // Key cap.
  EXPECT_TRUE(t.Add(Key("b"), kDryStart + 47 * 3600, 1, 1));
  EXPECT_FALSE(t.Add(Key("c"), kDryStart + 47 * 3600, 1, 1));
  EXPECT_EQ(t.refused_keys(), 1u);
  t.Prune(kDryStart + 100 * 3600);
  EXPECT_TRUE(t.Keys().empty());
}

TEST(AccuracyTest, SustainedDegradationRaisesThenClears) {
  AccuracyTracker t(AccuracyOptions{3600, 6});
  AlarmBook book(AlarmConfig{3, 3, 100});
  const auto validation = [](const AccuracyKey& k) -> std::optional<ValidationFigures> {
    if (k.model_version != 12) return std::nullopt;
    return ValidationFigures{4.0, 0.8};
  };
  DegradationConfig cfg;
  cfg.min_samples = 36;
  std::vector<Alarm> events;
  // Per hour: 12 predictions. Hours 0-11 error 3 (fine), 12-29 error 9 (2.25x), then fine.
  for (int h = 0; h < 48; ++h) {
    const double err = (h >= 12 && h < 30) ? 9.0 : 3.0;
    for (int i = 1; i <= 12; ++i) {
      const int64_t ts = kDryStart + h * 3600 + i * 300;
      t.Add(Key(), ts, 20 + ((i % 2) ? err : -err), 20);
      AccuracyKey other = Key("abj-cocody");
      other.model_version = 13;  // no validation figures: never judged
      t.Add(other, ts, 200, 20);
    }
    for (auto& a : t.Evaluate(kDryStart + (h + 1) * 3600, validation, cfg, book)) {
      events.push_back(a);
    }
  }
  ASSERT_EQ(events.size(), 2u);
  const Alarm& raised = events[0];
  EXPECT_EQ(raised.kind, AlarmKind::kAccuracyDegraded);
  EXPECT_EQ(raised.subject, "abj-plateau");
  EXPECT_EQ(raised.what, "pm25/60/xgboost/v12");
  EXPECT_TRUE(raised.open());
  EXPECT_GT(raised.figures.at("rmse_ratio"), 1.5);
  EXPECT_DOUBLE_EQ(raised.figures.at("validation_rmse"), 4.0);
  EXPECT_NE(raised.reason.find("validation RMSE"), std::string::npos);
  // The 6-hour window crosses 1.5x after a few bad hours, then 3 bad evaluations.
  EXPECT_GT(raised.start_s, kDryStart + 12 * 3600);
  EXPECT_LT(raised.raised_s, kDryStart + 20 * 3600);
  const Alarm& cleared = events[1];
  EXPECT_EQ(cleared.id, raised.id);
  ASSERT_TRUE(cleared.end_s.has_value());
  EXPECT_GT(*cleared.end_s, kDryStart + 30 * 3600);
  EXPECT_LT(*cleared.end_s, kDryStart + 40 * 3600);
  EXPECT_EQ(cleared.clear_reason.rfind("pm25/60/xgboost/v12 at abj-plateau: live RMSE ", 0), 0u)
      << cleared.clear_reason;
  EXPECT_NE(cleared.clear_reason.find("(bound 1.5x)"), std::string::npos) << cleared.clear_reason;
  EXPECT_NE(cleared.reason.find("validation RMSE"), std::string::npos);  // what was wrong stays
  EXPECT_TRUE(book.Open().empty());
}

TEST(AccuracyTest, HarderWeatherIsNotDegradationButLostSkillIs) {
  // Validation: model RMSE 4, persistence RMSE 8 (ratio 0.5). Live, errors
  // double (2x > 1.5x), first for both forecasters (harder weather), then
  // for the model alone.
  AccuracyTracker t(AccuracyOptions{3600, 6});
  AlarmBook book(AlarmConfig{3, 3, 100});
  const auto validation = [](const AccuracyKey&) -> std::optional<ValidationFigures> {
    ValidationFigures v{4.0, NAN};
    v.baseline_ratio = 0.5;
    return v;
  };
  DegradationConfig cfg;  // skill_factor 1.2
  auto run = [&](int from_h, int to_h, double model_err, double base_err) {
    std::vector<Alarm> events;
    bool added = true;
    for (int h = from_h; h < to_h; ++h) {
      for (int i = 1; i <= 12; ++i) {
        const double sign = (i % 2) ? 1 : -1;
        added = t.Add(Key(), kDryStart + h * 3600 + i * 300, 20 + sign * model_err, 20,
                      20 + sign * base_err) && added;
      }
      for (auto& a : t.Evaluate(kDryStart + (h + 1) * 3600, validation, cfg, book)) {
        events.push_back(a);
      }
    }
    EXPECT_TRUE(added);
    return events;
  };
  std::vector<Alarm> events = run(0, 24, 8.0, 16.0);
  EXPECT_TRUE(events.empty()) << events.front().reason;
  const auto s = t.Summary(Key(), kDryStart + 24 * 3600);
  EXPECT_EQ(s->baseline_n, s->n);
  EXPECT_NEAR(s->baseline_rmse, 16.0, 1e-9);
  EXPECT_NEAR(s->paired_rmse, 8.0, 1e-9);
  EXPECT_NEAR(s->rmse / 4.0, 2.0, 1e-9);  // beyond the 1.5x bound, yet no alarm
  // Persistence back to its validation error, the model still at 2x: skill lost.
  events = run(24, 48, 8.0, 8.0);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.front().open());
  EXPECT_GT(events.front().figures.at("skill_ratio"), 1.2);
  EXPECT_LE(events.front().figures.at("skill_ratio"), 2.0 + 1e-9);
  EXPECT_DOUBLE_EQ(events.front().figures.at("skill_factor"), 1.2);
  EXPECT_NE(events.front().reason.find("lost skill"), std::string::npos);
  // Harder weather again (persistence as bad as the model): the model is
  // still 2x its validation RMSE, yet the alarm clears, and says why.
  events = run(48, 72, 8.0, 16.0);
  ASSERT_FALSE(events.empty());
  const Alarm& cleared = events.back();
  ASSERT_FALSE(cleared.open());
  EXPECT_NE(cleared.clear_reason.find("is 2x the validation RMSE 4 (bound 1.5x), but it kept its "
                                      "skill against persistence"),
            std::string::npos)
      << cleared.clear_reason;
  EXPECT_TRUE(book.Open().empty());
}

TEST(AccuracyTest, WithoutABaselineTheAbsoluteRuleDecides) {
  AccuracyTracker t(AccuracyOptions{3600, 6});
  AlarmBook book(AlarmConfig{1, 1, 100});
  ValidationFigures v{4.0, NAN};
  v.baseline_ratio = 0.5;
  for (int i = 1; i <= 48; ++i) ASSERT_TRUE(t.Add(Key(), kDryStart + i * 60, 28, 20));  // no baseline
  const auto events =
      t.Evaluate(kDryStart + 3600, [&](const AccuracyKey&) { return v; }, DegradationConfig{}, book);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].figures.count("skill_ratio"), 0u);
}

TEST(AccuracyTest, FewSamplesGiveNoVerdict) {
  AccuracyTracker t;
  AlarmBook book(AlarmConfig{1, 1, 10});
  for (int i = 0; i < 10; ++i) t.Add(Key(), kDryStart + i * 300, 100, 10);
  const auto v = [](const AccuracyKey&) { return std::optional<ValidationFigures>({4.0, NAN}); };
  EXPECT_TRUE(t.Evaluate(kDryStart + 3600, v, DegradationConfig{}, book).empty());
  DegradationConfig low;
  low.min_samples = 5;
  const auto events = t.Evaluate(kDryStart + 3600, v, low, book);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].figures.count("validation_hit_rate"), 0u);
}

}  // namespace
}  // namespace sentinelle::monitor
