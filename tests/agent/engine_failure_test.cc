// Failure paths of the engine: a full disk during commits, an unsynced
// system clock.
#include <gtest/gtest.h>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/agent/engine.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;
using test::kT0s;

TEST(EngineFailureTest, FullDiskDelaysCommitsWithoutLosingOrCrashing) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  auto e = Engine::Create(test::TestConfig("st-disk", broker.uri(), dir.File("agent.db")));
  ASSERT_TRUE(e) << e.message();
  Engine& engine = **e;
  ASSERT_TRUE(engine.Start());
  for (const auto& l : test::Burst(0, 2)) engine.HandleLine(l);
  ASSERT_TRUE(WaitFor([&] { return engine.GetSnapshot().unconfirmed == 0 &&
                                   engine.GetSnapshot().last_seq == 2; }));
  // The disk is full: the database cannot grow past its current size.
  ASSERT_TRUE(engine.TEST_SetStoreMaxPageCount(1));
  for (const auto& l : test::Burst(2, 30)) engine.HandleLine(l);
  ASSERT_TRUE(WaitFor([&] { return engine.GetSnapshot().pending_commits > 0; }));
  Metrics& m = engine.metrics();
  EXPECT_GE(m.Value("sentinelle_agent_store_errors_total"), 1);
  const int64_t stuck_at = engine.GetSnapshot().last_seq;
  EXPECT_LT(stuck_at, 32);
  // Space comes back: the held windows are committed in order and published.
  ASSERT_TRUE(engine.TEST_SetStoreMaxPageCount(0));
  ASSERT_TRUE(WaitFor([&] {
    auto s = engine.GetSnapshot();
    return s.last_seq == 32 && s.pending_commits == 0 && s.unconfirmed == 0;
  }, 20s));
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "commit_failed"}}), 0);
  std::map<int64_t, int64_t> window_of;
  for (const auto& r : peer.received()) window_of.emplace(r.seq, r.window_end_s);
  ASSERT_EQ(window_of.size(), 32u);
  for (const auto& [seq, end] : window_of) EXPECT_EQ(end, kT0s + 300 * seq);
}

TEST(EngineFailureTest, UnsyncedSystemClockHoldsWindowsUntilSynced) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  AgentConfig cfg = test::TestConfig("st-clock", broker.uri(), dir.File("agent.db"));
  cfg.clock.source = ClockSource::kSystem;
  FakeEnv env(test::kT0Ms);
  env.SetSynced(false);
  auto e = Engine::Create(cfg, &env);
  ASSERT_TRUE(e) << e.message();
  Engine& engine = **e;
  ASSERT_TRUE(engine.Start());
  for (const auto& l : test::WindowLines(0)) engine.HandleLine(l);
  // A sample stamped before 2024 is refused even while the clock is unknown.
  engine.HandleLine("{\"v\":1,\"ts_ms\":86400000,\"values\":{\"pm25\":1}}");
  engine.HandleLine("{\"v\":1,\"ts_ms\":1000000000000,\"values\":{\"pm25\":1}}");
  env.SetWallMs(test::kT0Ms + 400000);  // window 0 would be due...
  std::this_thread::sleep_for(300ms);
  auto snap = engine.GetSnapshot();
  EXPECT_EQ(snap.last_seq, 0);          // ...but an untrusted clock closes nothing
  EXPECT_EQ(snap.open_windows, 1u);
  EXPECT_EQ(engine.metrics().Value("sentinelle_agent_input_rejected_total", {{"reason", "too_old"}}),
            1);  // 1970 is refused by the parser's own range, as "parse"
  env.SetSynced(true);
  ASSERT_TRUE(WaitFor([&] { return peer.received_count() >= 1; }));
  const auto r = peer.received()[0];
  EXPECT_EQ(r.window_end_s, kT0s + 300);
  EXPECT_TRUE(r.reading.time.synced);
  EXPECT_EQ(r.reading.time.source, "ntp");
  EXPECT_DOUBLE_EQ(r.reading.value(Variable::kPm25), test::ValueFor(Variable::kPm25, 0));
}

}  // namespace
}  // namespace sentinelle::agent
