// Every fault type shows in the generated history and in the ground-truth log.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sim_test_util.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT
using nlohmann::json;

constexpr const char* kStart = "2026-03-02T00:00:00Z";

Scenario WithFault(const std::string& flag) {
  Scenario sc = MakeScenario(2, kStart, 1);
  auto f = ParseFaultFlag(flag, sc.start_s);
  EXPECT_TRUE(f) << f.message();
  if (f) sc.faults.push_back(*f);
  return sc;
}

std::vector<json> Log(const Generated& g) {
  std::vector<json> out;
  for (const std::string& l : g.truth_log) out.push_back(json::parse(l));
  return out;
}

int64_t T(const char* iso) { return *ParseUtc(iso); }

// Rows of one station keyed by timestamp (last one wins).
std::map<int64_t, HistoryRow> ByTs(const std::vector<HistoryRow>& rows, const std::string& station) {
  std::map<int64_t, HistoryRow> out;
  for (const HistoryRow& r : rows) {
    if (r.station_id == station) out[r.ts_s] = r;
  }
  return out;
}

bool InWindow(int64_t ts, const char* a, const char* b) { return ts >= T(a) && ts < T(b); }

TEST(FaultsTest, Dropout) {
  auto g = Gen(WithFault("dropout,station=abj-plateau,vars=pm25+no2,"
                         "start=2026-03-02T06:00:00Z,end=2026-03-02T08:00:00Z"));
  int missing = 0;
  for (const HistoryRow& r : g.rows) {
    const bool in = r.station_id == "abj-plateau" &&
                    InWindow(r.ts_s, "2026-03-02T06:00:00Z", "2026-03-02T08:00:00Z");
    EXPECT_EQ(std::isnan(r.values[kPm25]), in);
    EXPECT_EQ(std::isnan(r.values[kNo2]), in);
    EXPECT_FALSE(std::isnan(r.values[kO3]));
    missing += in;
  }
  EXPECT_EQ(missing, 24);
  auto log = Log(g);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["station"], "abj-plateau");
  EXPECT_EQ(log[0]["fault"], "dropout");
  EXPECT_EQ(log[0]["start"], "2026-03-02T06:00:00Z");
  EXPECT_EQ(log[0]["end"], "2026-03-02T08:00:00Z");
  EXPECT_EQ(log[0]["variables"], json({"pm25", "no2"}));
}

TEST(FaultsTest, StuckHoldsTheLastHealthyValue) {
  auto g = Gen(WithFault("stuck,station=abj-cocody,vars=o3,"
                         "start=2026-03-02T10:00:00Z,end=2026-03-02T16:00:00Z"));
  auto rows = ByTs(g.rows, "abj-cocody");
  auto truth = ByTs(g.truth, "abj-cocody");
  const double first = rows.at(T("2026-03-02T10:00:00Z")).values[kO3];
  EXPECT_DOUBLE_EQ(first, truth.at(T("2026-03-02T10:00:00Z")).values[kO3]);
  int stuck = 0;
  for (auto& [ts, r] : rows) {
    if (InWindow(ts, "2026-03-02T10:00:00Z", "2026-03-02T16:00:00Z")) {
      EXPECT_DOUBLE_EQ(r.values[kO3], first);
      ++stuck;
    } else {
      EXPECT_DOUBLE_EQ(r.values[kO3], truth.at(ts).values[kO3]);
    }
  }
  EXPECT_EQ(stuck, 72);
  // Healthy O3 does move over those 6 hours.
  EXPECT_NE(truth.at(T("2026-03-02T15:00:00Z")).values[kO3], first);
  auto log = Log(g);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["fault"], "stuck");
  EXPECT_NEAR(log[0]["params"]["value"]["o3"].get<double>(), first, 1e-3);
}

TEST(FaultsTest, StuckAtAGivenValue) {
  auto g = Gen(WithFault("stuck,station=abj-cocody,vars=pm10,value=55,"
                         "start=2026-03-02T10:00:00Z,end=2026-03-02T11:00:00Z"));
  auto rows = ByTs(g.rows, "abj-cocody");
  EXPECT_EQ(rows.at(T("2026-03-02T10:30:00Z")).values[kPm10], 55);
}

TEST(FaultsTest, SpikesAreLoggedOneByOne) {
  auto g = Gen(WithFault("spike,station=abj-plateau,vars=pm25,probability=0.2,"
                         "end=2026-03-03T00:00:00Z"));
  auto rows = ByTs(g.rows, "abj-plateau");
  auto truth = ByTs(g.truth, "abj-plateau");
  auto log = Log(g);
  ASSERT_GE(log.size(), 20u);  // 288 windows at 20 %, with a fixed seed
  std::set<int64_t> spiked;
  for (const json& l : log) {
    EXPECT_EQ(l["fault"], "spike");
    EXPECT_EQ(l["start"], l["end"]);
    const int64_t ts = *ParseUtc(l["start"].get<std::string>());
    spiked.insert(ts);
    EXPECT_NEAR(rows.at(ts).values[kPm25], l["params"]["value"].get<double>(), 1e-3);
    // Larger than the agent's spike step (250 µg/m³ for PM2.5).
    EXPECT_GT(rows.at(ts).values[kPm25] - truth.at(ts).values[kPm25], 250);
  }
  for (auto& [ts, r] : rows) {
    if (!spiked.count(ts)) {
      EXPECT_DOUBLE_EQ(r.values[kPm25], truth.at(ts).values[kPm25]);
    }
  }
}

TEST(FaultsTest, DriftCreepsAwayFromTheTruth) {
  Scenario sc = MakeScenario(1, kStart, 6);
  sc.faults.push_back(*ParseFaultFlag(
      "drift,vars=no2,gain_per_day=0.1,per_day=2,start=2026-03-03T00:00:00Z,end=2026-03-08T00:00:00Z",
      sc.start_s));
  auto g = Gen(sc);
  auto rows = ByTs(g.rows, "abj-plateau");
  auto truth = ByTs(g.truth, "abj-plateau");
  double prev_error = 0;
  for (int day = 1; day <= 4; ++day) {
    const int64_t ts = T("2026-03-03T12:00:00Z") + (day - 1) * 86400;
    const double days = (ts - T("2026-03-03T00:00:00Z")) / 86400.0;
    const double expected = truth.at(ts).values[kNo2] * (1 + 0.1 * days) + 2 * days;
    EXPECT_NEAR(rows.at(ts).values[kNo2], expected, 2e-3);
    const double error = rows.at(ts).values[kNo2] - truth.at(ts).values[kNo2];
    EXPECT_GT(error, prev_error);
    prev_error = error;
  }
  // Healthy before the drift started.
  EXPECT_DOUBLE_EQ(rows.at(T("2026-03-02T12:00:00Z")).values[kNo2],
                   truth.at(T("2026-03-02T12:00:00Z")).values[kNo2]);
  auto log = Log(g);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["fault"], "drift");
  EXPECT_EQ(log[0]["params"]["gain_per_day"], 0.1);
}

TEST(FaultsTest, NanBecomesMissingInHistory) {
  auto g = Gen(WithFault("nan,station=abj-plateau,vars=co,start=2026-03-02T01:00:00Z"));
  int n = 0;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id == "abj-plateau" && InWindow(r.ts_s, "2026-03-02T01:00:00Z", "2026-03-02T02:00:00Z")) {
      EXPECT_TRUE(std::isnan(r.values[kCo]));
      ++n;
    }
  }
  EXPECT_EQ(n, 12);
  EXPECT_EQ(Log(g).at(0)["fault"], "nan");
}

TEST(FaultsTest, GarbageLinesBreakTheStrictReaderWhereLogged) {
  auto g = Gen(WithFault("garbage,station=abj-cocody,probability=1,"
                         "start=2026-03-02T02:00:00Z,end=2026-03-02T03:00:00Z"),
               {}, /*parse_rows=*/false);
  // Every garbage line is one the history reader refuses, with its line number.
  std::istringstream in(g.csv_text);
  std::string line;
  std::getline(in, line);
  int line_no = 1, garbage = 0, good = 0;
  HistoryRow row;
  while (std::getline(in, line)) {
    ++line_no;
    Status s = ParseHistoryCsvLine(line, line_no, {}, &row);
    if (s.ok()) {
      ++good;
    } else {
      ++garbage;
      EXPECT_NE(s.message().find("line " + std::to_string(line_no)), std::string::npos);
    }
  }
  EXPECT_EQ(garbage, 12);
  EXPECT_EQ(good, 2 * 288);  // garbage comes in addition to the real rows
  auto log = Log(g);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["fault"], "garbage");
  EXPECT_EQ(log[0]["station"], "abj-cocody");
}

TEST(FaultsTest, ClockJumpShiftsTimestamps) {
  auto g = Gen(WithFault("clock_jump,station=abj-plateau,offset_s=-7200,"
                         "start=2026-03-02T12:00:00Z,end=2026-03-02T13:00:00Z"));
  // The station's rows for 10:00-11:00 now appear twice (once shifted).
  std::map<int64_t, int> count;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id == "abj-plateau") ++count[r.ts_s];
  }
  EXPECT_EQ(count[T("2026-03-02T10:30:00Z")], 2);
  EXPECT_EQ(count[T("2026-03-02T12:30:00Z")], 0);
  EXPECT_EQ(count[T("2026-03-02T14:00:00Z")], 1);
  auto log = Log(g);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["params"]["offset_s"], -7200);
}

TEST(FaultsTest, LateRecordsArriveInABurstAfterTheWindow) {
  auto g = Gen(WithFault("late,station=abj-plateau,delay_s=1800,"
                         "start=2026-03-02T04:00:00Z,end=2026-03-02T05:00:00Z"));
  // Order of appearance of the station's rows.
  std::vector<int64_t> order;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id == "abj-plateau") order.push_back(r.ts_s);
  }
  ASSERT_EQ(order.size(), 288u);
  // After 03:55 come 05:00 .. 05:25, then the burst 04:00 .. 04:55 released
  // at 05:30 (window end + delay), then 05:30.
  auto pos = [&](const char* iso) {
    return std::find(order.begin(), order.end(), T(iso)) - order.begin();
  };
  EXPECT_LT(pos("2026-03-02T05:25:00Z"), pos("2026-03-02T04:00:00Z"));
  EXPECT_EQ(pos("2026-03-02T04:05:00Z"), pos("2026-03-02T04:00:00Z") + 1);
  EXPECT_EQ(pos("2026-03-02T05:30:00Z"), pos("2026-03-02T04:55:00Z") + 1);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(Log(g).at(0)["fault"], "late");
}

TEST(FaultsTest, Duplicates) {
  auto g = Gen(WithFault("duplicate,station=abj-cocody,start=2026-03-02T07:00:00Z"));
  std::map<int64_t, int> count;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id == "abj-cocody") ++count[r.ts_s];
  }
  EXPECT_EQ(count[T("2026-03-02T07:30:00Z")], 2);
  EXPECT_EQ(count[T("2026-03-02T08:30:00Z")], 1);
  EXPECT_EQ(g.rows.size(), 2u * 288 + 12);
  EXPECT_EQ(Log(g).at(0)["fault"], "duplicate");
}

TEST(FaultsTest, PowerLossSilencesTheStationInHistory) {
  auto g = Gen(WithFault("power_loss,station=abj-plateau,"
                         "start=2026-03-02T20:00:00Z,end=2026-03-02T22:00:00Z"));
  int plateau = 0;
  for (const HistoryRow& r : g.rows) {
    if (r.station_id != "abj-plateau") continue;
    ++plateau;
    EXPECT_FALSE(InWindow(r.ts_s, "2026-03-02T20:00:00Z", "2026-03-02T22:00:00Z"));
  }
  EXPECT_EQ(plateau, 288 - 24);
  EXPECT_EQ(Log(g).at(0)["fault"], "power_loss");
}

TEST(FaultsTest, FaultsOutsideTheRunAreNotLogged) {
  auto g = Gen(WithFault("stuck,start=2027-01-01T00:00:00Z"));
  EXPECT_TRUE(g.truth_log.empty());
}

TEST(FaultsTest, WildcardStationHitsEveryStation) {
  auto g = Gen(WithFault("dropout,start=2026-03-02T00:00:00Z,end=2026-03-02T00:30:00Z"));
  EXPECT_EQ(Log(g).size(), 2u);
}

}  // namespace
}  // namespace sentinelle::sim
