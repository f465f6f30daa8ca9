// Physics-ish properties of generated history: they are what a model trained
// on the data should learn, so each one is checked on real generated output.
#include <gtest/gtest.h>

#include <cmath>

#include "sim_test_util.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT

const char* kPlateau = "abj-plateau";      // traffic
const char* kCocody = "abj-cocody";        // residential
const char* kYopougon = "abj-yopougon";    // industrial

// Three weeks of the dry season for the first three stations (traffic,
// residential, industrial), shared by the tests of one process.
const Generated& DrySeasonMonth() {
  static const Generated g = Gen(MakeScenario(3, "2026-01-05T00:00:00Z", 21));
  return g;
}

TEST(ModelTest, EveryValueIsPlausibleAndComplete) {
  const Generated& g = DrySeasonMonth();
  // 3 stations x 21 days x 288 windows; the strict reader already refused any
  // value outside the plausible ranges of reading.h.
  ASSERT_EQ(g.rows.size(), 3u * 21 * 288);
  for (const HistoryRow& r : g.rows) {
    for (int v = 0; v < kVariableCount; ++v) ASSERT_FALSE(std::isnan(r.values[v]));
    ASSERT_EQ(r.ts_s % 300, 0);
  }
}

TEST(ModelTest, Pm25NeverExceedsPm10) {
  const Generated& g = DrySeasonMonth();
  for (const HistoryRow& r : g.rows) {
    ASSERT_LE(r.values[kPm25], r.values[kPm10]) << r.station_id << " " << FormatUtc(r.ts_s);
  }
}

TEST(ModelTest, TrafficPeaksInTheRushHours) {
  const Generated& g = DrySeasonMonth();
  auto weekday_hours = [](int lo, int hi) {
    return [lo, hi](const HistoryRow& r) {
      const int dow = static_cast<int>((r.ts_s / 86400 + 3) % 7);
      const int h = HourOf(r.ts_s - 1);
      return dow <= 4 && h >= lo && h < hi;
    };
  };
  for (int v : {kNo2, kCo}) {
    const double morning = Mean(g.rows, kPlateau, v, weekday_hours(7, 9));
    const double evening = Mean(g.rows, kPlateau, v, weekday_hours(18, 21));
    const double night = Mean(g.rows, kPlateau, v, weekday_hours(2, 4));
    const double afternoon = Mean(g.rows, kPlateau, v, weekday_hours(13, 16));
    EXPECT_GT(morning, 1.4 * night) << Name(static_cast<Variable>(v));
    EXPECT_GT(morning, 1.8 * afternoon) << Name(static_cast<Variable>(v));
    EXPECT_GT(evening, 1.4 * afternoon) << Name(static_cast<Variable>(v));
  }
  const double pm_morning = Mean(g.rows, kPlateau, kPm25, weekday_hours(7, 9));
  const double pm_afternoon = Mean(g.rows, kPlateau, kPm25, weekday_hours(13, 16));
  EXPECT_GT(pm_morning, 1.3 * pm_afternoon);
}

TEST(ModelTest, WeekendsHaveLessTraffic) {
  const Generated& g = DrySeasonMonth();
  auto rush = [](bool weekday) {
    return [weekday](const HistoryRow& r) {
      const int dow = static_cast<int>((r.ts_s / 86400 + 3) % 7);
      const int h = HourOf(r.ts_s - 1);
      return (dow <= 4) == weekday && dow != 5 && h >= 6 && h < 9;
    };
  };
  EXPECT_GT(Mean(g.rows, kPlateau, kNo2, rush(true)), 1.5 * Mean(g.rows, kPlateau, kNo2, rush(false)));
}

TEST(ModelTest, OzonePeaksInTheAfternoonAndOpposesNo2) {
  const Generated& g = DrySeasonMonth();
  for (const char* station : {kPlateau, kCocody}) {
    std::vector<double> o3(24), no2(24);
    for (int h = 0; h < 24; ++h) {
      auto at = [h](const HistoryRow& r) { return HourOf(r.ts_s - 1) == h; };
      o3[h] = Mean(g.rows, station, kO3, at);
      no2[h] = Mean(g.rows, station, kNo2, at);
    }
    const int peak = static_cast<int>(std::max_element(o3.begin(), o3.end()) - o3.begin());
    EXPECT_GE(peak, 11) << station;
    EXPECT_LE(peak, 16) << station;
    EXPECT_GT(o3[peak], 3 * o3[3]) << station;
    EXPECT_LT(Correlation(o3, no2), -0.5) << station;
  }
  // Window by window too, not only on average.
  std::vector<double> o3, no2;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id != kPlateau) continue;
    o3.push_back(r.values[kO3]);
    no2.push_back(r.values[kNo2]);
  }
  EXPECT_LT(Correlation(o3, no2), -0.3);
}

TEST(ModelTest, TemperatureAndHumidityCycleInOpposition) {
  const Generated& g = DrySeasonMonth();
  auto at = [](int h) { return [h](const HistoryRow& r) { return HourOf(r.ts_s - 1) == h; }; };
  EXPECT_GT(Mean(g.rows, kCocody, kT, at(14)), Mean(g.rows, kCocody, kT, at(5)) + 3);
  EXPECT_LT(Mean(g.rows, kCocody, kRh, at(14)), Mean(g.rows, kCocody, kRh, at(5)) - 8);
}

TEST(ModelTest, StationTypesShiftLevels) {
  const Generated& g = DrySeasonMonth();
  EXPECT_GT(Mean(g.rows, kPlateau, kNo2), 1.5 * Mean(g.rows, kCocody, kNo2));
  EXPECT_GT(Mean(g.rows, kPlateau, kCo), 1.3 * Mean(g.rows, kCocody, kCo));
  EXPECT_GT(Mean(g.rows, kYopougon, kSo2), 2 * Mean(g.rows, kCocody, kSo2));
  // Residential districts burn charcoal and wood in the evening.
  auto evening = [](const HistoryRow& r) { const int h = HourOf(r.ts_s - 1); return h >= 19 && h < 22; };
  auto midday = [](const HistoryRow& r) { const int h = HourOf(r.ts_s - 1); return h >= 12 && h < 15; };
  EXPECT_GT(Mean(g.rows, kCocody, kPm25, evening), 1.5 * Mean(g.rows, kCocody, kPm25, midday));
}

TEST(ModelTest, RainWashesParticlesOut) {
  // The long rains: compare PM in windows just after heavy rain with dry
  // windows at the same hours of the day.
  auto g = Gen(MakeScenario(2, "2026-05-15T00:00:00Z", 45));
  for (const char* station : {kPlateau, kCocody}) {
    std::vector<const HistoryRow*> rows;
    for (const HistoryRow& r : g.rows) {
      if (r.station_id == station) rows.push_back(&r);
    }
    std::vector<double> wet_sum(24), wet_n(24), dry_sum(24), dry_n(24);
    for (size_t i = 36; i < rows.size(); ++i) {
      double rain_3h = 0, rain_24h = 0;
      for (size_t k = 1; k <= 288 && k <= i; ++k) {
        if (k <= 36) rain_3h += rows[i - k]->values[kRain];
        rain_24h += rows[i - k]->values[kRain];
      }
      const int h = HourOf(rows[i]->ts_s - 1);
      if (rain_3h > 3) {
        wet_sum[h] += rows[i]->values[kPm10];
        ++wet_n[h];
      } else if (rain_24h == 0) {
        dry_sum[h] += rows[i]->values[kPm10];
        ++dry_n[h];
      }
    }
    double ratio_sum = 0;
    int hours = 0;
    for (int h = 0; h < 24; ++h) {
      if (wet_n[h] < 10 || dry_n[h] < 10) continue;
      ratio_sum += (wet_sum[h] / wet_n[h]) / (dry_sum[h] / dry_n[h]);
      ++hours;
    }
    ASSERT_GE(hours, 8) << station << ": too little rain to compare";
    EXPECT_LT(ratio_sum / hours, 0.75) << station;
  }
}

TEST(ModelTest, WetAndDustySeasons) {
  Scenario sc = MakeScenario(1, "2026-01-01T00:00:00Z", 365);
  sc.interval_s = 3600;  // hourly keeps a year cheap
  auto g = Gen(sc);
  ASSERT_EQ(g.rows.size(), 8760u);
  auto month = [](int m) {
    return [m](const HistoryRow& r) { return std::stoi(FormatUtc(r.ts_s - 1).substr(5, 2)) == m; };
  };
  double rain_jan = 0, rain_jun = 0;
  for (const HistoryRow& r : g.rows) {
    const int m = std::stoi(FormatUtc(r.ts_s - 1).substr(5, 2));
    if (m == 1) rain_jan += r.values[kRain];
    if (m == 6) rain_jun += r.values[kRain];
  }
  EXPECT_GT(rain_jun, 150);
  EXPECT_GT(rain_jun, 8 * rain_jan);
  // Harmattan dust: PM10 in January well above June's.
  EXPECT_GT(Mean(g.rows, kPlateau, kPm10, month(1)), 1.5 * Mean(g.rows, kPlateau, kPm10, month(6)));
  EXPECT_LT(Mean(g.rows, kPlateau, kRh, month(1)), Mean(g.rows, kPlateau, kRh, month(6)) - 10);
}

TEST(ModelTest, SameSeedSameBytesOtherSeedOtherData) {
  Scenario sc = MakeScenario(3, "2026-03-01T00:00:00Z", 3);
  sc.faults.push_back(*ParseFaultFlag("spike,probability=0.05,vars=pm25", sc.start_s));
  auto a = Gen(sc);
  auto b = Gen(sc);
  EXPECT_EQ(a.csv_text, b.csv_text);
  EXPECT_EQ(a.truth_log, b.truth_log);
  sc.seed = 43;
  auto c = Gen(sc);
  EXPECT_NE(a.csv_text, c.csv_text);
}

TEST(ModelTest, SampleRateAndWindowSteppingAgree) {
  // The same station stepped every 10 s (window means) or every 300 s:
  // different draws, same statistics.
  Scenario sc = MakeScenario(1, "2026-02-02T00:00:00Z", 14);
  auto direct = Gen(sc);
  GenerateOptions fine;
  fine.sample_s = 10;
  auto sampled = Gen(sc, fine);
  ASSERT_EQ(direct.rows.size(), sampled.rows.size());
  for (int v : {kT, kRh, kPm25, kPm10, kNo2, kO3, kCo}) {
    const double a = Mean(direct.rows, kPlateau, v);
    const double b = Mean(sampled.rows, kPlateau, v);
    EXPECT_NEAR(a, b, 0.15 * std::abs(a)) << Name(static_cast<Variable>(v));
  }
  auto rush = [](const HistoryRow& r) { const int h = HourOf(r.ts_s - 1); return h >= 7 && h < 9; };
  EXPECT_NEAR(Mean(direct.rows, kPlateau, kNo2, rush), Mean(sampled.rows, kPlateau, kNo2, rush),
              0.2 * Mean(direct.rows, kPlateau, kNo2, rush));
}

TEST(ModelTest, RegimeChangeShiftsOneStationOnly) {
  Scenario base = MakeScenario(3, "2026-03-01T00:00:00Z", 20);
  Scenario drifted = base;
  drifted.regimes.push_back(
      *ParseRegimeFlag("traffic,station=abj-plateau,at=2026-03-11T00:00:00Z,factor=2.2", 0));
  auto a = Gen(base);
  auto b = Gen(drifted);
  const int64_t at = *ParseUtc("2026-03-11T00:00:00Z");
  auto before = [at](const HistoryRow& r) { return r.ts_s <= at; };
  auto after = [at](const HistoryRow& r) { return r.ts_s > at + 6 * 3600; };
  // Identical before the change; much more NO2 after it.
  EXPECT_DOUBLE_EQ(Mean(a.rows, kPlateau, kNo2, before), Mean(b.rows, kPlateau, kNo2, before));
  EXPECT_GT(Mean(b.rows, kPlateau, kNo2, after), 1.6 * Mean(a.rows, kPlateau, kNo2, after));
  // The other stations are untouched, bit for bit.
  for (const char* other : {kCocody, kYopougon}) {
    EXPECT_DOUBLE_EQ(Mean(a.rows, other, kNo2), Mean(b.rows, other, kNo2));
  }
  ASSERT_EQ(b.truth_log.size(), 1u);
  EXPECT_NE(b.truth_log[0].find("\"fault\":\"regime_change\""), std::string::npos);

  // A new industrial source upwind raises SO2 while the sensors stay healthy.
  Scenario plant = base;
  plant.regimes.push_back(*ParseRegimeFlag(
      "industrial_source,station=abj-cocody,at=2026-03-11T00:00:00Z,factor=2,bearing_deg=215", 0));
  auto c = Gen(plant);
  EXPECT_GT(Mean(c.rows, kCocody, kSo2, after), 3 * Mean(a.rows, kCocody, kSo2, after));
}

TEST(ModelTest, DefaultNetworkIsAbidjanAndScales) {
  auto five = DefaultNetwork(5);
  ASSERT_EQ(five.size(), 5u);
  EXPECT_EQ(five[0].id, "abj-plateau");
  EXPECT_EQ(five[4].id, "abj-abobo");
  for (const auto& s : five) {
    EXPECT_NEAR(s.lat, 5.35, 0.2);
    EXPECT_NEAR(s.lon, -4.0, 0.2);
  }
  auto many = DefaultNetwork(40);
  std::set<std::string> ids;
  for (const auto& s : many) {
    EXPECT_TRUE(ValidStationId(s.id)) << s.id;
    ids.insert(s.id);
  }
  EXPECT_EQ(ids.size(), 40u);
}

}  // namespace
}  // namespace sentinelle::sim
