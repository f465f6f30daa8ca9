// The feature pipeline: same readings, same floats, bit for bit, whether the
// features come from a stored history (training) or from the live stream
// (agent), across gaps, QC flags, codec round trips, SQLite storage and
// agent restarts; plus the meaning of each feature and the spec check.
#include "sentinelle/predict/features.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "process.h"
#include "sentinelle/codec.h"
#include "sentinelle/sqlite.h"
#include "synthetic.h"

namespace sentinelle::predict {
namespace {

using testing::MakeHistory;
using testing::SyntheticOptions;

bool SameBits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Stores readings in a real SQLite file and reads them back, as the agent's
// buffer would on restart.
std::vector<Reading> ThroughSqlite(const std::vector<Reading>& in, const std::string& path) {
  auto db = Db::Open(path);
  EXPECT_TRUE(db) << db.message();
  EXPECT_TRUE((*db)->Exec("CREATE TABLE r(end_s INTEGER PRIMARY KEY, v TEXT, q TEXT, vals BLOB)"));
  Transaction tx(**db);
  auto ins = (*db)->Prepare("INSERT INTO r(end_s, vals, q) VALUES(?1, ?2, ?3)");
  EXPECT_TRUE(ins);
  for (const Reading& r : in) {
    std::string vals(reinterpret_cast<const char*>(r.values.data()), sizeof(double) * kVariableCount);
    std::string q(reinterpret_cast<const char*>(r.qc.data()), kVariableCount);
    EXPECT_TRUE(ins->Bind(1, r.window_end_s).BindBlob(2, vals).BindBlob(3, q).Run());
  }
  EXPECT_TRUE(tx.Commit());
  std::vector<Reading> out;
  auto sel = (*db)->Prepare("SELECT end_s, vals, q FROM r ORDER BY end_s");
  EXPECT_TRUE(sel);
  while (true) {
    auto step = sel->Step();
    EXPECT_TRUE(step);
    if (!step || !*step) break;
    Reading r;
    r.station_id = in.front().station_id;
    r.window_end_s = sel->ColumnInt(0);
    const std::string vals = sel->ColumnText(1), q = sel->ColumnText(2);
    std::memcpy(r.values.data(), vals.data(), vals.size());
    std::memcpy(r.qc.data(), q.data(), q.size());
    out.push_back(r);
  }
  return out;
}

TEST(Features, TrainingAndLivePathsAgreeBitForBit) {
  SyntheticOptions o;
  o.gap_rate = 0.05;
  o.flag_rate = 0.03;
  o.seed = 11;
  const std::vector<Reading> history = MakeHistory(4 * 288, o);
  const FeatureSpec spec = FeatureSpec::Default();

  // Training path: the collector's stored copy arrived through the wire codec,
  // shuffled, with duplicates (at-least-once delivery).
  std::vector<Reading> stored;
  for (size_t i = 0; i < history.size(); i += 100) {
    ReadingBatch b{"st-1", DeliveryKind::kLive, {}};
    for (size_t j = i; j < std::min(history.size(), i + 100); ++j) b.readings.push_back(history[j]);
    auto decoded = DecodeReadingBatch(EncodeReadingBatch(b), "st-1");
    ASSERT_TRUE(decoded) << decoded.message();
    stored.insert(stored.end(), decoded->readings.begin(), decoded->readings.end());
  }
  stored.insert(stored.end(), stored.begin(), stored.begin() + 50);
  std::shuffle(stored.begin(), stored.end(), std::mt19937(5));
  auto train = BuildTrainingMatrix(stored, spec, Variable::kPm25, 60);
  ASSERT_TRUE(train) << train.message();
  ASSERT_GT(train->X.rows, 900u);
  ASSERT_EQ(train->X.cols, spec.Width());

  // Live path: the agent's own readings, one at a time, restarted twice; on
  // restart the builder is warmed from the SQLite buffer.
  sentinelle::testing::TempDir dir;
  std::vector<std::vector<float>> live_rows;
  std::vector<int64_t> live_end;
  auto builder = std::make_unique<FeatureBuilder>(spec);
  for (size_t i = 0; i < history.size(); ++i) {
    if (i == 400 || i == 900) {
      const size_t from = i > static_cast<size_t>(spec.HistorySteps()) ? i - spec.HistorySteps() - 1 : 0;
      std::vector<Reading> recent(history.begin() + from, history.begin() + i);
      builder = std::make_unique<FeatureBuilder>(spec);
      for (const Reading& r : ThroughSqlite(recent, dir.File("buf" + std::to_string(i) + ".db"))) {
        builder->Push(r);
      }
    }
    ASSERT_EQ(builder->Push(history[i]), FeatureBuilder::PushResult::kAccepted);
    live_rows.push_back(builder->Compute());
    live_end.push_back(history[i].window_end_s);
  }
  size_t compared = 0;
  for (size_t row = 0; row < train->X.rows; ++row) {
    auto it = std::lower_bound(live_end.begin(), live_end.end(), train->window_end_s[row]);
    ASSERT_TRUE(it != live_end.end() && *it == train->window_end_s[row]);
    const auto& live = live_rows[it - live_end.begin()];
    ASSERT_TRUE(SameBits(train->X.row(row), live.data(), spec.Width()))
        << "window " << FormatUtc(train->window_end_s[row]);
    ++compared;
  }
  EXPECT_EQ(compared, train->X.rows);
  // The label is the target one hour later, only where it was valid.
  for (size_t row = 0; row < train->X.rows; row += 97) {
    const int64_t t = train->window_end_s[row] + 3600;
    auto it = std::find_if(history.begin(), history.end(), [&](const Reading& r) { return r.window_end_s == t; });
    ASSERT_NE(it, history.end());
    ASSERT_TRUE(it->valid(Variable::kPm25));
    EXPECT_EQ(train->y[row], static_cast<float>(it->value(Variable::kPm25)));
  }
}

TEST(Features, EachFeatureMeansWhatItsNameSays) {
  FeatureSpec spec;
  spec.series = {Variable::kPm25};
  spec.lags = {0, 1, 3};
  spec.windows = {4};
  spec.trends = {2};
  spec.meteo = {Variable::kTemperatureC};
  spec.wind_vector = true;
  spec.calendar = true;
  spec.min_valid_fraction = 0.5;
  ASSERT_TRUE(spec.Validate());
  EXPECT_EQ(spec.Names(), (std::vector<std::string>{"pm25_lag0", "pm25_lag1", "pm25_lag3", "pm25_mean4",
                                                    "pm25_std4", "pm25_trend2", "temperature_c", "wind_u",
                                                    "wind_v", "hour_sin", "hour_cos", "dow_sin", "dow_cos"}));
  FeatureBuilder b(spec);
  EXPECT_TRUE(std::isnan(b.Compute()[0]));
  // 2026-01-05 is a Monday; windows end at 00:05, 00:10, ...
  const int64_t monday = 1767571200;
  const double pm[] = {10, 20, 30, 40};
  for (int i = 0; i < 4; ++i) {
    Reading r;
    r.window_end_s = monday + 300 * (i + 1);
    r.values[static_cast<int>(Variable::kPm25)] = pm[i];
    r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
    r.values[static_cast<int>(Variable::kTemperatureC)] = 25.0;
    r.qc[static_cast<int>(Variable::kTemperatureC)] = i == 3 ? QcFlag::kStuck : QcFlag::kOk;
    r.values[static_cast<int>(Variable::kWindSpeedMs)] = 2.0;
    r.qc[static_cast<int>(Variable::kWindSpeedMs)] = QcFlag::kOk;
    r.values[static_cast<int>(Variable::kWindDirDeg)] = 90.0;  // from the east
    r.qc[static_cast<int>(Variable::kWindDirDeg)] = QcFlag::kOk;
    ASSERT_EQ(b.Push(r), FeatureBuilder::PushResult::kAccepted);
  }
  auto f = b.Compute();
  EXPECT_EQ(f[0], 40.0f);
  EXPECT_EQ(f[1], 30.0f);
  EXPECT_EQ(f[2], 10.0f);
  EXPECT_EQ(f[3], 25.0f);
  EXPECT_FLOAT_EQ(f[4], static_cast<float>(std::sqrt(125.0)));
  EXPECT_EQ(f[5], 20.0f);
  EXPECT_TRUE(std::isnan(f[6])) << "a stuck sensor is missing, not its value";
  EXPECT_NEAR(f[7], -2.0f, 1e-6);  // blowing west
  EXPECT_NEAR(f[8], 0.0f, 1e-6);
  const double angle = 2 * std::numbers::pi * 1200.0 / 86400.0;
  EXPECT_FLOAT_EQ(f[9], static_cast<float>(std::sin(angle)));
  EXPECT_FLOAT_EQ(f[10], static_cast<float>(std::cos(angle)));
  EXPECT_EQ(f[11], 0.0f);
  EXPECT_EQ(f[12], 1.0f);
  EXPECT_EQ(b.MissingInputs(), std::vector<Variable>{Variable::kTemperatureC});

  // A stale or duplicate window changes nothing.
  Reading old;
  old.window_end_s = monday + 300;
  EXPECT_EQ(b.Push(old), FeatureBuilder::PushResult::kStale);
  Reading off_grid;
  off_grid.window_end_s = monday + 301 * 10;
  EXPECT_EQ(b.Push(off_grid), FeatureBuilder::PushResult::kWrongInterval);
  EXPECT_TRUE(SameBits(f.data(), b.Compute().data(), f.size()));

  // A one-window gap: lags shift past it, the mean needs 2 of 4 windows.
  Reading next;
  next.window_end_s = monday + 300 * 6;
  next.values[static_cast<int>(Variable::kPm25)] = 50.0;
  next.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  ASSERT_EQ(b.Push(next), FeatureBuilder::PushResult::kAccepted);
  f = b.Compute();
  EXPECT_EQ(f[0], 50.0f);
  EXPECT_TRUE(std::isnan(f[1]));   // the missing window
  EXPECT_EQ(f[2], 30.0f);
  EXPECT_EQ(f[3], 40.0f);          // (50 + 40 + 30) / 3: 3 of 4 windows valid
  EXPECT_EQ(f[5], 10.0f);          // 50 - 40
  // A gap longer than the history forgets everything.
  next.window_end_s += 300 * 100;
  ASSERT_EQ(b.Push(next), FeatureBuilder::PushResult::kAccepted);
  f = b.Compute();
  EXPECT_EQ(f[0], 50.0f);
  EXPECT_TRUE(std::isnan(f[1]) && std::isnan(f[2]) && std::isnan(f[3]) && std::isnan(f[4]));
}

TEST(Features, SpecRoundTripsAndForeignSpecsAreRefused) {
  const FeatureSpec spec = FeatureSpec::ForTargets({Variable::kPm25, Variable::kTemperatureC});
  ASSERT_TRUE(spec.Validate());
  EXPECT_EQ(spec.Width(), spec.Names().size());
  EXPECT_NE(std::find(spec.series.begin(), spec.series.end(), Variable::kTemperatureC), spec.series.end());
  EXPECT_EQ(std::find(spec.meteo.begin(), spec.meteo.end(), Variable::kTemperatureC), spec.meteo.end());
  auto back = FeatureSpec::FromJson(spec.ToJson());
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(*back, spec);
  EXPECT_EQ(back->Fingerprint(), spec.Fingerprint());
  EXPECT_NE(FeatureSpec::Default().Fingerprint(), spec.Fingerprint());
  EXPECT_EQ(FeatureSpec::Default().Width(), 71u);

  auto refused = [&](auto mutate, const std::string& why) {
    nlohmann::json j = spec.ToJson();
    mutate(j);
    auto r = FeatureSpec::FromJson(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_NE(r.message().find(why), std::string::npos) << r.message();
  };
  refused([](auto& j) { j["version"] = 2; }, "version 2");
  refused([](auto& j) { j["series"].push_back("benzene"); }, "unknown variable");
  refused([](auto& j) { j["names"][3] = "pm25_median12"; }, "names[3]");
  refused([](auto& j) { j["names"].push_back("extra"); }, "names");
  refused([](auto& j) { j["lags"].push_back(100000); }, "lags");
  refused([](auto& j) { j["novel_feature"] = true; }, "unknown parameter");
  refused([](auto& j) { j.erase("windows"); }, "windows");
  refused([](auto& j) { j["wind_vector"] = false; }, "names");  // lists wind_u it would not compute
  refused([](auto& j) { j["interval_s"] = 7; }, "interval_s");
}

}  // namespace
}  // namespace sentinelle::predict
