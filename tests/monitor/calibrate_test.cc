// Drift thresholds calibrated on the reference period (calibrate.h) and the
// calibrated accuracy bound (RmseFactorFromWindows): an autocorrelated
// feature gets a threshold that absorbs its own window-to-window wander, an
// independent one keeps the default, and a real shift still reads as drift.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "sentinelle/monitor/accuracy.h"
#include "sentinelle/monitor/calibrate.h"
#include "synthetic.h"

namespace sentinelle::monitor {
namespace {

using testing::DiurnalSeries;
using testing::k5Min;
using testing::kDay;
using testing::kDryStart;

constexpr int kPm25 = static_cast<int>(Variable::kPm25);
constexpr int kPressure = static_cast<int>(Variable::kPressureHpa);

// pm25: independent noise around a daily cycle. pressure: a synoptic
// anomaly with a 2.5-day time constant (AR(1) on 5-minute steps), so 14-day
// windows of it differ from each other far more than independent samples.
class Weather {
 public:
  explicit Weather(uint64_t seed) : pm_(seed), rng_(seed + 1000) {}
  Reading Next(int64_t ts, double pm_scale = 1.0) {
    const double phi = std::exp(-static_cast<double>(k5Min) / (2.5 * kDay));
    anomaly_ = phi * anomaly_ + std::sqrt(1 - phi * phi) * 4.0 * noise_(rng_);
    Reading r;
    r.station_id = "s";
    r.window_end_s = ts;
    r.values[kPm25] = pm_.At(ts, pm_scale);
    r.qc[kPm25] = QcFlag::kOk;
    r.values[kPressure] = 1010.0 + anomaly_ + 0.3 * noise_(rng_);
    r.qc[kPressure] = QcFlag::kOk;
    return r;
  }

 private:
  DiurnalSeries pm_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> noise_{0.0, 1.0};
  double anomaly_ = 0;
};

std::vector<Reading> Period(Weather& w, int64_t from, int days, double pm_scale = 1.0) {
  std::vector<Reading> out;
  for (int64_t ts = from; ts < from + days * kDay; ts += k5Min) out.push_back(w.Next(ts, pm_scale));
  return out;
}

struct Calibrated {
  std::shared_ptr<const ReferenceSet> reference;
  std::vector<NullSample> samples;
  std::vector<std::optional<DriftThresholds>> thresholds;
};

// 70 dry-season days: reference histograms and null windows from the same rows.
Calibrated CalibrateOn(const std::vector<Reading>& rows, const CalibrationOptions& options = {}) {
  ReferenceBuilder b({"pm25", "pressure_hpa"});
  for (const Reading& r : rows) b.AddReading(r);
  auto built = b.Build();
  EXPECT_TRUE(built.ok()) << built.message();
  Calibrated c;
  c.reference = std::make_shared<const ReferenceSet>(std::move(*built));
  CollectNullSamples(c.reference, rows, WindowOptions{}, DriftConfig{}, options, c.samples);
  c.thresholds = CalibrateThresholds(c.samples, DriftThresholds{}, options);
  return c;
}

TEST(CalibrateTest, SampleQuantileInterpolatesOrderStatistics) {
  EXPECT_TRUE(std::isnan(SampleQuantile({}, 0.5)));
  EXPECT_DOUBLE_EQ(SampleQuantile({3, 1, 2}, 0.0), 1);
  EXPECT_DOUBLE_EQ(SampleQuantile({3, 1, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(SampleQuantile({3, 1, 2}, 1.0), 3);
  EXPECT_DOUBLE_EQ(SampleQuantile({0, 10}, 0.25), 2.5);
  EXPECT_DOUBLE_EQ(SampleQuantile({0, 10}, 7.0), 10);  // clamped
}

TEST(CalibrateTest, NullWindowsAreFullWindowsOnePerStep) {
  Weather w(7);
  const auto rows = Period(w, kDryStart, 70);
  const Calibrated c = CalibrateOn(rows);
  ASSERT_EQ(c.samples.size(), 2u);
  // Windows of 14 whole days ending at each day boundary after the first
  // full day: 70 - 1 - 14 + 1 = 56, the last one ending at the final
  // midnight needs a value at or after it, which the period does not have.
  EXPECT_EQ(c.samples[0].size(), 55u);
  EXPECT_EQ(c.samples[1].size(), 55u);
  CalibrationOptions weekly;
  weekly.step_s = 7 * kDay;
  const Calibrated cw = CalibrateOn(rows, weekly);
  EXPECT_EQ(cw.samples[0].size(), 8u);
  // Each window's shift and end time come along: the ends are one step
  // apart, on the bucket boundaries (less a second), so two stations
  // replayed over the same days give windows that line up.
  for (const NullSample& s : c.samples) {
    ASSERT_EQ(s.shift.size(), s.size());
    ASSERT_EQ(s.at.size(), s.size());
    for (size_t k = 0; k < s.size(); ++k) {
      EXPECT_EQ((s.at[k] + 1) % kDay, 0) << k;
      if (k) {
        EXPECT_EQ(s.at[k] - s.at[k - 1], kDay);
      }
    }
  }
  EXPECT_EQ(c.samples[0].at.front(), kDryStart + 15 * kDay - 1);
}

TEST(CalibrateTest, ShiftBoundIsTheNullQuantileOfTheAbsoluteShiftTimesTheMargin) {
  Weather w(11);
  const Calibrated c = CalibrateOn(Period(w, kDryStart, 70));
  for (size_t i = 0; i < c.samples.size(); ++i) {
    ASSERT_TRUE(c.thresholds[i].has_value());
    std::vector<double> moved;
    for (double x : c.samples[i].shift) moved.push_back(std::fabs(x));
    EXPECT_NEAR(c.thresholds[i]->shift, SampleQuantile(moved, 0.95) * 1.5, 1e-12) << i;
  }
  // Pressure wanders more than independent noise does.
  EXPECT_GT(c.thresholds[1]->shift, c.thresholds[0]->shift);
  // Evaluations report the bound of the thresholds they used.
  StationDriftWindow win("s", c.reference);
  win.SetThresholds(c.thresholds);
  for (const Reading& r : Period(w, kDryStart + 70 * kDay, 3)) win.AddReading(r);
  const auto r = win.Evaluate(kDryStart + 73 * kDay, DriftConfig{});
  EXPECT_DOUBLE_EQ(r[1].shift_bound, c.thresholds[1]->shift);
  StationDriftWindow plain("s", c.reference);
  for (const Reading& x : Period(w, kDryStart + 73 * kDay, 3)) plain.AddReading(x);
  EXPECT_EQ(plain.Evaluate(kDryStart + 76 * kDay, DriftConfig{})[1].shift_bound, 0.0);
}

TEST(CalibrateTest, AutocorrelatedFeatureGetsAHigherThresholdIndependentOneKeepsTheDefault) {
  Weather w(11);
  const Calibrated c = CalibrateOn(Period(w, kDryStart, 70));
  ASSERT_TRUE(c.thresholds[0].has_value());
  ASSERT_TRUE(c.thresholds[1].has_value());
  const DriftThresholds defaults;
  // Independent noise: null PSI is tiny, the default is the floor.
  EXPECT_DOUBLE_EQ(c.thresholds[0]->psi, defaults.psi);
  EXPECT_DOUBLE_EQ(c.thresholds[0]->ks, defaults.ks);
  // Pressure's 14-day windows wander: its threshold is above the default and
  // equals the null quantile times the margin.
  EXPECT_GT(c.thresholds[1]->psi, defaults.psi);
  EXPECT_GT(c.thresholds[1]->ks, defaults.ks);
  EXPECT_NEAR(c.thresholds[1]->psi, SampleQuantile(c.samples[1].psi, 0.95) * 1.5, 1e-12);
}

TEST(CalibrateTest, CalibratedThresholdsQuietOrdinaryWeatherAndStillCatchAShift) {
  Weather train(21);
  const auto rows = Period(train, kDryStart, 70);
  const Calibrated c = CalibrateOn(rows);
  // Later weeks of the same weather process, the same season. The process
  // carries on (same anomaly state) as it would in production.
  const int64_t live_from = kDryStart + 70 * kDay;
  int fixed_alarms = 0, calibrated_alarms = 0, shifted_caught = 0;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Weather live(100 + seed);
    StationDriftWindow fixed("s", c.reference);
    StationDriftWindow calibrated("s", c.reference);
    calibrated.SetThresholds(c.thresholds);
    StationDriftWindow shifted("s", c.reference);
    shifted.SetThresholds(c.thresholds);
    Weather live2(200 + seed);
    for (const Reading& r : Period(live, live_from, 14)) {
      fixed.AddReading(r);
      calibrated.AddReading(r);
    }
    for (const Reading& r : Period(live2, live_from, 14, 1.6)) shifted.AddReading(r);
    const int64_t at = live_from + 14 * kDay - 1;
    const auto f = fixed.Evaluate(at, DriftConfig{});
    const auto k = calibrated.Evaluate(at, DriftConfig{});
    const auto s = shifted.Evaluate(at, DriftConfig{});
    fixed_alarms += f[1].status == DriftStatus::kDrift;
    calibrated_alarms += k[0].status == DriftStatus::kDrift || k[1].status == DriftStatus::kDrift;
    shifted_caught += s[0].status == DriftStatus::kDrift;
  }
  EXPECT_GE(fixed_alarms, 3) << "fixed thresholds should read pressure weather as drift";
  EXPECT_LE(calibrated_alarms, 1);
  EXPECT_EQ(shifted_caught, 6);
}

TEST(CalibrateTest, TooFewNullWindowsKeepTheConfiguredThresholds) {
  Weather w(3);
  const Calibrated c = CalibrateOn(Period(w, kDryStart, 20));  // 6 windows < 8
  ASSERT_EQ(c.thresholds.size(), 2u);
  EXPECT_FALSE(c.thresholds[0].has_value());
  EXPECT_FALSE(c.thresholds[1].has_value());
  NullSample s;
  s.psi = s.ks = s.js = s.wasserstein_iqr = std::vector<double>(10, 0.01);
  const auto t = CalibrateThresholds({s}, DriftThresholds{}, CalibrationOptions{});
  ASSERT_TRUE(t[0].has_value());
  EXPECT_DOUBLE_EQ(t[0]->psi, 0.25);  // floor
  EXPECT_DOUBLE_EQ(t[0]->wasserstein_iqr, 0.5);
}

TEST(CalibrateTest, SetThresholdsChecksTheFeatureCount) {
  Weather w(5);
  const Calibrated c = CalibrateOn(Period(w, kDryStart, 30));
  StationDriftWindow win("s", c.reference);
  EXPECT_THROW(win.SetThresholds({DriftThresholds{}}), std::invalid_argument);
  win.SetThresholds({});
  EXPECT_TRUE(win.thresholds().empty());
  std::vector<NullSample> samples;
  EXPECT_THROW(CollectNullSamples(nullptr, {}, WindowOptions{}, DriftConfig{},
                                  CalibrationOptions{}, samples),
               std::invalid_argument);
}

TEST(CalibrateTest, RmseFactorFromValidationWindows) {
  // Ratios 0.8 .. 1.7 over an overall RMSE of 10.
  std::vector<double> w;
  for (int i = 0; i < 10; ++i) w.push_back(8.0 + i);
  const double f = RmseFactorFromWindows(w, 10.0, 1.0, 1.25, 1.5, 8);
  EXPECT_NEAR(f, 1.7 * 1.25, 1e-12);
  EXPECT_DOUBLE_EQ(RmseFactorFromWindows(std::vector<double>(10, 10.0), 10.0, 0.95, 1.25, 1.5, 8),
                   1.5);  // floor
  EXPECT_TRUE(std::isnan(RmseFactorFromWindows(w, 10.0, 0.95, 1.25, 1.5, 11)));
  EXPECT_TRUE(std::isnan(RmseFactorFromWindows(w, 0.0, 0.95, 1.25, 1.5, 1)));
}

TEST(CalibrateTest, AccuracyEvaluateUsesTheCalibratedFactor) {
  AccuracyTracker tracker;
  AccuracyKey key{"s", Variable::kPm25, 60, "xgboost", 3};
  for (int i = 0; i < 48; ++i) tracker.Add(key, kDryStart + i * k5Min, 20.0 + (i % 2 ? 2 : -2), 20.0);
  // Live RMSE 2 vs validation 1.1: 1.8x.
  AlarmConfig ac;
  ac.raise_after = 1;
  DegradationConfig dc;
  const int64_t now = kDryStart + 48 * k5Min;
  AlarmBook fixed_book(ac), calibrated_book(ac);
  auto fixed = tracker.Evaluate(now, [](const AccuracyKey&) {
    return std::optional<ValidationFigures>(ValidationFigures{1.1, NAN});
  }, dc, fixed_book);
  auto calibrated = tracker.Evaluate(now, [](const AccuracyKey&) {
    return std::optional<ValidationFigures>(ValidationFigures{1.1, NAN, 2.0});
  }, dc, calibrated_book);
  ASSERT_EQ(fixed.size(), 1u);
  EXPECT_NE(fixed[0].reason.find("bound 1.5x"), std::string::npos) << fixed[0].reason;
  EXPECT_TRUE(calibrated.empty());
}

}  // namespace
}  // namespace sentinelle::monitor
