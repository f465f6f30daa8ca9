// The classifier's neighbour test with calibrated null windows
// (classify.h, docs/MONITORING.md, "Sensor faults are judged against the
// neighbours"): a station that departs from its neighbours on top of the
// network's common seasonal offset is a sensor fault; the offset alone,
// with or without noise, is nothing; a shared shift large enough to drift
// is regional; neighbours that moved beyond their own seasonal baseline make
// the verdict undetermined; a station that always differed from its
// neighbours by as much is not a fault.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "sentinelle/monitor/calibrate.h"
#include "sentinelle/monitor/classify.h"
#include "synthetic.h"

namespace sentinelle::monitor {
namespace {

using testing::GridNetwork;
using testing::kDay;

constexpr int64_t kNow = 1788220800;  // 2026-09-01T00:00:00Z
constexpr double kSeasonOffset = 0.4;  // reference IQRs

// A small deterministic jitter in [-amp, amp] per (station, index).
double Jitter(size_t station, int64_t k, double amp) {
  const uint64_t h = (station * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(k) * 0xBF58476D1CE4E5B9ull);
  return amp * (static_cast<double>(h % 2001) / 1000.0 - 1.0);
}

// Null windows of one station, one ending each day over the year before
// kNow: the shift sits at the seasonal offset around this time of year (the
// same weeks a year earlier) and near 0 otherwise, plus jitter; `bias`
// is added (a station that always reads differently from its neighbours).
NullSample YearOfNull(size_t station, double jitter, double bias = 0, int64_t days = 380) {
  NullSample s;
  for (int64_t d = days; d >= 7; --d) {
    const int64_t at = kNow - d * kDay;
    const bool season = std::llabs(d - 365) <= 30;
    s.at.push_back(at);
    s.shift.push_back((season ? kSeasonOffset : 0.0) + bias + Jitter(station, d, jitter));
    for (auto* v : {&s.psi, &s.ks, &s.js, &s.wasserstein_iqr}) v->push_back(0.01);
  }
  return s;
}

struct Net {
  std::vector<StationDrift> stations;
  std::vector<NullSample> nulls;  // one per station, pointed to by stations[i].null

  // Every station live at the seasonal offset plus jitter; none drifting.
  explicit Net(double live_jitter = 0.05, double null_jitter = 0.05) {
    const auto sites = GridNetwork();
    nulls.reserve(sites.size());
    for (size_t i = 0; i < sites.size(); ++i) {
      nulls.push_back(YearOfNull(i, null_jitter));
      StationDrift d;
      d.station_id = sites[i].id;
      d.lat = sites[i].lat;
      d.lon = sites[i].lon;
      d.evaluated = true;
      d.figures.shift = kSeasonOffset + Jitter(i, -1, live_jitter);
      d.figures.shift_bound = 1.2;  // a year of weather wanders that far
      stations.push_back(d);
    }
    Link();
  }
  void Link() {
    for (size_t i = 0; i < stations.size(); ++i) stations[i].null = &nulls[i];
  }
  StationDrift& At(const std::string& id) {
    for (auto& s : stations) {
      if (s.station_id == id) return s;
    }
    throw std::out_of_range(id);
  }
  NetworkVerdict Classify(const ClassifierConfig& config = {}) const {
    return ClassifyDrift(stations, config, kNow);
  }
};

const StationVerdict& VerdictOf(const NetworkVerdict& v, const std::string& id) {
  for (const auto& s : v.stations) {
    if (s.station_id == id) return s;
  }
  throw std::out_of_range(id);
}

// g11's neighbours: g01, g10, g12, g21 (4 km), the four nearest.
TEST(NeighbourTest, OneStationOffsetOnASharedSeasonalShiftIsASensorFault) {
  Net net;
  net.At("abj-g11").figures.shift = kSeasonOffset + 0.9;  // within its own thresholds
  auto v = net.Classify();
  const auto& g11 = VerdictOf(v, "abj-g11");
  EXPECT_EQ(g11.verdict, Verdict::kSensorFault);
  EXPECT_EQ(g11.seasonal_neighbours, 4);
  EXPECT_LE(std::fabs(g11.neighbour_moved), 1.0) << g11.neighbour_moved;
  EXPECT_GT(g11.relative_bound, 0.0);
  EXPECT_LT(g11.relative_bound, 0.5);  // the null differences are jitter only
  EXPECT_GE(g11.relative_windows, 300);
  EXPECT_GE(g11.relative_z, 3.0);
  for (const auto& s : v.stations) {
    if (s.station_id != "abj-g11") {
      EXPECT_EQ(s.verdict, Verdict::kNone) << s.station_id;
    }
  }
  EXPECT_FALSE(v.regional);

  // Drifting by its own thresholds too: still a sensor fault.
  net.At("abj-g11").drifting = true;
  net.At("abj-g11").figures.shift = kSeasonOffset + 1.8;
  EXPECT_EQ(VerdictOf(net.Classify(), "abj-g11").verdict, Verdict::kSensorFault);

  // The same figures without null windows (no calibration): the neighbours'
  // 0.4 IQR offset reads as movement against the fixed 0.2 and nothing is
  // concluded; this is what the seasonal baseline fixes.
  for (auto& s : net.stations) s.null = nullptr;
  v = net.Classify();
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kUndetermined);
  EXPECT_GT(VerdictOf(v, "abj-g11").neighbour_moved, 1.0);
  EXPECT_EQ(VerdictOf(v, "abj-g11").seasonal_neighbours, 0);
}

TEST(NeighbourTest, SharedSeasonalShiftWithNoiseIsNothing) {
  // Live jitter 0.1 IQR around the offset, nobody drifting.
  Net net(0.1, 0.05);
  const auto v = net.Classify();
  for (const auto& s : v.stations) EXPECT_EQ(s.verdict, Verdict::kNone) << s.station_id;
  EXPECT_FALSE(v.regional);
  // The most distant station from its neighbours' median is still no
  // sensor fault (under sensor_min_relative_shift and the outlier test).
  double worst = 0;
  for (const auto& s : v.stations) worst = std::max(worst, std::fabs(s.shift - s.neighbour_shift));
  EXPECT_LT(worst, 0.5);
}

TEST(NeighbourTest, SharedShiftLargeEnoughToDriftIsRegional) {
  Net net;
  for (size_t i = 0; i < net.stations.size(); ++i) {
    net.stations[i].drifting = true;
    net.stations[i].figures.shift = kSeasonOffset + 1.5 + Jitter(i, -2, 0.1);
  }
  const auto v = net.Classify();
  EXPECT_TRUE(v.regional);
  EXPECT_EQ(v.regional_stations.size(), 12u);
  for (const auto& s : v.stations) EXPECT_EQ(s.verdict, Verdict::kRegionalChange) << s.station_id;
}

// A city-wide change that hits one district hardest: the neighbours moved
// 0.4 IQR beyond where they sit at this time of year (within their own
// thresholds), the station far more. Not a sensor fault.
TEST(NeighbourTest, NeighboursBeyondTheirSeasonalBaselineMakeItUndetermined) {
  Net net;
  for (auto& s : net.stations) s.figures.shift = kSeasonOffset + 0.4;
  net.At("abj-g11").figures.shift = kSeasonOffset + 2.0;
  net.At("abj-g11").drifting = true;
  auto v = net.Classify();
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kUndetermined);
  EXPECT_GT(VerdictOf(v, "abj-g11").neighbour_moved, 1.0);
  // Not drifting by its own thresholds: no verdict at all.
  net.At("abj-g11").drifting = false;
  v = net.Classify();
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kNone);
  // Negative max_neighbour_shift disables the stillness condition.
  ClassifierConfig off;
  off.max_neighbour_shift = -1;
  EXPECT_EQ(VerdictOf(net.Classify(off), "abj-g11").verdict, Verdict::kSensorFault);
}

// A station that has always differed from its neighbours by up to ~0.6 IQR
// (a traffic site whose 14-day windows swing with the traffic) is not a
// sensor fault for a 0.7 IQR difference; it is for 1.5.
TEST(NeighbourTest, TheRelativeBoundIsWhatTheDifferenceDidInTheNullWindows) {
  Net net;
  const auto sites = GridNetwork();
  for (size_t i = 0; i < sites.size(); ++i) {
    if (sites[i].id == "abj-g11") net.nulls[i] = YearOfNull(i, 0.6);
  }
  net.Link();
  net.At("abj-g11").figures.shift = kSeasonOffset + 0.7;
  auto v = net.Classify();
  const auto& g11 = VerdictOf(v, "abj-g11");
  EXPECT_GT(g11.relative_bound, 0.7);
  EXPECT_GE(g11.relative_z, 3.0);  // an outlier now, but not beyond its own history
  EXPECT_EQ(g11.verdict, Verdict::kNone);
  net.At("abj-g11").drifting = true;
  EXPECT_EQ(VerdictOf(net.Classify(), "abj-g11").verdict, Verdict::kUndetermined);
  net.At("abj-g11").drifting = false;
  net.At("abj-g11").figures.shift = kSeasonOffset + 1.5;
  EXPECT_EQ(VerdictOf(net.Classify(), "abj-g11").verdict, Verdict::kSensorFault);
}

TEST(NeighbourTest, BaselinesNeedEnoughWindowsFromEarlierYears) {
  // Null windows over the last 100 days only: no same season in an earlier
  // year, so no seasonal baseline and the fixed 0.2 IQR applies.
  Net net;
  for (size_t i = 0; i < net.nulls.size(); ++i) net.nulls[i] = YearOfNull(i, 0.05, 0, 100);
  net.Link();
  net.At("abj-g11").figures.shift = kSeasonOffset + 0.9;
  auto v = net.Classify();
  EXPECT_EQ(VerdictOf(v, "abj-g11").seasonal_neighbours, 0);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kNone);
  // The relative bound needs only common windows: it is there once the
  // other conditions point at the station (stillness disabled here).
  EXPECT_EQ(VerdictOf(v, "abj-g11").relative_bound, 0.0);  // not computed
  ClassifierConfig no_still;
  no_still.max_neighbour_shift = -1;
  v = net.Classify(no_still);
  EXPECT_GT(VerdictOf(v, "abj-g11").relative_bound, 0.0);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kSensorFault);
  // Without an evaluation time there is no seasonal baseline either.
  Net full;
  full.At("abj-g11").figures.shift = kSeasonOffset + 0.9;
  EXPECT_EQ(VerdictOf(ClassifyDrift(full.stations, {}), "abj-g11").seasonal_neighbours, 0);
  // Too few common windows (fewer than min_relative_windows): no bound.
  for (size_t i = 0; i < net.nulls.size(); ++i) net.nulls[i] = YearOfNull(i, 0.05, 0, 12);
  net.Link();
  EXPECT_EQ(VerdictOf(net.Classify(no_still), "abj-g11").relative_bound, 0.0);
  EXPECT_EQ(VerdictOf(net.Classify(no_still), "abj-g11").relative_windows, 6);
}

TEST(NeighbourTest, AlarmCarriesTheNeighbourFigures) {
  Net net;
  net.At("abj-g11").figures.shift = kSeasonOffset + 0.9;
  AlarmBook book(AlarmConfig{1, 1, 10});
  const auto changed = UpdateDriftAlarms(book, "pm25", net.stations, net.Classify(), kNow);
  ASSERT_EQ(changed.size(), 1u);
  const Alarm& a = changed[0];
  EXPECT_EQ(a.kind, AlarmKind::kDriftSensorFault);
  EXPECT_EQ(a.subject, "abj-g11");
  EXPECT_GT(a.figures.at("relative_bound"), 0.0);
  EXPECT_EQ(a.figures.at("seasonal_neighbours"), 4);
  EXPECT_LE(std::fabs(a.figures.at("neighbour_moved")), 1.0);
  EXPECT_NE(a.reason.find("calibration windows"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("do not retrain"), std::string::npos) << a.reason;
}

}  // namespace
}  // namespace sentinelle::monitor
