// The collector's monitor on a real SQLite store with a synthetic network:
// joins in either order of arrival and once only, QC-flagged values left
// out, a sensor fault raised and persisted, state rebuilt after a restart
// (from the store over the bounded lookback, alarms from SQLite), and the
// HTTP endpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <thread>

#include "process.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/monitor/histogram.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::collector {
namespace {

using monitor::AlarmKind;
using nlohmann::json;
using testing::TempDir;

constexpr int64_t kDay = 86400;
constexpr int64_t k5Min = 300;
constexpr int64_t kT0 = 1786838400;  // 2026-08-16T00:00:00Z

struct Site {
  const char* id;
  double lat, lon;
};
// Five stations 4 km apart: everyone is everyone's neighbour.
const Site kSites[] = {{"st-a", 5.30, -4.02},
                       {"st-b", 5.336, -4.02},
                       {"st-c", 5.30, -3.984},
                       {"st-d", 5.336, -3.984},
                       {"st-e", 5.318, -4.002}};

// A daily cycle plus noise; `gain` scales PM2.5 (a sensor's calibration).
Reading Synthetic(const std::string& station, int64_t t, std::mt19937_64& rng, double gain = 1) {
  std::normal_distribution<double> noise(0, 3);
  const double hour = static_cast<double>((t % kDay) / 3600);
  Reading r;
  r.station_id = station;
  r.window_end_s = t;
  r.interval_s = 300;
  r.seq = 1 + (t - kT0) / k5Min;
  r.boot_id = "b";
  r.time = TimeQuality{true, "ntp"};
  r.qc.fill(QcFlag::kMissing);
  r.values.fill(kMissingValue);
  auto set = [&](Variable v, double x) {
    r.values[static_cast<int>(v)] = x;
    r.qc[static_cast<int>(v)] = QcFlag::kOk;
  };
  set(Variable::kPm25, gain * std::max(1.0, 30 + 12 * std::sin(hour / 24 * 6.283) + noise(rng)));
  set(Variable::kTemperatureC, 27 + 3 * std::cos((hour - 14) / 24 * 6.283) + noise(rng) / 5);
  return r;
}

StoredReading Stored(Reading r) {
  StoredReading sr;
  sr.arrival_ms = (r.window_end_s + 2) * 1000;
  sr.reading = std::move(r);
  return sr;
}

PredictionRecord Prediction(const std::string& station, int64_t issued, double value) {
  PredictionRecord p;
  p.station_id = station;
  p.issued_s = issued;
  p.target = "pm25";
  p.horizon_min = 60;
  p.value = value;
  p.model_kind = "persistence";
  p.model_version = "";
  return p;
}

// The reference a model trained on the healthy network would carry.
monitor::ReferenceSet Reference() {
  monitor::ReferenceBuilder b({"pm25_lag0", "temperature_c", "hour_sin"});
  std::mt19937_64 rng(7);
  for (int64_t t = kT0 - 28 * kDay; t < kT0; t += k5Min) {
    for (const Site& s : kSites) {
      const Reading r = Synthetic(s.id, t, rng);
      const double row[] = {r.values[static_cast<int>(Variable::kPm25)],
                            r.values[static_cast<int>(Variable::kTemperatureC)], 0.0};
      b.AddRow(t, row);
    }
  }
  auto set = b.Build();
  EXPECT_TRUE(set.ok()) << set.message();
  return *set;
}

class MonitoringUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteStoreOptions o;
    o.path = dir_.File("collector.db");
    auto s = SqliteHistoryStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(*s);
    for (const Site& site : kSites) {
      ASSERT_TRUE(store_->UpsertStation({site.id, site.id, site.lat, site.lon, "urban", true}).ok());
    }
    config_.drift_window_days = 3;
    config_.evaluate_interval_s = 3600;
    reference_ = Reference();
  }
  std::unique_ptr<Monitor> Open() {
    MonitorDeps deps;
    deps.store = store_.get();
    auto m = Monitor::Open(config_, dir_.File("collector.db"), deps);
    EXPECT_TRUE(m.ok()) << m.message();
    if (!m.ok()) return nullptr;
    (*m)->TEST_SetReference(reference_, {{Variable::kPm25, 60}});
    return std::move(*m);
  }
  // Feeds [from, to) through the store's commit path, evaluating hourly.
  std::vector<monitor::Alarm> Feed(Monitor& m, MonitoredStore& store, int64_t from, int64_t to,
                                   const std::string& faulty, double gain) {
    std::vector<monitor::Alarm> raised;
    for (int64_t h = from; h < to; h += 3600) {
      WriteBatch batch;
      for (int64_t t = h + k5Min; t <= h + 3600; t += k5Min) {
        for (const Site& s : kSites) {
          batch.readings.push_back(
              Stored(Synthetic(s.id, t, rng_, s.id == faulty ? gain : 1.0)));
        }
      }
      EXPECT_TRUE(store.Commit(batch).ok());
      for (const auto& a : m.Evaluate(h + 3600).changed) {
        if (a.open()) raised.push_back(a);
      }
    }
    return raised;
  }

  TempDir dir_;
  std::unique_ptr<SqliteHistoryStore> store_;
  MonitoringConfig config_;
  monitor::ReferenceSet reference_;
  std::mt19937_64 rng_{11};
};

TEST_F(MonitoringUnitTest, JoinsPredictionsWithTheirReadingInEitherOrderAndOnce) {
  auto m = Open();
  ASSERT_TRUE(m);
  MonitoredStore store(store_.get());
  store.Attach(m.get());
  std::mt19937_64 rng(1);
  // Prediction first, reading of its target window an hour later.
  Reading r1 = Synthetic("st-a", kT0 + 3600, rng);
  const double actual1 = r1.values[static_cast<int>(Variable::kPm25)];
  WriteBatch b1;
  b1.predictions.push_back(Prediction("st-a", kT0, actual1 + 4));
  ASSERT_TRUE(store.Commit(b1).ok());
  WriteBatch b2;
  b2.readings.push_back(Stored(r1));
  ASSERT_TRUE(store.Commit(b2).ok());
  EXPECT_EQ(m->counters().pairs_joined, 1u);
  // Reading first (a replayed prediction comes late).
  Reading r2 = Synthetic("st-a", kT0 + 7200, rng);
  const double actual2 = r2.values[static_cast<int>(Variable::kPm25)];
  WriteBatch b3;
  b3.readings.push_back(Stored(r2));
  ASSERT_TRUE(store.Commit(b3).ok());
  WriteBatch b4;
  b4.predictions.push_back(Prediction("st-a", kT0 + 3600, actual2 - 2));
  ASSERT_TRUE(store.Commit(b4).ok());
  EXPECT_EQ(m->counters().pairs_joined, 2u);
  // The same reading and prediction again (replays): not counted twice.
  ASSERT_TRUE(store.Commit(b3).ok());
  ASSERT_TRUE(store.Commit(b4).ok());
  EXPECT_EQ(m->counters().pairs_joined, 2u);
  EXPECT_EQ(m->counters().duplicate_readings, 1u);
  EXPECT_EQ(m->counters().duplicate_predictions, 1u);
  // A QC-flagged target value is no actual: the pair is given up.
  Reading r3 = Synthetic("st-a", kT0 + 3 * 3600, rng);
  r3.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kSpike;
  WriteBatch b5;
  b5.predictions.push_back(Prediction("st-a", kT0 + 2 * 3600, 30));
  b5.readings.push_back(Stored(r3));
  ASSERT_TRUE(store.Commit(b5).ok());
  EXPECT_EQ(m->counters().pairs_joined, 2u);
  EXPECT_EQ(m->counters().predictions_unmatched, 1u);
  EXPECT_GE(m->counters().values_excluded, 1u);

  const json acc = m->AccuracyJson(std::string("st-a"), kT0 + 4 * 3600);
  ASSERT_EQ(acc.size(), 1u) << acc.dump();
  EXPECT_EQ(acc[0]["n"], 2);
  EXPECT_EQ(acc[0]["link"], "persistence");
  EXPECT_NEAR(acc[0]["rmse"].get<double>(), std::sqrt((16.0 + 4.0) / 2), 1e-3);
  EXPECT_NEAR(acc[0]["bias"].get<double>(), 1.0, 1e-3);
  EXPECT_NEAR(acc[0]["mae"].get<double>(), 3.0, 1e-3);
  // A prediction whose reading never comes is given up after the join window.
  WriteBatch b6;
  b6.predictions.push_back(Prediction("st-b", kT0, 10));
  ASSERT_TRUE(store.Commit(b6).ok());
  m->Evaluate(kT0 + 3600 + config_.join_lookback_s + 1);
  EXPECT_EQ(m->counters().predictions_unmatched, 2u);
}

TEST_F(MonitoringUnitTest, SensorFaultIsRaisedPersistedAndSurvivesARestart) {
  std::vector<monitor::Alarm> raised;
  {
    auto m = Open();
    ASSERT_TRUE(m);
    MonitoredStore store(store_.get());
    store.Attach(m.get());
    // Three healthy days, then st-c's PM2.5 sensor reads 70 % high.
    raised = Feed(*m, store, kT0, kT0 + 3 * kDay, "", 1.0);
    EXPECT_TRUE(raised.empty());
    raised = Feed(*m, store, kT0 + 3 * kDay, kT0 + 5 * kDay, "st-c", 1.7);
    ASSERT_EQ(raised.size(), 1u);
    EXPECT_EQ(raised[0].kind, AlarmKind::kDriftSensorFault);
    EXPECT_EQ(raised[0].subject, "st-c");
    EXPECT_EQ(raised[0].what, "pm25");
    EXPECT_EQ(m->OpenAlarms().size(), 1u);
  }
  // Restart: the alarm comes back from SQLite, the windows from the store.
  auto m = Open();
  ASSERT_TRUE(m);
  ASSERT_EQ(m->OpenAlarms().size(), 1u);
  EXPECT_EQ(m->OpenAlarms()[0].id, raised[0].id);
  EXPECT_EQ(m->OpenAlarms()[0].start_s, raised[0].start_s);
  ASSERT_TRUE(m->Rebuild(kT0 + 5 * kDay).ok());
  const auto s = m->Evaluate(kT0 + 5 * kDay);
  EXPECT_EQ(s.stations_evaluated, 5);
  EXPECT_TRUE(s.changed.empty());  // still bad: stays open, nothing new
  const json drift = m->DriftJson(std::string("st-c"));
  ASSERT_EQ(drift.size(), 1u);
  bool pm25 = false;
  for (const auto& f : drift[0]["features"]) {
    if (f["feature"] == "pm25") {
      pm25 = true;
      EXPECT_EQ(f["status"], "drift") << f.dump();
      EXPECT_FALSE(f["series"].empty());  // rebuilt from the store
    }
  }
  EXPECT_TRUE(pm25);
  // The sensor is fixed: good evaluations end the alarm, and the end is stored.
  MonitoredStore store(store_.get());
  store.Attach(m.get());
  config_.drift_window_days = 3;
  Feed(*m, store, kT0 + 5 * kDay, kT0 + 9 * kDay, "", 1.0);
  EXPECT_TRUE(m->OpenAlarms().empty());
  auto ended = m->AlarmsJson(std::string("st-c"), false, 10);
  ASSERT_TRUE(ended.ok());
  ASSERT_EQ(ended->size(), 1u);
  EXPECT_FALSE((*ended)[0]["end"].is_null());
  // It says why it ended, and still what was wrong; both survive a restart.
  const std::string why = (*ended)[0]["clear_reason"].get<std::string>();
  EXPECT_EQ(why.rfind("pm25 at st-c", 0), 0u) << why;
  EXPECT_NE((*ended)[0]["reason"].get<std::string>().find("sensor or calibration fault"),
            std::string::npos);
  m.reset();
  auto again = Open();
  ASSERT_TRUE(again);
  auto stored = again->AlarmsJson(std::string("st-c"), false, 10);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0]["clear_reason"], why);
}

// A collector upgraded over a store of the monitor's first schema: its
// alarms read back (ended ones with an empty clear_reason), the schema is
// migrated in place, and a read-only open of an unmigrated store still reads.
TEST_F(MonitoringUnitTest, AlarmsOfTheFirstSchemaReadBackAndMigrate) {
  {
    auto db = Db::Open(dir_.File("collector.db"), DbOptions{});
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->Exec(
        "CREATE TABLE monitor_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO monitor_meta VALUES('schema', 1);"
        "CREATE TABLE monitor_alarms(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
        "subject TEXT NOT NULL, what TEXT NOT NULL, stations TEXT NOT NULL, reason TEXT NOT NULL, "
        "start_s INTEGER NOT NULL, raised_s INTEGER NOT NULL, end_s INTEGER, cleared_s INTEGER, "
        "figures TEXT NOT NULL, peak TEXT NOT NULL, bad_evaluations INTEGER NOT NULL);"
        "INSERT INTO monitor_alarms VALUES(4, 'drift_sensor_fault', 'st-c', 'pm25', '[\"st-c\"]', "
        "'pm25 at st-c drifts', 1786838400, 1786849200, 1786900000, 1786910800, '{\"psi\":0.9}', "
        "'{\"psi\":1.2}', 5);").ok());
  }
  {
    MonitorDeps deps;
    deps.store = store_.get();
    auto ro = Monitor::Open(config_, dir_.File("collector.db"), deps, /*read_only=*/true);
    ASSERT_TRUE(ro.ok()) << ro.message();
    auto alarms = (*ro)->AlarmsJson(std::nullopt, false, 10);
    ASSERT_TRUE(alarms.ok()) << alarms.message();
    ASSERT_EQ(alarms->size(), 1u);
    EXPECT_EQ((*alarms)[0]["reason"], "pm25 at st-c drifts");
    EXPECT_EQ((*alarms)[0]["clear_reason"], "");
  }
  auto m = Open();
  ASSERT_TRUE(m);
  auto alarms = m->AlarmsJson(std::nullopt, false, 10);
  ASSERT_TRUE(alarms.ok()) << alarms.message();
  ASSERT_EQ(alarms->size(), 1u);
  EXPECT_EQ((*alarms)[0]["id"], 4);
  EXPECT_EQ((*alarms)[0]["peak"]["psi"], 1.2);
  auto db = Db::Open(dir_.File("collector.db"), DbOptions{});
  ASSERT_TRUE(db.ok());
  auto q = (*db)->Prepare("SELECT value FROM monitor_meta WHERE key = 'schema'");
  ASSERT_TRUE(q.ok());
  auto row = q->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(q->ColumnInt(0), 2);
}

// monitoring.clock "data": the monitor's own thread runs its passes at the
// newest stored window, so a network replaying the past (here August, months
// before the wall clock) is judged as it arrives. On the wall clock the same
// data would be outside every drift window and raise nothing.
TEST_F(MonitoringUnitTest, DataClockRunsThePassesAtTheNewestStoredWindow) {
  config_.clock = MonitoringConfig::Clock::kData;
  auto m = Open();
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->Now().has_value());  // no reading yet: no time, no pass
  MonitoredStore store(store_.get());
  store.Attach(m.get());
  ASSERT_TRUE(m->Start().ok());
  auto commit = [&](int64_t from, int64_t to, const std::string& faulty, double gain) {
    WriteBatch batch;
    for (int64_t t = from + k5Min; t <= to; t += k5Min) {
      for (const Site& s : kSites) {
        batch.readings.push_back(Stored(Synthetic(s.id, t, rng_, s.id == faulty ? gain : 1.0)));
      }
    }
    ASSERT_TRUE(store.Commit(batch).ok());
  };
  commit(kT0, kT0 + 3 * kDay, "", 1.0);
  ASSERT_EQ(m->Now(), kT0 + 3 * kDay);
  // Two faulty days, two hours at a time; each step waits for the thread's pass.
  for (int64_t h = kT0 + 3 * kDay; h < kT0 + 5 * kDay; h += 7200) {
    const uint64_t before = m->counters().evaluations;
    commit(h, h + 7200, "st-c", 1.7);
    for (int i = 0; i < 100 && m->counters().evaluations == before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_GT(m->counters().evaluations, before) << "no pass after the data clock moved 2 h";
  }
  m->Stop();
  const auto open = m->OpenAlarms();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].kind, AlarmKind::kDriftSensorFault);
  EXPECT_EQ(open[0].subject, "st-c");
  // Raised in the data's time, not the wall clock's.
  EXPECT_GE(open[0].raised_s, kT0 + 3 * kDay);
  EXPECT_LE(open[0].raised_s, kT0 + 5 * kDay);
}

TEST_F(MonitoringUnitTest, HttpEndpointsServeAlarmsAccuracyDriftAndReport) {
  auto m = Open();
  ASSERT_TRUE(m);
  MonitoredStore store(store_.get());
  store.Attach(m.get());
  Feed(*m, store, kT0, kT0 + 3 * kDay, "", 1.0);
  Feed(*m, store, kT0 + 3 * kDay, kT0 + 5 * kDay, "st-c", 1.7);
  const int64_t now = kT0 + 5 * kDay;
  auto get = [&](const std::string& what, const std::string& query) {
    HttpRequest req;
    req.method = "GET";
    req.path = "/api/v1/" + what;
    req.query = query;
    return HandleMonitoring(*m, req, {what}, now);
  };
  auto r = get("alarms", "station=st-c&active=true");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["alarms"].size(), 1u);
  EXPECT_EQ(j["alarms"][0]["kind"], "drift_sensor_fault");
  EXPECT_TRUE(j["alarms"][0]["end"].is_null());
  EXPECT_TRUE(json::parse(get("alarms", "station=st-a").body)["alarms"].empty());
  EXPECT_EQ(get("alarms", "active=maybe").status, 400);
  EXPECT_EQ(get("alarms", "station=../x").status, 400);
  r = get("drift", "station=st-c");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["stations"].size(), 1u);
  EXPECT_EQ(get("accuracy", "").status, 200);
  r = get("report", "station=st-c");
  ASSERT_EQ(r.status, 200) << r.body;
  j = json::parse(r.body);
  EXPECT_EQ(j["scope"], "station");
  ASSERT_EQ(j["stations"].size(), 1u);
  EXPECT_EQ(j["stations"][0]["id"], "st-c");
  EXPECT_EQ(j["stations"][0]["alarms"].size(), 1u);
  EXPECT_TRUE(j["window"].contains("from"));
  EXPECT_TRUE(j["network"].contains("accuracy"));
  r = get("report", "");
  ASSERT_EQ(r.status, 200);
  j = json::parse(r.body);
  EXPECT_EQ(j["scope"], "network");
  EXPECT_EQ(j["stations"].size(), 5u);
  EXPECT_EQ(j["network"]["alarms"].size(), 1u);
  EXPECT_EQ(get("report", "station=nowhere").status, 404);
  EXPECT_EQ(get("report", "format=pdf").status, 400);
  r = get("report", "format=html");
  EXPECT_TRUE(r.status == 200 || r.status == 501) << r.status;
  if (r.status == 200) {
    EXPECT_NE(r.body.find("<svg"), std::string::npos);
  }
  HttpRequest post;
  post.method = "POST";
  EXPECT_EQ(HandleMonitoring(*m, post, {"alarms"}, now).status, 405);
}

}  // namespace
}  // namespace sentinelle::collector
