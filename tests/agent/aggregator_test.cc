// Aggregation against hand-computed cases: means, counts, QC flags, AQI,
// vector-averaged wind direction, summed rain, late samples, gaps.
#include "sentinelle/agent/aggregator.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sentinelle::agent {
namespace {

constexpr int64_t kT0 = 1767225600000;  // 2026-01-01T00:00:00Z, a window boundary
constexpr int64_t kT0s = kT0 / 1000;

SensorLine Line(int64_t ts_ms, std::initializer_list<std::pair<Variable, double>> values) {
  SensorLine l;
  l.ts_ms = ts_ms;
  l.state.fill(SampleState::kAbsent);
  l.value.fill(kMissingValue);
  for (auto [v, x] : values) {
    const int i = static_cast<int>(v);
    l.state[i] = std::isnan(x) ? SampleState::kInvalid : SampleState::kValue;
    l.value[i] = x;
  }
  return l;
}

class AggregatorTest : public ::testing::Test {
 protected:
  Aggregator agg_{"st-1", AggregationConfig{}, QcConfig{}};
  TimeQuality tq_{true, "ntp"};
};

TEST_F(AggregatorTest, MeanCountAndAqiOfOneWindow) {
  agg_.Add(Line(kT0 + 0, {{Variable::kPm25, 10}, {Variable::kTemperatureC, 20}}));
  agg_.Add(Line(kT0 + 60000, {{Variable::kPm25, 20}, {Variable::kTemperatureC, 21}}));
  agg_.Add(Line(kT0 + 299999, {{Variable::kPm25, 30}, {Variable::kTemperatureC, 22}}));
  // Not due before end + grace (300 s + 30 s).
  EXPECT_TRUE(agg_.CloseDue(kT0 + 329999, tq_).empty());
  auto out = agg_.CloseDue(kT0 + 330000, tq_);
  ASSERT_EQ(out.size(), 1u);
  const Reading& r = out[0];
  EXPECT_EQ(r.window_end_s, kT0s + 300);
  EXPECT_EQ(r.interval_s, 300);
  EXPECT_EQ(r.station_id, "st-1");
  EXPECT_DOUBLE_EQ(r.value(Variable::kPm25), 20.0);
  EXPECT_EQ(r.samples[static_cast<int>(Variable::kPm25)], 3);
  EXPECT_EQ(r.flag(Variable::kPm25), QcFlag::kOk);
  EXPECT_DOUBLE_EQ(r.value(Variable::kTemperatureC), 21.0);
  EXPECT_EQ(r.flag(Variable::kNo2), QcFlag::kMissing);
  EXPECT_TRUE(std::isnan(r.value(Variable::kNo2)));
  EXPECT_EQ(r.samples[static_cast<int>(Variable::kNo2)], 0);
  // PM2.5 20.0 µg/m³: (100-51)/(35.4-9.1) * (20.0-9.1) + 51 = 71.3 -> 71.
  ASSERT_TRUE(r.aqi.has_value());
  EXPECT_EQ(*r.aqi, 71);
  EXPECT_EQ(r.aqi_dominant, Variable::kPm25);
  EXPECT_TRUE(r.time.synced);
  EXPECT_EQ(r.time.source, "ntp");
}

TEST_F(AggregatorTest, WindDirectionIsAveragedAsAVector) {
  agg_.Add(Line(kT0 + 1000, {{Variable::kWindDirDeg, 350}}));
  agg_.Add(Line(kT0 + 2000, {{Variable::kWindDirDeg, 10}}));
  agg_.Add(Line(kT0 + 300000 + 1000, {{Variable::kWindDirDeg, 80}}));
  agg_.Add(Line(kT0 + 300000 + 2000, {{Variable::kWindDirDeg, 100}}));
  auto out = agg_.CloseDue(kT0 + 630000, tq_);
  ASSERT_EQ(out.size(), 2u);
  // 350 and 10 average to north (0), not to the arithmetic 180.
  const double d0 = out[0].value(Variable::kWindDirDeg);
  EXPECT_NEAR(std::min(d0, 360 - d0), 0.0, 1e-9);
  EXPECT_NEAR(out[1].value(Variable::kWindDirDeg), 90.0, 1e-9);
}

TEST_F(AggregatorTest, RainIsSummedNotAveraged) {
  agg_.Add(Line(kT0 + 1000, {{Variable::kRainMm, 0.2}}));
  agg_.Add(Line(kT0 + 2000, {{Variable::kRainMm, 0.3}}));
  agg_.Add(Line(kT0 + 3000, {{Variable::kRainMm, 0.5}}));
  auto out = agg_.CloseDue(kT0 + 330000, tq_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].value(Variable::kRainMm), 1.0, 1e-12);
  EXPECT_EQ(out[0].flag(Variable::kRainMm), QcFlag::kOk);
  EXPECT_EQ(out[0].samples[static_cast<int>(Variable::kRainMm)], 3);
}

TEST_F(AggregatorTest, RejectedSamplesAreExcludedAndFlagTheMajority) {
  // pm25: 10, 5000 (out of range), 12 -> mean 11 of 2, ok (1 rejected < 2 valid).
  agg_.Add(Line(kT0 + 1000, {{Variable::kPm25, 10}, {Variable::kHumidityPct, 50},
                             {Variable::kNo2, 5000}}));
  agg_.Add(Line(kT0 + 2000, {{Variable::kPm25, 5000}, {Variable::kHumidityPct, kMissingValue},
                             {Variable::kNo2, -1}}));
  agg_.Add(Line(kT0 + 3000, {{Variable::kPm25, 12}, {Variable::kHumidityPct, kMissingValue}}));
  auto out = agg_.CloseDue(kT0 + 330000, tq_);
  ASSERT_EQ(out.size(), 1u);
  const Reading& r = out[0];
  EXPECT_DOUBLE_EQ(r.value(Variable::kPm25), 11.0);
  EXPECT_EQ(r.samples[static_cast<int>(Variable::kPm25)], 2);
  EXPECT_EQ(r.flag(Variable::kPm25), QcFlag::kOk);
  // humidity: one valid 50, two NaN -> invalid outnumber valid: flag invalid, value kept.
  EXPECT_EQ(r.flag(Variable::kHumidityPct), QcFlag::kInvalid);
  EXPECT_DOUBLE_EQ(r.value(Variable::kHumidityPct), 50.0);
  EXPECT_EQ(r.samples[static_cast<int>(Variable::kHumidityPct)], 1);
  // no2: both out of range -> out_of_range, no value, n = 0.
  EXPECT_EQ(r.flag(Variable::kNo2), QcFlag::kOutOfRange);
  EXPECT_TRUE(std::isnan(r.value(Variable::kNo2)));
  // AQI only from ok pollutants (no2 is flagged): pm25 11.0 ->
  // (100-51)/(35.4-9.1) * (11.0-9.1) + 51 = 54.54 -> 55.
  ASSERT_TRUE(r.aqi.has_value());
  EXPECT_EQ(*r.aqi, 55);
  EXPECT_EQ(r.aqi_dominant, Variable::kPm25);
  auto qc = agg_.TakeQcCounts();
  EXPECT_EQ(qc[static_cast<int>(Variable::kPm25)][static_cast<int>(QcFlag::kOutOfRange)], 1u);
  EXPECT_EQ(qc[static_cast<int>(Variable::kNo2)][static_cast<int>(QcFlag::kOutOfRange)], 2u);
  EXPECT_EQ(qc[static_cast<int>(Variable::kHumidityPct)][static_cast<int>(QcFlag::kInvalid)], 2u);
  EXPECT_EQ(agg_.TakeQcCounts()[0][0], 0u);  // taken
}

TEST_F(AggregatorTest, LoneSpikeIsExcluded) {
  agg_.Add(Line(kT0 + 1000, {{Variable::kPm25, 10}}));
  agg_.Add(Line(kT0 + 2000, {{Variable::kPm25, 10}}));
  agg_.Add(Line(kT0 + 3000, {{Variable::kPm25, 400}}));  // jump 390 > 250
  agg_.Add(Line(kT0 + 4000, {{Variable::kPm25, 13}}));
  auto out = agg_.CloseDue(kT0 + 330000, tq_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].value(Variable::kPm25), 11.0);
  EXPECT_EQ(out[0].samples[static_cast<int>(Variable::kPm25)], 3);
  EXPECT_EQ(out[0].flag(Variable::kPm25), QcFlag::kOk);
}

TEST_F(AggregatorTest, NoValidPollutantMeansNullAqi) {
  agg_.Add(Line(kT0 + 1000, {{Variable::kTemperatureC, 25}}));
  auto out = agg_.CloseDue(kT0 + 330000, tq_);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].aqi.has_value());
  EXPECT_FALSE(out[0].aqi_dominant.has_value());
}

TEST_F(AggregatorTest, LateSamplesAreRefusedAfterTheWindowClosed) {
  agg_.Add(Line(kT0 + 1000, {{Variable::kPm25, 10}}));
  ASSERT_EQ(agg_.CloseDue(kT0 + 330000, tq_).size(), 1u);
  EXPECT_EQ(agg_.Add(Line(kT0 + 299000, {{Variable::kPm25, 99}})), Aggregator::AddResult::kLate);
  // Within grace the window was still open: accepted.
  EXPECT_EQ(agg_.Add(Line(kT0 + 300000 + 5000, {{Variable::kPm25, 10}})),
            Aggregator::AddResult::kAccepted);
}

TEST_F(AggregatorTest, RestoredLastWindowIsNeverReopened) {
  agg_.SetLastClosedWindowEnd(kT0s + 600);
  EXPECT_EQ(agg_.Add(Line(kT0 + 599000, {{Variable::kPm25, 1}})), Aggregator::AddResult::kLate);
  EXPECT_EQ(agg_.Add(Line(kT0 + 600000, {{Variable::kPm25, 1}})),
            Aggregator::AddResult::kAccepted);
}

TEST_F(AggregatorTest, ShortGapsBecomeMissingWindowsLongGapsAreSkipped) {
  AggregationConfig cfg;
  cfg.max_gap_windows = 3;
  Aggregator agg("st-1", cfg, QcConfig{});
  agg.Add(Line(kT0 + 1000, {{Variable::kPm25, 10}}));
  agg.Add(Line(kT0 + 3 * 300000 + 1000, {{Variable::kPm25, 10}}));  // 2 empty windows between
  auto out = agg.CloseDue(kT0 + 4 * 300000 + 30000, tq_);
  ASSERT_EQ(out.size(), 4u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].window_end_s, kT0s + 300 * static_cast<int64_t>(i + 1));
  }
  EXPECT_EQ(out[1].flag(Variable::kPm25), QcFlag::kMissing);
  EXPECT_EQ(out[2].flag(Variable::kPm25), QcFlag::kMissing);
  // Clock jumps 10 windows ahead with no samples: more than 3 in a row -> skipped.
  out = agg.CloseDue(kT0 + 14 * 300000 + 30000, tq_);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(agg.skipped_gap_windows(), 10);
  EXPECT_EQ(agg.last_closed_window_end(), kT0s + 14 * 300);
}

TEST_F(AggregatorTest, StuckSensorIsFlaggedAfterConfiguredWindows) {
  QcConfig qc;
  qc.stuck_windows = 3;
  Aggregator agg("st-1", AggregationConfig{}, qc);
  std::vector<Reading> all;
  for (int w = 0; w < 4; ++w) {
    agg.Add(Line(kT0 + w * 300000 + 1000, {{Variable::kTemperatureC, 21.5}}));
  }
  all = agg.CloseDue(kT0 + 4 * 300000 + 30000, tq_);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].flag(Variable::kTemperatureC), QcFlag::kOk);
  EXPECT_EQ(all[2].flag(Variable::kTemperatureC), QcFlag::kStuck);
  EXPECT_EQ(all[3].flag(Variable::kTemperatureC), QcFlag::kStuck);
}

TEST_F(AggregatorTest, OpenWindowLimitDropsTheOldest) {
  AggregationConfig cfg;
  cfg.max_open_windows = 2;
  Aggregator agg("st-1", cfg, QcConfig{});
  for (int w = 0; w < 4; ++w) agg.Add(Line(kT0 + w * 300000, {{Variable::kPm25, 10}}));
  EXPECT_EQ(agg.EnforceOpenLimit(), 2);
  EXPECT_EQ(agg.open_windows(), 2u);
}

}  // namespace
}  // namespace sentinelle::agent
