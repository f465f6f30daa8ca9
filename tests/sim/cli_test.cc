// The sentinelle-sim command line, run as a real process.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "process_util.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/version.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT
using sentinelle::testing::TempDir;

TEST(CliTest, HelpAndVersion) {
  auto help = RunSim({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("sentinelle-sim generate"), std::string::npos);
  EXPECT_NE(help.output.find("--speed N"), std::string::npos);
  auto version = RunSim({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find(std::string("sentinelle-sim ") + kVersion), std::string::npos);
}

TEST(CliTest, BadArgumentsAreNamed) {
  struct Case {
    std::vector<std::string> args;
    const char* error;
  } cases[] = {
      {{}, "missing command"},
      {{"simulate"}, "unknown command 'simulate'"},
      {{"generate", "--days", "abc"}, "--days 'abc': not a number"},
      {{"generate", "--days=-3"}, "--days '-3': must be within"},
      {{"generate", "--stations", "0"}, "--stations '0': must be within [1, 10000]"},
      {{"generate", "--frobnicate"}, "unknown option '--frobnicate' for generate"},
      {{"generate", "--input", "x.csv"}, "unknown option '--input' for generate"},
      {{"live", "--speed"}, "option '--speed' needs a value"},
      {{"live", "--speed", "fast"}, "--speed 'fast': not a number"},
      {{"generate", "--start", "2026-01-01"}, "--start '2026-01-01': expected YYYY-MM-DDTHH:MM:SSZ"},
      {{"generate", "--fault", "melt"}, "--fault 'melt': unknown fault type 'melt'"},
      {{"generate", "--fault", "stuck,station=abj-mars"}, "unknown station 'abj-mars'"},
      {{"generate", "--regime", "traffic,factor=x"}, "--regime 'traffic,factor=x'"},
      {{"generate", "--days", "1", "--hours", "2"}, "give only one"},
      {{"generate", "--scenario", "/nonexistent.json"}, "--scenario: cannot open /nonexistent.json"},
      {{"live", "--to", "http://example"}, "--to 'http://example': expected stdout"},
      {{"live", "--to", "tcp:99999"}, "--to 'tcp:99999'"},
      {{"stations", "--speed", "3"}, "unknown option '--speed' for stations"},
      {{"stations", "--stations", "0"}, "--stations '0': must be within [1, 10000]"},
  };
  for (const Case& c : cases) {
    auto r = RunSim(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.error << "\n" << r.output;
    EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
  }
}

TEST(CliTest, StationsPrintsTheNetworkAsRegistrationBodies) {
  auto r = RunSim({"stations", "--stations", "12"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> lines;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 12u) << r.output;
  EXPECT_EQ(lines[0], nlohmann::json::parse(R"({"id": "abj-plateau", "name": "Plateau",
      "latitude": 5.3236, "longitude": -4.0197, "type": "traffic"})"));
  EXPECT_EQ(lines[1]["id"], "abj-cocody");
  EXPECT_EQ(lines[1]["type"], "residential");
  // Past the ten named stations, the generated ones (ids, coordinates, types).
  EXPECT_EQ(lines[10]["id"], "abj-s011");
  EXPECT_TRUE(lines[11]["latitude"].is_number());
  EXPECT_TRUE(lines[11]["type"].is_string());

  // The default is the same five stations generate and live use.
  auto five = RunSim({"stations"});
  ASSERT_EQ(five.exit_code, 0) << five.output;
  EXPECT_EQ(std::count(five.output.begin(), five.output.end(), '\n'), 5);

  // A scenario's own stations.
  TempDir dir;
  std::ofstream(dir.File("s.json")) << R"({"stations": [
    {"id": "lab-1", "name": "Lab", "lat": 5.3, "lon": -4.0, "type": "industrial"}]})";
  auto scen = RunSim({"stations", "--scenario", dir.File("s.json")});
  ASSERT_EQ(scen.exit_code, 0) << scen.output;
  EXPECT_EQ(nlohmann::json::parse(scen.output), nlohmann::json::parse(R"({"id": "lab-1",
      "name": "Lab", "latitude": 5.3, "longitude": -4.0, "type": "industrial"})"));
}

TEST(CliTest, GenerateWritesHistoryTruthAndLog) {
  TempDir dir;
  auto r = RunSim({"generate", "--stations", "3", "--hours", "6", "--start", "2026-04-01T00:00:00Z",
                   "--seed", "9", "--out", dir.File("h.csv"), "--truth-out", dir.File("t.csv"),
                   "--truth-log", dir.File("log.jsonl"), "--fault",
                   "dropout,station=abj-yopougon,vars=so2,start=2026-04-01T01:00:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = ReadHistoryCsvFile(dir.File("h.csv"));
  ASSERT_TRUE(rows) << rows.message();
  EXPECT_EQ(rows->size(), 3u * 72);
  auto truth = ReadHistoryCsvFile(dir.File("t.csv"));
  ASSERT_TRUE(truth) << truth.message();
  EXPECT_EQ(truth->size(), 3u * 72);
  std::ifstream log(dir.File("log.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_NE(line.find("\"fault\":\"dropout\""), std::string::npos);
  EXPECT_NE(r.output.find("wrote 216 rows"), std::string::npos);
}

TEST(CliTest, ScenarioFileAndFlagsCombine) {
  TempDir dir;
  std::ofstream(dir.File("s.json")) << R"({"seed": 3, "start": "2026-05-01T00:00:00Z", "days": 1,
    "stations": [{"id": "lab-1", "lat": 5.3, "lon": -4.0, "type": "traffic"}],
    "faults": [{"type": "stuck", "station": "lab-1", "variables": ["pm25"], "value": 20}]})";
  auto r = RunSim({"generate", "--scenario", dir.File("s.json"), "--hours", "2", "--out",
                   dir.File("h.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = ReadHistoryCsvFile(dir.File("h.csv"));
  ASSERT_TRUE(rows) << rows.message();
  ASSERT_EQ(rows->size(), 24u);  // --hours overrides the file's days
  EXPECT_EQ((*rows)[0].station_id, "lab-1");
  EXPECT_EQ((*rows)[0].values[static_cast<int>(Variable::kPm25)], 20);

  std::ofstream(dir.File("bad.json")) << "{\n  \"seed\": 3,\n  \"days\": one\n}";
  auto bad = RunSim({"generate", "--scenario", dir.File("bad.json")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("bad.json line 3, column 11: JSON syntax error"), std::string::npos)
      << bad.output;
}

TEST(CliTest, UnwritableOutputIsARuntimeError) {
  auto r = RunSim({"generate", "--hours", "1", "--out", "/nonexistent/dir/h.csv"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot create /nonexistent/dir/h.csv"), std::string::npos) << r.output;
  auto full = RunSim({"generate", "--days", "5", "--out", "/dev/full"});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.output.find("No space left on device"), std::string::npos) << full.output;
}

TEST(CliTest, BadReplayFilesNameLineAndColumn) {
  TempDir dir;
  std::ofstream(dir.File("in.csv")) << "time,pm\n2026-01-01T01:00:00Z,12\n2026-01-01T02:00:00Z,1x\n";
  std::ofstream(dir.File("map.json"))
      << R"({"time_column": "time", "station": "s1", "columns": {"pm": {"variable": "pm25", "unit": "ug/m3"}}})";
  auto r = RunSim({"replay", "--input", dir.File("in.csv"), "--map", dir.File("map.json"), "--out",
                   dir.File("h.csv")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("in.csv line 3, column 2 (pm): '1x' is not a number"), std::string::npos)
      << r.output;
  std::ofstream(dir.File("map2.json")) << "{\"time_column\": \"time\",\n \"columns\": [}";
  auto m = RunSim({"replay", "--input", dir.File("in.csv"), "--map", dir.File("map2.json"), "--out",
                   dir.File("h.csv")});
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_NE(m.output.find("map2.json line 2, column 14"), std::string::npos) << m.output;
  auto none = RunSim({"replay", "--input", dir.File("in.csv")});
  EXPECT_NE(none.output.find("replay needs --map FILE"), std::string::npos) << none.output;
}

}  // namespace
}  // namespace sentinelle::sim
