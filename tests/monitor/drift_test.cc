// The drift evaluator (context-aware comparison, QC exclusion, minimum
// counts), the sensor-fault / regional-change classifier and the alarm
// lifecycle, separately and wired together on synthetic networks.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "sentinelle/monitor/alarm.h"
#include "sentinelle/monitor/classify.h"
#include "sentinelle/monitor/drift.h"
#include "synthetic.h"

namespace sentinelle::monitor {
namespace {

using testing::DiurnalSeries;
using testing::GridNetwork;
using testing::k5Min;
using testing::kDay;
using testing::kDryStart;

constexpr int kPm25 = static_cast<int>(Variable::kPm25);

Reading MakeReading(const std::string& station, int64_t ts, double pm25,
                    QcFlag flag = QcFlag::kOk) {
  Reading r;
  r.station_id = station;
  r.window_end_s = ts;
  r.values[kPm25] = pm25;
  r.qc[kPm25] = flag;
  return r;
}

// Reference: 28 dry-season days of the diurnal series.
std::shared_ptr<const ReferenceSet> DiurnalReference(uint64_t seed = 1) {
  ReferenceBuilder b({"pm25"});
  DiurnalSeries s(seed);
  for (int64_t ts = kDryStart; ts < kDryStart + 28 * kDay; ts += k5Min) {
    b.AddReading(MakeReading("ref", ts, s.At(ts)));
  }
  auto set = b.Build();
  EXPECT_TRUE(set.ok()) << set.message();
  return std::make_shared<const ReferenceSet>(std::move(set).value());
}

// The window period starts right after the reference period.
constexpr int64_t kLiveStart = kDryStart + 28 * kDay;

TEST(DriftEvaluatorTest, SameProcessIsQuiet) {
  StationDriftWindow w("abj-plateau", DiurnalReference());
  DiurnalSeries s(99);
  for (int64_t ts = kLiveStart; ts < kLiveStart + 7 * kDay; ts += k5Min) {
    w.AddReading(MakeReading("abj-plateau", ts, s.At(ts)));
  }
  const auto r = w.Evaluate(kLiveStart + 7 * kDay, DriftConfig{});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, DriftStatus::kOk) << r[0].psi << " " << r[0].ks;
  EXPECT_EQ(r[0].window_count, 7u * 288u);
  EXPECT_DOUBLE_EQ(r[0].covered_share, 1.0);
  EXPECT_LT(r[0].psi, 0.05);
  EXPECT_LT(r[0].ks, 0.05);
  EXPECT_LT(r[0].js, 0.02);
  EXPECT_EQ(r[0].votes, 0);
}

TEST(DriftEvaluatorTest, CalibrationDriftIsDetectedByEveryStatistic) {
  StationDriftWindow w("abj-plateau", DiurnalReference());
  DiurnalSeries s(99);
  for (int64_t ts = kLiveStart; ts < kLiveStart + 7 * kDay; ts += k5Min) {
    w.AddReading(MakeReading("abj-plateau", ts, s.At(ts, 1.6)));
  }
  const auto r = w.Evaluate(kLiveStart + 7 * kDay, DriftConfig{});
  EXPECT_EQ(r[0].status, DriftStatus::kDrift);
  EXPECT_EQ(r[0].votes, 4);
  EXPECT_GT(r[0].score, 1.0);
  // Mean of the series is ~39: a 60 % gain moves it by ~23 units.
  EXPECT_NEAR(r[0].wasserstein, 0.6 * 39.4, 4.0);
}

TEST(DriftEvaluatorTest, ContextAwareComparisonIgnoresTheDailyCycle) {
  auto ref = DiurnalReference();
  // A window that saw only nights (e.g. a station that reports at night only,
  // or an evaluation early in the morning over the last 8 hours).
  StationDriftWindow w("abj-plateau", ref);
  DiurnalSeries s(7);
  for (int64_t ts = kLiveStart; ts < kLiveStart + 7 * kDay; ts += k5Min) {
    if (BandOf(ts) == Band::kNight) w.AddReading(MakeReading("abj-plateau", ts, s.At(ts)));
  }
  DriftConfig aware;
  DriftConfig naive;
  naive.context_aware = false;
  const auto a = w.Evaluate(kLiveStart + 7 * kDay, aware);
  const auto n = w.Evaluate(kLiveStart + 7 * kDay, naive);
  EXPECT_EQ(a[0].status, DriftStatus::kOk) << "psi " << a[0].psi << " ks " << a[0].ks;
  EXPECT_EQ(n[0].status, DriftStatus::kDrift) << "psi " << n[0].psi << " ks " << n[0].ks;
  EXPECT_GT(n[0].psi, 10 * a[0].psi);
}

TEST(DriftEvaluatorTest, WetSeasonWindowAgainstADryOnlyReferenceIsInsufficient) {
  StationDriftWindow w("abj-plateau", DiurnalReference());
  DiurnalSeries s(7);
  for (int64_t ts = testing::kWetStart; ts < testing::kWetStart + 3 * kDay; ts += k5Min) {
    w.AddReading(MakeReading("abj-plateau", ts, s.At(ts)));
  }
  const auto r = w.Evaluate(testing::kWetStart + 3 * kDay, DriftConfig{});
  EXPECT_EQ(r[0].status, DriftStatus::kInsufficient);
  EXPECT_EQ(r[0].compared_count, 0u);
  EXPECT_FALSE(r[0].detail.empty());
}

TEST(DriftEvaluatorTest, TooFewValuesIsInsufficient) {
  StationDriftWindow w("abj-plateau", DiurnalReference());
  DiurnalSeries s(7);
  for (int64_t ts = kLiveStart; ts < kLiveStart + kDay / 2; ts += k5Min) {
    w.AddReading(MakeReading("abj-plateau", ts, s.At(ts, 3.0)));
  }
  EXPECT_EQ(w.Evaluate(kLiveStart + kDay / 2, DriftConfig{})[0].status,
            DriftStatus::kInsufficient);
  DriftConfig relaxed;
  relaxed.min_window_count = 100;
  EXPECT_EQ(w.Evaluate(kLiveStart + kDay / 2, relaxed)[0].status, DriftStatus::kDrift);
}

TEST(DriftEvaluatorTest, QcFlaggedValuesNeverCountAsDrift) {
  auto ref = DiurnalReference();
  StationDriftWindow flagged("abj-cocody", ref), unflagged("abj-cocody", ref);
  DiurnalSeries s(8), s2(8);
  for (int64_t ts = kLiveStart; ts < kLiveStart + 7 * kDay; ts += k5Min) {
    const bool stuck = (ts / 3600) % 2 == 0;  // half the windows: a stuck sensor at 850
    const double v = stuck ? 850.0 : s.At(ts);
    const double v2 = stuck ? 850.0 : s2.At(ts);
    flagged.AddReading(MakeReading("abj-cocody", ts, v, stuck ? QcFlag::kStuck : QcFlag::kOk));
    unflagged.AddReading(MakeReading("abj-cocody", ts, v2));
  }
  const auto f = flagged.Evaluate(kLiveStart + 7 * kDay, DriftConfig{});
  const auto u = unflagged.Evaluate(kLiveStart + 7 * kDay, DriftConfig{});
  EXPECT_EQ(f[0].status, DriftStatus::kOk);
  EXPECT_EQ(f[0].window_count, 7u * 144u);
  EXPECT_EQ(flagged.flagged_skipped(), 7u * 144u);
  EXPECT_EQ(u[0].status, DriftStatus::kDrift);
  // Missing values and NaN rows are skipped the same way.
  StationDriftWindow rows("abj-cocody", ref);
  const double nan_row[] = {NAN};
  rows.AddRow(kLiveStart, nan_row);
  EXPECT_EQ(rows.window(0).Total(), 0u);
  EXPECT_EQ(rows.flagged_skipped(), 1u);
  EXPECT_FALSE(rows.AddValue(0, kLiveStart, INFINITY));
  EXPECT_FALSE(rows.AddValue(5, kLiveStart, 1.0));
}

TEST(DriftEvaluatorTest, PredictionDriftUsesTheSameMachinery) {
  // Reference of a model's 60-minute PM2.5 predictions on its validation period.
  ReferenceBuilder b({"pred/pm25/60"});
  DiurnalSeries s(3);
  for (int64_t ts = kDryStart; ts < kDryStart + 28 * kDay; ts += k5Min) {
    b.AddValue(0, ts, 0.9 * s.At(ts + 3600));
  }
  auto ref = std::make_shared<const ReferenceSet>(b.Build().value());
  StationDriftWindow same("abj-plateau", ref), biased("abj-plateau", ref);
  DiurnalSeries l1(4), l2(4);
  for (int64_t ts = kLiveStart; ts < kLiveStart + 7 * kDay; ts += k5Min) {
    same.AddValue(0, ts, 0.9 * l1.At(ts + 3600));
    biased.AddValue(0, ts, 0.9 * l2.At(ts + 3600) + 25.0);  // a model gone wrong
  }
  EXPECT_EQ(same.Evaluate(kLiveStart + 7 * kDay, {})[0].status, DriftStatus::kOk);
  EXPECT_EQ(biased.Evaluate(kLiveStart + 7 * kDay, {})[0].status, DriftStatus::kDrift);
}

TEST(DriftEvaluatorTest, MismatchedEdgesAreAProgrammerError) {
  auto ref = DiurnalReference();
  RollingHistogram other({0, 1, 2});
  EXPECT_THROW(CompareToReference(ref->features[0], other, DriftConfig{}), std::invalid_argument);
}

// ---- classifier ----

std::vector<StationDrift> Network(const std::vector<std::string>& drifting) {
  std::vector<StationDrift> out;
  for (const auto& site : GridNetwork()) {
    StationDrift d;
    d.station_id = site.id;
    d.lat = site.lat;
    d.lon = site.lon;
    d.evaluated = true;
    d.drifting = std::find(drifting.begin(), drifting.end(), site.id) != drifting.end();
    d.score = d.drifting ? 3.0 : 0.2;
    d.figures.psi = d.drifting ? 0.8 : 0.01;
    d.figures.shift = d.drifting ? 2.0 : 0.05;
    out.push_back(d);
  }
  return out;
}

const StationVerdict& VerdictOf(const NetworkVerdict& v, const std::string& id) {
  for (const auto& s : v.stations) {
    if (s.station_id == id) return s;
  }
  throw std::out_of_range(id);
}

TEST(ClassifierTest, DistanceIsGreatCircle) {
  // One degree of latitude ~ 111.2 km.
  EXPECT_NEAR(DistanceKm(5.0, -4.0, 6.0, -4.0), 111.19, 0.05);
  EXPECT_NEAR(DistanceKm(5.3, -4.0, 5.3, -4.0), 0.0, 1e-9);
}

TEST(ClassifierTest, OneStationDriftingAloneIsASensorFault) {
  const auto v = ClassifyDrift(Network({"abj-g11"}));
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kSensorFault);
  EXPECT_EQ(VerdictOf(v, "abj-g11").neighbours, 4);
  EXPECT_EQ(VerdictOf(v, "abj-g11").drifting_neighbours, 0);
  EXPECT_FALSE(v.regional);
  for (const auto& s : v.stations) {
    if (s.station_id != "abj-g11") {
      EXPECT_EQ(s.verdict, Verdict::kNone) << s.station_id;
    }
  }
}

TEST(ClassifierTest, ARegionDriftingTogetherIsARegionalChange) {
  // The eastern half of the grid (columns 2 and 3): 6 of 12 stations.
  const std::vector<std::string> east = {"abj-g02", "abj-g03", "abj-g12",
                                         "abj-g13", "abj-g22", "abj-g23"};
  ClassifierConfig cfg;
  cfg.network_share = 0.9;  // make it regional through neighbourhoods, not the network share
  const auto v = ClassifyDrift(Network(east), cfg);
  EXPECT_TRUE(v.regional);
  for (const auto& id : east) {
    EXPECT_EQ(VerdictOf(v, id).verdict, Verdict::kRegionalChange) << id;
  }
  EXPECT_EQ(v.regional_stations.size(), 6u);
  EXPECT_EQ(VerdictOf(v, "abj-g00").verdict, Verdict::kNone);
  // The whole network drifting is regional through the network share.
  std::vector<std::string> all;
  for (const auto& s : GridNetwork()) all.push_back(s.id);
  const auto w = ClassifyDrift(Network(all));
  EXPECT_TRUE(w.regional);
  EXPECT_EQ(w.regional_stations.size(), 12u);
}

TEST(ClassifierTest, TwoNeighboursDriftingAreNotARegion) {
  const auto v = ClassifyDrift(Network({"abj-g00", "abj-g01"}));
  EXPECT_FALSE(v.regional);
  // Corner g00 has 3 neighbours in reach (g01, g10, g11 at ~5.6 km), 1 drifting.
  EXPECT_NE(VerdictOf(v, "abj-g00").verdict, Verdict::kRegionalChange);
  EXPECT_NE(VerdictOf(v, "abj-g00").verdict, Verdict::kNone);
}

TEST(ClassifierTest, IsolatedAndUnevaluatedStations) {
  auto net = Network({"far"});
  StationDrift far;
  far.station_id = "far";
  far.lat = 7.69;  // Bouake, ~300 km north
  far.lon = -5.03;
  far.evaluated = true;
  far.drifting = true;
  net.push_back(far);
  net[0].evaluated = false;  // insufficient data at abj-g00
  net[0].drifting = true;
  const auto v = ClassifyDrift(net);
  EXPECT_EQ(VerdictOf(v, "far").verdict, Verdict::kIsolated);
  EXPECT_EQ(VerdictOf(v, "abj-g00").verdict, Verdict::kNone);
  EXPECT_EQ(v.evaluated, 12);
  EXPECT_EQ(v.drifting, 1);
}

// ---- alarms ----

Observation Obs(bool bad, double psi = 0.5) {
  Observation o;
  o.kind = AlarmKind::kDriftSensorFault;
  o.subject = "abj-plateau";
  o.what = "pm25";
  o.bad = bad;
  o.reason = bad ? "pm25 drifts" : "";
  o.figures = {{"psi", psi}};
  return o;
}

TEST(AlarmBookTest, HysteresisRaisesAndClearsWithStartFiguresAndEnd) {
  AlarmBook book(AlarmConfig{3, 2, 10});
  const int64_t t0 = 1000, step = 3600;
  // Flapping never raises.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(book.Observe(Obs(i % 2 == 0), t0 + i * step), AlarmBook::Change::kNone);
  }
  EXPECT_TRUE(book.Open().empty());
  const int64_t t1 = t0 + 10 * step;
  EXPECT_EQ(book.Observe(Obs(true, 0.4), t1), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Observe(Obs(true, 0.9), t1 + step), AlarmBook::Change::kNone);
  Alarm a;
  EXPECT_EQ(book.Observe(Obs(true, 0.6), t1 + 2 * step, &a), AlarmBook::Change::kRaised);
  EXPECT_EQ(a.start_s, t1);
  EXPECT_EQ(a.raised_s, t1 + 2 * step);
  EXPECT_TRUE(a.open());
  EXPECT_EQ(a.kind, AlarmKind::kDriftSensorFault);
  EXPECT_EQ(a.reason, "pm25 drifts");
  EXPECT_DOUBLE_EQ(a.figures.at("psi"), 0.6);
  EXPECT_DOUBLE_EQ(a.peak.at("psi"), 0.9);
  ASSERT_EQ(book.Open().size(), 1u);
  // One good evaluation between bad ones does not clear.
  EXPECT_EQ(book.Observe(Obs(false), t1 + 3 * step), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Observe(Obs(true, 0.7), t1 + 4 * step), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Find(AlarmKind::kDriftSensorFault, "abj-plateau", "pm25")->bad_evaluations, 4);
  EXPECT_EQ(book.Observe(Obs(false), t1 + 5 * step), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Observe(Obs(false), t1 + 6 * step, &a), AlarmBook::Change::kCleared);
  EXPECT_FALSE(a.open());
  EXPECT_EQ(*a.end_s, t1 + 5 * step);
  EXPECT_EQ(*a.cleared_s, t1 + 6 * step);
  EXPECT_DOUBLE_EQ(a.figures.at("psi"), 0.7);  // the figures behind it stay
  EXPECT_EQ(a.reason, "pm25 drifts");
  EXPECT_EQ(a.clear_reason, "within bounds at 2 consecutive evaluations");  // none given
  EXPECT_TRUE(book.Open().empty());
  ASSERT_EQ(book.Closed().size(), 1u);
  const auto j = AlarmToJson(book.Closed().front());
  EXPECT_EQ(j["clear_reason"], "within bounds at 2 consecutive evaluations");
  EXPECT_EQ(j["kind"], "drift_sensor_fault");
  EXPECT_EQ(j["start"], FormatUtc(t1));
  EXPECT_EQ(j["end"], FormatUtc(t1 + 5 * step));
  EXPECT_EQ(j["figures"]["psi"], 0.7);
  // A new streak raises a new alarm with a new id.
  for (int i = 0; i < 3; ++i) book.Observe(Obs(true), t1 + (10 + i) * step, &a);
  EXPECT_EQ(a.id, 2u);
  EXPECT_EQ(a.start_s, t1 + 10 * step);
  EXPECT_TRUE(AlarmToJson(a)["clear_reason"].is_null());  // open
  // The evaluation that clears it gives the reason.
  Observation good = Obs(false);
  good.good_reason = "pm25 back within its thresholds";
  book.Observe(good, t1 + 13 * step);
  EXPECT_EQ(book.Observe(good, t1 + 14 * step, &a), AlarmBook::Change::kCleared);
  EXPECT_EQ(a.clear_reason, "pm25 back within its thresholds");
}

TEST(AlarmBookTest, ClosedAlarmsAreBounded) {
  AlarmBook book(AlarmConfig{1, 1, 3});
  for (int i = 0; i < 5; ++i) {
    book.Observe(Obs(true), i * 100);
    book.Observe(Obs(false), i * 100 + 50);
  }
  EXPECT_EQ(book.Closed().size(), 3u);
  EXPECT_EQ(book.closed_dropped(), 2u);
  EXPECT_EQ(book.Closed().front().id, 3u);
  EXPECT_THROW(AlarmBook(AlarmConfig{0, 1, 3}), std::invalid_argument);
}

// ---- wired together: station windows -> classifier -> alarm book ----

class NetworkMonitor {
 public:
  explicit NetworkMonitor(std::shared_ptr<const ReferenceSet> ref) {
    for (const auto& site : GridNetwork()) {
      windows_.emplace_back(site.id, ref, WindowOptions{3600, 72});  // 3-day window
      series_.emplace_back(std::hash<std::string>{}(site.id));
    }
  }
  // Feeds one hour of readings; `scale(station index, ts)` is the sensor gain.
  template <typename Scale>
  void FeedHour(int64_t hour_start, Scale scale) {
    for (size_t i = 0; i < windows_.size(); ++i) {
      for (int64_t ts = hour_start + k5Min; ts <= hour_start + 3600; ts += k5Min) {
        windows_[i].AddReading(MakeReading(windows_[i].station_id(), ts,
                                           series_[i].At(ts, scale(i, ts))));
      }
    }
  }
  std::vector<Alarm> Evaluate(int64_t now_s, AlarmBook& book) {
    std::vector<StationDrift> drift;
    const auto sites = GridNetwork();
    for (size_t i = 0; i < windows_.size(); ++i) {
      const auto r = windows_[i].Evaluate(now_s, DriftConfig{})[0];
      StationDrift d;
      d.station_id = sites[i].id;
      d.lat = sites[i].lat;
      d.lon = sites[i].lon;
      d.evaluated = r.status != DriftStatus::kInsufficient;
      d.drifting = r.status == DriftStatus::kDrift;
      d.score = r.score;
      d.figures = r;
      drift.push_back(d);
    }
    return UpdateDriftAlarms(book, "pm25", drift, ClassifyDrift(drift), now_s);
  }

 private:
  std::vector<StationDriftWindow> windows_;
  std::vector<DiurnalSeries> series_;
};

TEST(DriftAlarmsTest, CalibrationDriftAtOneStationRaisesASensorAlarmOnly) {
  NetworkMonitor net(DiurnalReference());
  AlarmBook book;
  const int64_t fault_at = kLiveStart + 3 * kDay;
  std::vector<Alarm> raised;
  // Six days, evaluated every 6 hours; abj-g12's PM2.5 sensor gains 80 % on day 3.
  for (int64_t h = kLiveStart; h < kLiveStart + 6 * kDay; h += 3600) {
    net.FeedHour(h, [&](size_t i, int64_t ts) { return i == 6 && ts >= fault_at ? 1.8 : 1.0; });
    if ((h + 3600) % (6 * 3600) == 0) {
      for (auto& a : net.Evaluate(h + 3600, book)) raised.push_back(a);
    }
  }
  ASSERT_EQ(raised.size(), 1u);
  const Alarm& a = raised[0];
  EXPECT_EQ(a.kind, AlarmKind::kDriftSensorFault);
  EXPECT_EQ(a.subject, "abj-g12");
  EXPECT_EQ(a.what, "pm25");
  EXPECT_GE(a.start_s, fault_at);
  // The shift must stand out from the neighbours' (relative z >= 3) before
  // the verdict is a sensor fault: within two days with a 3-day window.
  EXPECT_LE(a.start_s, fault_at + 2 * kDay);
  EXPECT_GE(a.figures.at("relative_z"), 3.0);
  EXPECT_GT(a.figures.at("psi"), 0.25);
  EXPECT_EQ(a.figures.at("drifting_neighbours"), 0);
  EXPECT_NE(a.reason.find("do not retrain"), std::string::npos) << a.reason;
  EXPECT_FALSE(book.Find(AlarmKind::kDriftRegional, "network", "pm25").has_value());
  // The sensor is repaired: the window forgets the drifted days and the alarm ends.
  std::vector<Alarm> cleared;
  for (int64_t h = kLiveStart + 6 * kDay; h < kLiveStart + 11 * kDay; h += 3600) {
    net.FeedHour(h, [](size_t, int64_t) { return 1.0; });
    if ((h + 3600) % (6 * 3600) == 0) {
      for (auto& c : net.Evaluate(h + 3600, book)) cleared.push_back(c);
    }
  }
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].id, a.id);
  ASSERT_TRUE(cleared[0].end_s.has_value());
  EXPECT_GT(*cleared[0].end_s, kLiveStart + 6 * kDay);
  EXPECT_TRUE(book.Open().empty());
}

TEST(DriftAlarmsTest, NetworkWideChangeRaisesARegionalAlarmAndNoSensorAlarm) {
  NetworkMonitor net(DiurnalReference());
  AlarmBook book;
  const int64_t change_at = kLiveStart + 2 * kDay;
  std::vector<Alarm> raised;
  for (int64_t h = kLiveStart; h < kLiveStart + 5 * kDay; h += 3600) {
    net.FeedHour(h, [&](size_t, int64_t ts) { return ts >= change_at ? 1.7 : 1.0; });
    if ((h + 3600) % (6 * 3600) == 0) {
      for (auto& a : net.Evaluate(h + 3600, book)) raised.push_back(a);
    }
  }
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, AlarmKind::kDriftRegional);
  EXPECT_EQ(raised[0].subject, "network");
  EXPECT_EQ(raised[0].stations.size(), 12u);
  EXPECT_EQ(raised[0].figures.at("retrain_candidate"), 1);
  EXPECT_GE(raised[0].start_s, change_at);
}

TEST(DriftAlarmsTest, QuietNetworkRaisesNothing) {
  NetworkMonitor net(DiurnalReference());
  AlarmBook book;
  for (int64_t h = kLiveStart; h < kLiveStart + 5 * kDay; h += 3600) {
    net.FeedHour(h, [](size_t, int64_t) { return 1.0; });
    if ((h + 3600) % (6 * 3600) == 0) {
      EXPECT_TRUE(net.Evaluate(h + 3600, book).empty());
    }
  }
  EXPECT_TRUE(book.Open().empty());
  EXPECT_TRUE(book.Closed().empty());
}

}  // namespace
}  // namespace sentinelle::monitor

namespace sentinelle::monitor {
namespace {

TEST(DriftAlarmsTest, PredictionDriftRaisesPerStationWhateverTheNeighbours) {
  AlarmBook book(AlarmConfig{2, 2, 10});
  std::vector<Alarm> events;
  for (int i = 0; i < 2; ++i) {
    auto net = Network({"abj-g11", "abj-g12"});
    const auto v = ClassifyDrift(net);
    for (auto& a : UpdateDriftAlarms(book, "pred/pm25/60", net, v, 1000 + i * 3600, true)) {
      events.push_back(a);
    }
  }
  ASSERT_EQ(events.size(), 2u);
  for (const auto& a : events) {
    EXPECT_EQ(a.kind, AlarmKind::kPredictionDrift);
    EXPECT_EQ(a.what, "pred/pm25/60");
    EXPECT_EQ(a.start_s, 1000);
    EXPECT_NE(a.reason.find("predictions"), std::string::npos);
  }
  EXPECT_FALSE(book.Find(AlarmKind::kDriftSensorFault, "abj-g11", "pred/pm25/60").has_value());
}


// A dust episode moves every station, some more than others: the one that
// crosses the drift thresholds alone, while its neighbours moved the same
// way by less, is not a sensor fault. One whose shift stands out is.
TEST(ClassifierTest, UnevenRegionalShiftIsNotASensorFault) {
  auto net = Network({"abj-g11"});
  // g11's four neighbours (g01, g10, g12, g21, 4 km away) moved by 0.6-0.9 IQR.
  const std::map<std::string, double> moved = {
      {"abj-g01", 0.7}, {"abj-g10", 0.9}, {"abj-g12", 0.6}, {"abj-g21", 0.8}, {"abj-g11", 1.1}};
  for (auto& s : net) s.figures.shift = moved.count(s.station_id) ? moved.at(s.station_id) : 0.5;
  auto v = ClassifyDrift(net);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kUndetermined);
  EXPECT_LT(VerdictOf(v, "abj-g11").relative_z, 3.0) << VerdictOf(v, "abj-g11").relative_z;
  EXPECT_GT(VerdictOf(v, "abj-g11").neighbour_shift, 0.4);

  // Far above its neighbours, but they moved too: the region is changing.
  for (auto& s : net) {
    if (s.station_id == "abj-g11") s.figures.shift = 3.5;
  }
  v = ClassifyDrift(net);
  EXPECT_GE(VerdictOf(v, "abj-g11").relative_z, 3.0);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kUndetermined);
  // Neighbours holding still: a sensor fault.
  const std::map<std::string, double> still = {
      {"abj-g01", 0.05}, {"abj-g10", -0.05}, {"abj-g12", 0.1}, {"abj-g21", 0.0}};
  for (auto& s : net) {
    if (still.count(s.station_id)) s.figures.shift = still.at(s.station_id);
  }
  v = ClassifyDrift(net);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kSensorFault);
  EXPECT_GE(VerdictOf(v, "abj-g11").relative_z, 3.0);

  // A negative shift (a sensor reading low) is an outlier too.
  for (auto& s : net) {
    if (s.station_id == "abj-g11") s.figures.shift = -2.0;
  }
  EXPECT_EQ(VerdictOf(ClassifyDrift(net), "abj-g11").verdict, Verdict::kSensorFault);

  // With the test disabled the neighbour share alone decides (the old rule).
  ClassifierConfig off;
  off.min_relative_z = 0;
  off.max_neighbour_shift = -1;
  for (auto& s : net) {
    if (s.station_id == "abj-g11") s.figures.shift = 1.1;
  }
  EXPECT_EQ(VerdictOf(ClassifyDrift(net, off), "abj-g11").verdict, Verdict::kSensorFault);
}

TEST(ClassifierTest, AStationMovingAwayFromStillNeighboursIsASensorFaultWithinItsThresholds) {
  // Nobody drifts by its own (calibrated, wide) thresholds; g11 moved 0.8
  // IQR while its neighbours stayed within 0.1.
  auto net = Network({});
  for (auto& s : net) s.figures.shift = s.station_id == "abj-g11" ? 0.8 : 0.05;
  auto v = ClassifyDrift(net);
  EXPECT_EQ(VerdictOf(v, "abj-g11").verdict, Verdict::kSensorFault);
  for (const auto& s : v.stations) {
    if (s.station_id != "abj-g11") {
      EXPECT_EQ(s.verdict, Verdict::kNone) << s.station_id;
    }
  }
  // Below the 0.5 IQR difference: nothing.
  for (auto& s : net) {
    if (s.station_id == "abj-g11") s.figures.shift = 0.4;
  }
  EXPECT_EQ(VerdictOf(ClassifyDrift(net), "abj-g11").verdict, Verdict::kNone);
  // Neighbours that moved too (weather): nothing.
  for (auto& s : net) s.figures.shift = s.station_id == "abj-g11" ? 1.5 : 0.5;
  EXPECT_EQ(VerdictOf(ClassifyDrift(net), "abj-g11").verdict, Verdict::kNone);
  // Disabled: only drifting stations can be sensor faults.
  for (auto& s : net) s.figures.shift = s.station_id == "abj-g11" ? 0.8 : 0.05;
  ClassifierConfig off;
  off.sensor_min_relative_shift = 0;
  EXPECT_EQ(VerdictOf(ClassifyDrift(net, off), "abj-g11").verdict, Verdict::kNone);
}

TEST(AlarmBookTest, RestoredOpenAlarmClearsAfterGoodEvaluations) {
  AlarmBook book;  // raise_after 3, clear_after 3
  Alarm open;
  open.id = 41;
  open.kind = AlarmKind::kDriftSensorFault;
  open.subject = "abj-plateau";
  open.what = "pm25";
  open.start_s = 1000;
  open.raised_s = 3000;
  open.reason = "before the restart";
  open.figures = {{"psi", 1.5}};
  open.peak = {{"psi", 2.0}};
  Alarm closed = open;
  closed.id = 7;
  closed.what = "no2";
  closed.end_s = 500;
  closed.cleared_s = 600;
  book.Restore(open);
  book.Restore(closed);
  ASSERT_TRUE(book.Find(AlarmKind::kDriftSensorFault, "abj-plateau", "pm25"));
  EXPECT_EQ(book.Closed().size(), 1u);
  // Still bad: stays open, peak kept, no second alarm.
  Observation bad{AlarmKind::kDriftSensorFault, "abj-plateau", "pm25", true, "still", {}, {{"psi", 1.0}}};
  Alarm a;
  EXPECT_EQ(book.Observe(bad, 4000, &a), AlarmBook::Change::kNone);
  EXPECT_EQ(a.id, 41u);
  EXPECT_EQ(a.peak.at("psi"), 2.0);
  Observation good{AlarmKind::kDriftSensorFault, "abj-plateau", "pm25", false, "", {}, {}};
  EXPECT_EQ(book.Observe(good, 5000), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Observe(good, 6000), AlarmBook::Change::kNone);
  EXPECT_EQ(book.Observe(good, 7000, &a), AlarmBook::Change::kCleared);
  EXPECT_EQ(a.id, 41u);
  EXPECT_EQ(*a.end_s, 5000);
  // New alarms number after the restored ones.
  Observation other{AlarmKind::kDriftRegional, "network", "pm25", true, "r", {}, {}};
  for (int i = 0; i < 3; ++i) book.Observe(other, 8000 + i, &a);
  EXPECT_EQ(a.id, 42u);
  EXPECT_EQ(AlarmKindFromName("drift_regional"), AlarmKind::kDriftRegional);
  EXPECT_FALSE(AlarmKindFromName("melt"));
}

}  // namespace
}  // namespace sentinelle::monitor
