#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT

TEST(ScenarioTest, FaultFlag) {
  auto f = ParseFaultFlag(
      "stuck,station=abj-plateau,vars=pm25+no2,start=2026-01-02T00:00:00Z,"
      "end=2026-01-02T06:00:00Z,value=12.5",
      0);
  ASSERT_TRUE(f) << f.message();
  EXPECT_EQ(f->type, FaultType::kStuck);
  EXPECT_EQ(f->station, "abj-plateau");
  EXPECT_EQ(f->variables, (std::vector<Variable>{Variable::kPm25, Variable::kNo2}));
  EXPECT_EQ(f->start_s, *ParseUtc("2026-01-02T00:00:00Z"));
  EXPECT_EQ(f->end_s, *ParseUtc("2026-01-02T06:00:00Z"));
  EXPECT_EQ(f->value, 12.5);
  // Defaults: every station, from the given start, for an hour.
  auto d = ParseFaultFlag("late", 1000);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->station, "*");
  EXPECT_EQ(d->start_s, 1000);
  EXPECT_EQ(d->end_s, 4600);
  EXPECT_EQ(d->probability, 1.0);
  // Spikes are isolated unless asked otherwise.
  EXPECT_EQ(ParseFaultFlag("spike", 0)->probability, kDefaultSpikeProbability);
  EXPECT_EQ(ParseFaultFlag("spike,probability=0.5", 0)->probability, 0.5);
}

TEST(ScenarioTest, FaultFlagErrorsNameTheProblem) {
  struct Case {
    const char* flag;
    const char* error;
  } cases[] = {
      {"melt", "unknown fault type 'melt'"},
      {"stuck,vars=pm1", "unknown variable 'pm1'"},
      {"stuck,start=yesterday", "'start=yesterday': expected YYYY-MM-DDTHH:MM:SSZ"},
      {"spike,probability=2", "'probability=2': must be within [0, 1]"},
      {"stuck,station=Plateau", "'station=Plateau': not a station id"},
      {"stuck,colour=red", "'colour=red': not a number (or unknown key)"},
      {"stuck,colour=1", "unknown key 'colour'"},
      {"stuck,vars", "'vars' is not key=value"},
      {"late,vars=pm25", "vars only apply to dropout, stuck, spike, drift and nan"},
      {"stuck,start=2026-01-02T00:00:00Z,end=2026-01-01T00:00:00Z", "end must be after start"},
  };
  for (const Case& c : cases) {
    auto f = ParseFaultFlag(c.flag, 0);
    ASSERT_FALSE(f) << c.flag;
    EXPECT_NE(f.message().find(c.error), std::string::npos) << f.message();
    EXPECT_NE(f.message().find("--fault"), std::string::npos) << f.message();
  }
}

TEST(ScenarioTest, RegimeFlag) {
  auto r = ParseRegimeFlag("traffic,station=abj-cocody,at=2026-06-01T00:00:00Z,factor=1.8,peak_shift_h=1.5", 0);
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->kind, Regime::Kind::kTraffic);
  EXPECT_EQ(r->factor, 1.8);
  EXPECT_EQ(r->peak_shift_h, 1.5);
  EXPECT_FALSE(ParseRegimeFlag("tsunami", 0));
  auto bad = ParseRegimeFlag("industrial_source,bearing_deg=400", 0);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("bearing_deg=400"), std::string::npos);
}

TEST(ScenarioTest, JsonScenario) {
  Scenario sc;
  Status s = ParseScenarioJson(R"({
    "seed": 7, "start": "2026-02-01T00:00:00Z", "days": 2.5,
    "stations": [{"id": "lab-1", "name": "Lab", "lat": 5.3, "lon": -4.0, "type": "industrial"}],
    "faults": [{"type": "drift", "station": "lab-1", "variables": ["o3"], "gain_per_day": 0.05,
                "start": "2026-02-01T12:00:00Z", "end": "2026-02-03T00:00:00Z"}],
    "regimes": [{"kind": "industrial_source", "station": "lab-1", "at": "2026-02-02T00:00:00Z",
                 "factor": 1.5, "bearing_deg": 90}]
  })", "s.json", &sc);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(sc.seed, 7u);
  EXPECT_EQ(sc.duration_s, 216000);
  ASSERT_EQ(sc.stations.size(), 1u);
  EXPECT_EQ(sc.stations[0].type, StationType::kIndustrial);
  ASSERT_EQ(sc.faults.size(), 1u);
  EXPECT_EQ(sc.faults[0].type, FaultType::kDrift);
  EXPECT_EQ(sc.faults[0].gain_per_day, 0.05);
  ASSERT_EQ(sc.regimes.size(), 1u);
  EXPECT_EQ(sc.regimes[0].bearing_deg, 90);
  EXPECT_TRUE(ValidateScenario(sc).ok());

  Scenario n;
  ASSERT_TRUE(ParseScenarioJson(R"({"stations": 12})", "n.json", &n).ok());
  EXPECT_EQ(n.stations.size(), 12u);
}

TEST(ScenarioTest, JsonErrorsNameFieldOrLineAndColumn) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"{\n  \"seed\": 1,\n  \"days\": x\n}", "s.json line 3, column 11: JSON syntax error"},
      {R"({"sead": 1})", "s.json: unknown field 'sead'"},
      {R"({"faults": [{"type": "melt"}]})", "s.json.faults[0].type: unknown fault type 'melt'"},
      {R"({"faults": [{"type": "stuck", "start": "soon"}]})", "s.json.faults[0].start: 'soon'"},
      {R"({"stations": [{"id": "x", "lat": 95, "lon": 0, "type": "traffic"}]})",
       "s.json.stations[0].lat"},
      {R"({"stations": [{"id": "x", "lat": 5, "lon": 0, "type": "farm"}]})",
       "s.json.stations[0].type: 'farm'"},
      {R"({"regimes": [{"kind": "traffic", "factor": "high"}]})", "s.json.regimes[0].factor"},
  };
  for (const Case& c : cases) {
    Scenario sc;
    Status s = ParseScenarioJson(c.text, "s.json", &sc);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.message().find(c.error), std::string::npos) << s.message();
  }
}

TEST(ScenarioTest, ValidationCatchesUnknownStations) {
  Scenario sc;
  sc.stations = DefaultNetwork(2);
  sc.faults.push_back(*ParseFaultFlag("stuck,station=abj-nowhere", 0));
  Status s = ValidateScenario(sc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown station 'abj-nowhere'"), std::string::npos);
  sc.faults.clear();
  sc.stations.push_back(sc.stations[0]);
  EXPECT_NE(ValidateScenario(sc).message().find("appears twice"), std::string::npos);
}

TEST(ScenarioTest, MissingScenarioFile) {
  Scenario sc;
  Status s = LoadScenarioFile("/nonexistent/s.json", &sc);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/s.json"), std::string::npos);
}

}  // namespace
}  // namespace sentinelle::sim
