// sentinelle-sim feeding the real sentinelle-agent over loopback TCP at
// 10,000x: the agent follows the simulator's clock (clock.source = "input")
// and turns six simulated hours of samples into 5-minute readings, with the
// injected dropout showing as "missing" exactly where the truth log says.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "process_util.h"
#include "sentinelle/reading.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::sim {
namespace {

using nlohmann::json;
using sentinelle::sim::testing::RunSim;
using sentinelle::testing::BinPath;
using sentinelle::testing::ChildProcess;
using sentinelle::testing::FreeLoopbackPort;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;

// window_end_s -> reading fragment, read from the agent's SQLite store.
std::map<int64_t, json> Readings(const std::string& db_path) {
  std::map<int64_t, json> out;
  DbOptions o;
  o.read_only = true;
  auto db = Db::Open(db_path, o);
  if (!db) return out;
  auto st = (*db)->Prepare("SELECT window_end_s, fragment FROM readings");
  if (!st) return out;
  while (true) {
    auto more = st->Step();
    if (!more || !*more) break;
    json j = json::parse(st->ColumnText(1), nullptr, false);
    if (!j.is_discarded()) out[st->ColumnInt(0)] = j;
  }
  return out;
}

TEST(AgentFeedTest, AgentFollowsTheSimulatedClock) {
  TempDir dir;
  const int input_port = FreeLoopbackPort();
  const int dead_broker_port = FreeLoopbackPort();  // nothing listens: the agent buffers
  json config = {{"station_id", "abj-plateau"},
                 {"clock", {{"source", "input"}}},
                 {"input", {{"kind", "tcp"}, {"tcp_port", input_port}}},
                 {"store", {{"path", dir.File("agent.db")}}},
                 {"mqtt", {{"uri", "tcp://127.0.0.1:" + std::to_string(dead_broker_port)}}},
                 {"metrics", {{"listen", ""}}},
                 {"log", {{"level", "warn"}}}};
  std::ofstream(dir.File("agent.json")) << config.dump(2);
  ChildProcess agent({BinPath("sentinelle-agent"), "--config", dir.File("agent.json")},
                     dir.File("agent.log"));
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(WaitFor([&] { return sentinelle::testing::PortOpen(input_port); }))
      << agent.Log();

  auto sim = RunSim({"live", "--station", "abj-plateau", "--to",
                     "tcp:127.0.0.1:" + std::to_string(input_port), "--start",
                     "2026-01-01T00:00:00Z", "--hours", "6", "--speed", "10000", "--truth-log",
                     dir.File("truth.jsonl"), "--fault",
                     "dropout,vars=pm25,start=2026-01-01T01:00:00Z,end=2026-01-01T02:00:00Z"});
  ASSERT_EQ(sim.exit_code, 0) << sim.output;

  // 6 h = 72 windows; the last one closes only once the clock passes its end
  // plus the agent's grace, which the final tick does not reach.
  const int64_t t0 = *ParseUtc("2026-01-01T00:00:00Z");
  ASSERT_TRUE(WaitFor([&] { return Readings(dir.File("agent.db")).size() >= 71u; },
                      std::chrono::seconds(20)))
      << agent.Log();
  agent.Signal(SIGTERM);
  agent.Wait(std::chrono::seconds(15));

  auto readings = Readings(dir.File("agent.db"));
  int missing = 0;
  for (int k = 2; k <= 71; ++k) {
    const int64_t end = t0 + 300LL * k;
    ASSERT_TRUE(readings.count(end)) << FormatUtc(end);
    const json& pm25 = readings[end]["values"]["pm25"];
    const json& no2 = readings[end]["values"]["no2"];
    EXPECT_EQ(no2["qc"], "ok") << FormatUtc(end);
    EXPECT_EQ(no2["n"], 30) << FormatUtc(end);  // 300 s of 10 s samples
    const bool dropped = end > t0 + 3600 && end <= t0 + 7200;
    EXPECT_EQ(pm25["qc"], dropped ? "missing" : "ok") << FormatUtc(end);
    missing += dropped;
  }
  EXPECT_EQ(missing, 12);
  std::ifstream log(dir.File("truth.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_EQ(json::parse(line)["fault"], "dropout");
}

}  // namespace
}  // namespace sentinelle::sim
