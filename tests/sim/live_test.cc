// Live and replay modes of the real binary: sensor lines on stdout, loopback
// TCP and UNIX sockets, accelerated time, and the faults only live mode shows
// (garbage lines, NaN samples, power loss).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>

#include "process_util.h"
#include "sentinelle/sensor_line.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT
using sentinelle::testing::TempDir;

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z

struct Parsed {
  std::vector<SensorLine> samples;
  std::vector<SensorLine> ticks;
  int bad = 0;
};

Parsed ParseAll(const std::vector<std::string>& lines) {
  Parsed p;
  for (const std::string& l : lines) {
    if (l.rfind("sentinelle-sim:", 0) == 0) continue;  // the closing summary on stderr
    auto s = ParseSensorLine(l);
    if (!s) {
      ++p.bad;
    } else if (s->clock_tick) {
      p.ticks.push_back(*s);
    } else {
      p.samples.push_back(*s);
    }
  }
  return p;
}

TEST(LiveTest, StdoutCarriesSamplesAndTicks) {
  auto r = RunSim({"live", "--station", "abj-cocody", "--start", "2026-01-01T00:00:00Z", "--hours",
                   "1", "--speed", "0", "--sample-s", "10", "--tick-s", "60"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Parsed p = ParseAll(Lines(r.output));
  EXPECT_EQ(p.bad, 0);
  ASSERT_EQ(p.samples.size(), 360u);
  EXPECT_EQ(p.ticks.size(), 60u);
  int64_t prev = 0;
  for (const SensorLine& s : p.samples) {
    EXPECT_GT(s.ts_ms, prev);
    EXPECT_EQ(s.ts_ms % 10000, 0);
    prev = s.ts_ms;
    for (int v = 0; v < kVariableCount; ++v) {
      ASSERT_EQ(s.state[v], SampleState::kValue);
      const VariableInfo& info = Variables()[v];
      EXPECT_GE(s.value[v], info.min);
      EXPECT_LE(s.value[v], info.max);
    }
    EXPECT_LE(s.value[static_cast<int>(Variable::kPm25)], s.value[static_cast<int>(Variable::kPm10)]);
  }
  EXPECT_EQ(p.samples.front().ts_ms, kStartMs + 10000);
  EXPECT_EQ(p.samples.back().ts_ms, kStartMs + 3600000);
  EXPECT_EQ(p.ticks.front().ts_ms, kStartMs + 60000);
}

TEST(LiveTest, AcceleratedClockRunsTenThousandTimesRealTime) {
  // Four simulated hours at 10,000x take 1.44 s of real time: not less (the
  // clock is paced), and every sample arrives.
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunSim({"live", "--start", "2026-01-01T00:00:00Z", "--hours", "4", "--speed", "10000"});
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Parsed p = ParseAll(Lines(r.output));
  EXPECT_EQ(p.samples.size(), 1440u);
  EXPECT_EQ(p.ticks.size(), 480u);
  EXPECT_GE(elapsed_s, 1.3);
}

TEST(LiveTest, TcpFeedWithGarbageAndNanFaults) {
  const int port = sentinelle::testing::FreeLoopbackPort();
  LineServer server(port);
  ASSERT_TRUE(server.ok());
  TempDir dir;
  auto r = RunSim({"live", "--to", "tcp:127.0.0.1:" + std::to_string(port), "--start",
                   "2026-01-01T00:00:00Z", "--hours", "1", "--speed", "0", "--truth-log",
                   dir.File("truth.jsonl"), "--fault",
                   "garbage,probability=0.5,start=2026-01-01T00:10:00Z,end=2026-01-01T00:20:00Z",
                   "--fault", "nan,vars=pm25,start=2026-01-01T00:30:00Z,end=2026-01-01T00:40:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(sentinelle::testing::WaitFor([&] { return server.Received().size() > 0; }));
  Parsed p = ParseAll(Lines(server.Received()));
  EXPECT_EQ(p.samples.size(), 360u);  // garbage comes in addition to the samples
  EXPECT_GE(p.bad, 10);               // ~30 of 60 sample periods, fixed seed
  int invalid = 0;
  for (const SensorLine& s : p.samples) {
    const bool in = s.ts_ms >= kStartMs + 1800000 && s.ts_ms < kStartMs + 2400000;
    EXPECT_EQ(s.state[static_cast<int>(Variable::kPm25)] == SampleState::kInvalid, in);
    invalid += in;
  }
  EXPECT_EQ(invalid, 60);
  std::ifstream log(dir.File("truth.jsonl"));
  std::vector<std::string> faults;
  for (std::string l; std::getline(log, l);) faults.push_back(nlohmann::json::parse(l)["fault"]);
  EXPECT_EQ(faults, (std::vector<std::string>{"garbage", "nan"}));
}

TEST(LiveTest, UnixSocketFeed) {
  TempDir dir;
  const std::string path = dir.File("agent.sock");
  LineServer server(0, path);
  ASSERT_TRUE(server.ok());
  auto r = RunSim({"live", "--to", "unix:" + path, "--start", "2026-01-01T00:00:00Z", "--hours",
                   "0.5", "--speed", "0", "--sample-s", "30", "--tick-s", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(sentinelle::testing::WaitFor(
      [&] { return ParseAll(Lines(server.Received())).samples.size() == 60u; }));
  EXPECT_TRUE(ParseAll(Lines(server.Received())).ticks.empty());
}

TEST(LiveTest, ReconnectsWhenTheAgentGoesAway) {
  // The listener drops the first connection after ~20 KB; the simulator
  // reconnects and goes on, counting what was lost meanwhile.
  const int port = sentinelle::testing::FreeLoopbackPort();
  LineServer server(port, "", 20000);
  ASSERT_TRUE(server.ok());
  auto r = RunSim({"live", "--to", "tcp:" + std::to_string(port), "--start",
                   "2026-01-01T00:00:00Z", "--hours", "2", "--speed", "4000"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(server.connections(), 2);
  EXPECT_EQ(r.output.find("reconnected 0 times"), std::string::npos) << r.output;
  ASSERT_TRUE(sentinelle::testing::WaitFor([&] {
    Parsed p = ParseAll(Lines(server.Received()));
    return !p.samples.empty() && p.samples.back().ts_ms == kStartMs + 7200000;
  })) << r.output;
}

TEST(LiveTest, NoAgentListeningIsAClearError) {
  const int port = sentinelle::testing::FreeLoopbackPort();
  auto r = RunSim({"live", "--to", "tcp:" + std::to_string(port), "--hours", "1",
                   "--connect-timeout-s", "0.3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot connect to tcp:" + std::to_string(port)), std::string::npos)
      << r.output;
}

TEST(LiveTest, PowerLossKillsTheProcessMidLine) {
  TempDir dir;
  auto r = RunSim({"live", "--start", "2026-01-01T00:00:00Z", "--hours", "2", "--speed", "0",
                   "--truth-log", dir.File("truth.jsonl"), "--fault",
                   "power_loss,start=2026-01-01T00:30:00Z"});
  EXPECT_EQ(r.exit_code, 128 + 9) << r.output;
  Parsed p = ParseAll(Lines(r.output));
  ASSERT_FALSE(p.samples.empty());
  EXPECT_EQ(p.samples.back().ts_ms, kStartMs + 1790000);  // the last sample before 00:30
  EXPECT_EQ(p.bad, 1);                                     // the half-written line
  EXPECT_NE(r.output.back(), '\n');
  EXPECT_EQ(r.output.find("sentinelle-sim: sent"), std::string::npos);  // no orderly exit
  std::ifstream log(dir.File("truth.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_NE(line.find("\"fault\":\"power_loss\""), std::string::npos);
  EXPECT_NE(line.find("\"start\":\"2026-01-01T00:30:00Z\""), std::string::npos);
}

TEST(LiveTest, ReplayFeedsHeldSamplesOverTcp) {
  TempDir dir;
  std::ofstream(dir.File("in.csv")) << "time,NO2,rain\n"
                                       "2026-01-01T01:00:00Z,10,6\n"
                                       "2026-01-01T02:00:00Z,20,\n";
  std::ofstream(dir.File("map.json")) << R"({"time_column": "time", "station": "lab-1",
    "columns": {"NO2": {"variable": "no2", "unit": "ppb"}, "rain": {"variable": "rain_mm", "unit": "mm"}}})";
  const int port = sentinelle::testing::FreeLoopbackPort();
  LineServer server(port);
  ASSERT_TRUE(server.ok());
  auto r = RunSim({"replay", "--input", dir.File("in.csv"), "--map", dir.File("map.json"), "--to",
                   "tcp:" + std::to_string(port), "--sample-s", "300", "--speed", "100000"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(sentinelle::testing::WaitFor(
      [&] { return ParseAll(Lines(server.Received())).samples.size() == 24u; }));
  Parsed p = ParseAll(Lines(server.Received()));
  EXPECT_EQ(p.bad, 0);
  const int no2 = static_cast<int>(Variable::kNo2), rain = static_cast<int>(Variable::kRainMm);
  double rain_total = 0;
  for (size_t i = 0; i < p.samples.size(); ++i) {
    const SensorLine& s = p.samples[i];
    // Hour 1 (00:00-01:00] holds 10 ppb, hour 2 holds 20 ppb.
    EXPECT_EQ(s.ts_ms < kStartMs + 3600000, i < 12);
    EXPECT_NEAR(s.value[no2], (i < 12 ? 10 : 20) * 46.0055 / 24.45, 1e-2);
    if (i < 12) rain_total += s.value[rain];
    else EXPECT_EQ(s.state[rain], SampleState::kAbsent);
  }
  EXPECT_NEAR(rain_total, 6, 1e-9);
  EXPECT_FALSE(p.ticks.empty());
}

}  // namespace
}  // namespace sentinelle::sim
