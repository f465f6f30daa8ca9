// Store, gap ledger, health, auth and validation with a real SQLite file.
#include <gtest/gtest.h>

#include <fstream>

#include "process.h"
#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/import.h"
#include "sentinelle/collector/ingest.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/env.h"
#include "test_agent.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::MakeBatch;
using sentinelle::testing::MakeReading;
using sentinelle::testing::TempDir;

std::unique_ptr<SqliteHistoryStore> OpenStore(const TempDir& dir) {
  SqliteStoreOptions o;
  o.path = dir.File("collector.db");
  auto s = SqliteHistoryStore::Open(o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.message());
  return std::move(*s);
}

StoredReading Stored(const std::string& station, int64_t seq, int64_t end_s) {
  StoredReading sr;
  sr.reading = MakeReading(station, seq, end_s);
  sr.arrival_ms = end_s * 1000 + 2000;
  return sr;
}

TEST(SqliteStoreTest, StoresEachWindowOnceAndQueriesRanges) {
  TempDir dir;
  auto store = OpenStore(dir);
  WriteBatch b;
  for (int s = 1; s <= 10; ++s) b.readings.push_back(Stored("st-a", s, 1767225600 + s * 300));
  b.readings.push_back(Stored("st-a", 3, 1767225600 + 3 * 300));  // duplicate in the same batch
  auto r = store->Commit(b);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->inserted, 10);
  EXPECT_EQ(r->duplicates, 1);
  auto again = store->Commit(b);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->inserted, 0);
  EXPECT_EQ(again->duplicates, 11);

  auto rows = store->QueryReadings("st-a", {1767225600 + 3 * 300, 1767225600 + 6 * 300}, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].reading.seq, 3);
  const Reading want = MakeReading("st-a", 3, 1767225600 + 3 * 300);
  for (int i = 0; i < kVariableCount; ++i) {
    EXPECT_DOUBLE_EQ((*rows)[0].reading.values[i], want.values[i]);
    EXPECT_EQ((*rows)[0].reading.qc[i], want.qc[i]);
    EXPECT_EQ((*rows)[0].reading.samples[i], want.samples[i]);
  }
  EXPECT_EQ((*rows)[0].reading.aqi, want.aqi);
  auto station = store->GetStation("st-a");
  ASSERT_TRUE(station.ok() && station->has_value());
  EXPECT_EQ((*station)->reading_count, 10);
  auto seqs = store->StoredSeqs("st-a", 4, 20);
  ASSERT_TRUE(seqs.ok());
  EXPECT_EQ(seqs->size(), 7u);
  auto highs = store->HighestSeqs();
  ASSERT_TRUE(highs.ok());
  ASSERT_EQ(highs->size(), 1u);
  EXPECT_EQ((*highs)[0].second, 10);
}

TEST(SqliteStoreTest, ReopensMigratedDatabaseAndRefusesNewerSchema) {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    WriteBatch b;
    b.readings.push_back(Stored("st-a", 1, 1767225900));
    ASSERT_TRUE(store->Commit(b).ok());
  }
  {
    auto store = OpenStore(dir);
    auto rows = store->QueryReadings("st-a", {}, 10);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->size(), 1u);
  }
  {
    auto db = Db::Open(dir.File("collector.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=99").ok());
  }
  SqliteStoreOptions o;
  o.path = dir.File("collector.db");
  auto s = SqliteHistoryStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("newer"), std::string::npos);
}

TEST(SqliteStoreTest, FailedCommitLeavesNothingBehind) {
  TempDir dir;
  auto store = OpenStore(dir);
  // Another connection holds the write lock: the commit fails (busy) and
  // must not leave a partial batch.
  SqliteStoreOptions o;
  o.path = dir.File("collector.db");
  o.busy_timeout_ms = 50;
  auto impatient = SqliteHistoryStore::Open(o);
  ASSERT_TRUE(impatient.ok());
  auto locker = Db::Open(dir.File("collector.db"));
  ASSERT_TRUE(locker.ok());
  ASSERT_TRUE((*locker)->Exec("BEGIN IMMEDIATE").ok());
  WriteBatch b;
  b.readings.push_back(Stored("st-b", 1, 1767225900));
  EXPECT_FALSE((*impatient)->Commit(b).ok());
  ASSERT_TRUE((*locker)->Exec("ROLLBACK").ok());
  auto ok = (*impatient)->Commit(b);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->inserted, 1);
}

GapConfig FastGaps() {
  GapConfig g;
  g.grace_s = 10;
  g.retry_s = 30;
  g.max_attempts = 2;
  g.max_range = 100;
  g.max_requests_per_s = 1000;
  return g;
}

auto AlwaysReachable = [](const std::string&) { return true; };

TEST(GapLedgerTest, DetectsFillsAndSplitsGaps) {
  GapLedger l(FastGaps());
  for (int64_t s : {1, 2, 3, 8, 9, 15}) l.StageReading("a", s, false, 1000);
  l.CommitStaged();
  auto gaps = l.OpenGaps();
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0].from_seq, 4);
  EXPECT_EQ(gaps[0].to_seq, 7);
  EXPECT_EQ(gaps[1].from_seq, 10);
  EXPECT_EQ(gaps[1].to_seq, 14);
  EXPECT_EQ(l.OutstandingSeqs(), 9);
  l.StageReading("a", 12, false, 2000);  // splits [10,14]
  l.StageReading("a", 4, false, 2000);
  l.CommitStaged();
  gaps = l.OpenGaps();
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_EQ(gaps[0].from_seq, 5);
  EXPECT_EQ(gaps[1].to_seq, 11);
  EXPECT_EQ(gaps[2].from_seq, 13);
  EXPECT_EQ(l.OutstandingSeqs(), 3 + 2 + 2);
}

TEST(GapLedgerTest, AbortedStagingChangesNothing) {
  GapLedger l(FastGaps());
  l.StageReading("a", 1, false, 0);
  l.CommitStaged();
  l.StageReading("a", 10, false, 0);
  l.AbortStaged();
  EXPECT_TRUE(l.OpenGaps().empty());
  EXPECT_EQ(l.HighestSeq("a"), 1);
}

TEST(GapLedgerTest, RequestsAfterGraceRetriesThenTimesOut) {
  GapLedger l(FastGaps());
  l.StageReading("a", 1, false, 0);
  l.StageReading("a", 5, false, 0);
  l.CommitStaged();
  EXPECT_TRUE(l.StageRequests(5000, AlwaysReachable, nullptr).empty());  // within grace
  auto r = l.StageRequests(10000, AlwaysReachable, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].from_seq, 2);
  EXPECT_EQ(r[0].to_seq, 4);
  l.CommitStaged();
  EXPECT_TRUE(l.StageRequests(20000, AlwaysReachable, nullptr).empty());  // retry_s not over
  l.StageLastSeq("a", 5, 20000);  // periodic status: the station stays in touch
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(40000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  // The station talks after the last request (a live reading) but does not
  // fill the gap: two attempts made, after retry_s more the gap is given up.
  l.StageReading("a", 6, false, 41000);
  l.CommitStaged();
  EXPECT_TRUE(l.StageRequests(75000, AlwaysReachable, nullptr).empty());
  WriteBatch b;
  l.ExportStaged(&b);
  ASSERT_EQ(b.lost_gaps.size(), 1u);
  EXPECT_EQ(b.lost_gaps[0].reason, "timeout");
  EXPECT_EQ(b.lost_gaps[0].from_seq, 2);
  EXPECT_EQ(b.lost_gaps[0].to_seq, 4);
  l.CommitStaged();
  EXPECT_TRUE(l.OpenGaps().empty());
}

TEST(GapLedgerTest, SilentStationKeepsItsGapOpenAndIsAskedAgain) {
  // Requests sent while the station cannot hear them (link down, broker
  // restarted, command lost) prove nothing: the gap is not closed as lost.
  GapLedger l(FastGaps());
  l.StageReading("a", 1, false, 0);
  l.StageReading("a", 5, false, 0);
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(10000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(40000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  auto r = l.StageRequests(75000, AlwaysReachable, nullptr);  // silent since 0
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].attempt, 3);
  WriteBatch b;
  l.ExportStaged(&b);
  EXPECT_TRUE(b.lost_gaps.empty());
  l.CommitStaged();
  ASSERT_EQ(l.OpenGaps().size(), 1u);
  // Back online: its status arrives, then its replay of everything unconfirmed.
  l.StageLastSeq("a", 9, 80000);
  for (int64_t s : {2, 3, 4}) l.StageReading("a", s, true, 80100);
  l.CommitStaged();
  ASSERT_EQ(l.OpenGaps().size(), 1u);  // [6, 9] from the status, still in its grace
  EXPECT_EQ(l.OpenGaps()[0].from_seq, 6);
  EXPECT_EQ(l.OpenGaps()[0].attempts, 0);
  EXPECT_TRUE(l.StageRequests(120000, AlwaysReachable, nullptr).size() == 1u);
  WriteBatch none;
  l.ExportStaged(&none);
  EXPECT_TRUE(none.lost_gaps.empty());
}

TEST(GapLedgerTest, StationBackFromSilenceGetsARetryPeriodToReplay) {
  // Asked for while silent, the station comes back just after the last
  // retry period ended: its birth status must not let the gap time out
  // before its replay of the unconfirmed readings arrives.
  GapLedger l(FastGaps());
  l.StageReading("a", 1, false, 0);
  l.StageReading("a", 5, false, 0);
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(10000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(40000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  l.StageLastSeq("a", 5, 71000);  // birth after 71 s of silence
  l.CommitStaged();
  EXPECT_TRUE(l.StageRequests(72000, AlwaysReachable, nullptr).empty());
  WriteBatch early;
  l.ExportStaged(&early);
  EXPECT_TRUE(early.lost_gaps.empty());
  l.CommitStaged();
  // Talking, and still no replay of [2, 4] a retry period later: lost.
  l.StageReading("a", 6, false, 90000);
  l.CommitStaged();
  EXPECT_TRUE(l.StageRequests(101000, AlwaysReachable, nullptr).empty());
  WriteBatch b;
  l.ExportStaged(&b);
  ASSERT_EQ(b.lost_gaps.size(), 1u);
  EXPECT_EQ(b.lost_gaps[0].reason, "timeout");
}

TEST(GapLedgerTest, ReplayAboveRequestedStartClosesTheRestAsLost) {
  GapLedger l(FastGaps());
  l.StageReading("a", 1, false, 0);
  l.StageReading("a", 20, false, 0);
  l.CommitStaged();
  ASSERT_EQ(l.StageRequests(10000, AlwaysReachable, nullptr).size(), 1u);
  l.CommitStaged();
  // The agent dropped 2..9: its replay starts at 10.
  l.StageReading("a", 10, true, 11000);
  WriteBatch b;
  l.ExportStaged(&b);
  l.CommitStaged();
  ASSERT_EQ(b.lost_gaps.size(), 1u);
  EXPECT_EQ(b.lost_gaps[0].from_seq, 2);
  EXPECT_EQ(b.lost_gaps[0].to_seq, 9);
  EXPECT_EQ(b.lost_gaps[0].reason, "agent_answered");
  auto gaps = l.OpenGaps();
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].from_seq, 11);
  EXPECT_EQ(gaps[0].to_seq, 19);
}

TEST(GapLedgerTest, StatusLastSeqRevealsTrailingGapAndLimitsRange) {
  GapConfig g = FastGaps();
  g.max_range = 5;
  GapLedger l(g);
  l.StageReading("a", 1, false, 0);
  l.StageLastSeq("a", 30, 0);
  l.CommitStaged();
  auto r = l.StageRequests(10000, AlwaysReachable, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].from_seq, 2);
  EXPECT_EQ(r[0].to_seq, 6);
  l.CommitStaged();
  for (int64_t s = 2; s <= 6; ++s) l.StageReading("a", s, true, 11000);
  l.CommitStaged();
  // The requested chunk arrived: the next one is asked at once.
  r = l.StageRequests(12000, AlwaysReachable, nullptr);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].from_seq, 7);
  EXPECT_EQ(r[0].to_seq, 11);
}

TEST(GapLedgerTest, ReconcilesWithStoreRateLimitsAndSkipsUnreachable) {
  GapConfig g = FastGaps();
  g.max_requests_per_s = 1;
  GapLedger l(g);
  for (const char* st : {"a", "b", "c"}) {
    l.StageReading(st, 1, false, 0);
    l.StageReading(st, 4, false, 0);
  }
  l.CommitStaged();
  auto stored = [](const std::string& st, int64_t, int64_t) -> Result<std::vector<int64_t>> {
    if (st == "a") return std::vector<int64_t>{2, 3};  // filled by someone else
    return std::vector<int64_t>{};
  };
  auto reachable = [](const std::string& st) { return st != "b"; };
  auto r = l.StageRequests(10000, reachable, stored);
  l.CommitStaged();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].station_id, "c");
  EXPECT_EQ(l.OpenGapCount("a"), 0);
  EXPECT_EQ(l.OpenGapCount("b"), 1);
  // Bucket empty: nothing more this second.
  EXPECT_TRUE(l.StageRequests(10100, [](const std::string&) { return true; }, stored).empty());
}

TEST(HealthTest, StatesFromStatusFreshnessQcAndClock) {
  HealthConfig c;
  HealthTracker h(c);
  const int64_t t0 = 1767225600000;
  StationStatus online;
  online.station_id = "a";
  online.state = "online";
  online.time = {true, "ntp"};
  h.OnStatus(online, t0);
  EXPECT_EQ(h.Get("a", t0 + 1000, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.Get("a", t0 + 4 * 300000, 0)->state, HealthState::kSilent);
  StoredReading sr = Stored("a", 1, t0 / 1000);
  sr.arrival_ms = t0 + 4 * 300000;
  h.OnReading(sr);
  EXPECT_EQ(h.Get("a", t0 + 4 * 300000 + 1, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.Get("a", t0 + 4 * 300000 + 1, 2)->state, HealthState::kDegraded);
  sr.clock = ClockFlag::kUnsynced;
  sr.arrival_ms += 1000;
  h.OnReading(sr);
  EXPECT_EQ(h.Get("a", sr.arrival_ms + 1, 0)->state, HealthState::kClockUnsynced);
  sr.clock = ClockFlag::kOk;
  sr.reading.qc.fill(QcFlag::kStuck);
  for (int i = 0; i < 20; ++i) {
    sr.arrival_ms += 1000;
    h.OnReading(sr);
  }
  EXPECT_EQ(h.Get("a", sr.arrival_ms + 1, 0)->state, HealthState::kQcAlarm);
  StationStatus will = online;
  will.state = "offline";
  h.OnStatus(will, sr.arrival_ms + 10);
  EXPECT_EQ(h.Get("a", sr.arrival_ms + 20, 0)->state, HealthState::kOffline);
  h.SetDistributedModels({"pm25", 60, "station", "a"}, {{"2", {}, 0, 0}});
  StationStatus with_model = online;
  with_model.models = {{"pm25", 60, "station", "1"}};
  h.OnStatus(with_model, sr.arrival_ms + 30);
  sr.reading.qc.fill(QcFlag::kOk);
  for (int i = 0; i < 60; ++i) {
    sr.arrival_ms += 1000;
    h.OnReading(sr);
  }
  EXPECT_EQ(h.Get("a", sr.arrival_ms + 1, 0)->state, HealthState::kStaleModel);
  auto counts = h.CountByState(sr.arrival_ms + 1, {});
  EXPECT_EQ(counts[static_cast<int>(HealthState::kStaleModel)], 1);
}

TEST(AuthTest, RolesAndHashedTokens) {
  const std::string viewer = TokenAuth::NewToken();
  const std::string admin = TokenAuth::NewToken();
  EXPECT_NE(viewer, admin);
  EXPECT_EQ(viewer.size(), 64u);
  TokenAuth auth({{"v", TokenAuth::HashToken(viewer), Role::kViewer},
                  {"a", TokenAuth::HashToken(admin), Role::kAdmin}});
  AuthFailure f;
  auto p = auth.Authenticate("Bearer " + viewer, &f);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->role, Role::kViewer);
  EXPECT_FALSE(auth.Authenticate(std::nullopt, &f).has_value());
  EXPECT_EQ(f, AuthFailure::kMissingToken);
  EXPECT_FALSE(auth.Authenticate("Bearer " + TokenAuth::HashToken(viewer), &f).has_value());
  EXPECT_EQ(f, AuthFailure::kInvalidToken);
  EXPECT_FALSE(auth.Authenticate("Basic abc", &f).has_value());
  EXPECT_TRUE(RoleAllows(Role::kViewer, Permission::kRead));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Permission::kImport));
  EXPECT_TRUE(RoleAllows(Role::kDataScientist, Permission::kTrain));
  EXPECT_TRUE(RoleAllows(Role::kDataScientist, Permission::kImport));
  EXPECT_FALSE(RoleAllows(Role::kDataScientist, Permission::kRegistry));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Permission::kRegistry));
}

// The validation path of the pipeline (no broker needed: Offer is what the
// MQTT callback calls).
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_);
    config_.ingest.future_tolerance_s = 300;
    ledger_ = std::make_unique<GapLedger>(config_.gaps);
    health_ = std::make_unique<HealthTracker>(config_.health);
    pipeline_ = std::make_unique<IngestPipeline>(config_, store_.get(), ledger_.get(),
                                                 health_.get(), &metrics_, nullptr, &env_);
    ASSERT_TRUE(pipeline_->Start().ok());
  }
  const std::string topic_ = "sentinelle/v1/stations/st-a/readings";
  TempDir dir_;
  CollectorConfig config_;
  SystemEnv env_;
  CollectorMetrics metrics_;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<GapLedger> ledger_;
  std::unique_ptr<HealthTracker> health_;
  std::unique_ptr<IngestPipeline> pipeline_;
};

TEST_F(PipelineTest, RejectsHostilePayloadsWithReasons) {
  const int64_t now = env_.WallMs();
  const int64_t base = sentinelle::testing::PastBase();
  const std::string good = MakeBatch("st-a", 1, 2, base);
  auto reason = [&](std::string_view topic, const std::string& payload) {
    auto r = pipeline_->Offer(topic, payload, now);
    EXPECT_FALSE(r.accepted) << payload.substr(0, 80);
    return r.reason;
  };
  EXPECT_EQ(reason("sentinelle/v1/stations/st-b/readings", good), RejectReason::kWrongStation);
  EXPECT_EQ(reason("sentinelle/v1/stations/ST+A/readings", good), RejectReason::kBadTopic);
  EXPECT_EQ(reason("sentinelle/v1/stations/st-a/ack", good), RejectReason::kBadTopic);
  EXPECT_EQ(reason(topic_, std::string(kMaxPayloadBytes + 1, ' ')), RejectReason::kTooLarge);
  EXPECT_EQ(reason(topic_, std::string(5000, '[') + std::string(5000, ']')),
            RejectReason::kTooDeep);
  EXPECT_EQ(reason(topic_, "{\"schema\":1,"), RejectReason::kMalformedJson);
  std::string nan = good;
  nan.replace(nan.find("\"v\":") + 4, 0, "NaN,\"x\":");
  EXPECT_EQ(reason(topic_, nan), RejectReason::kMalformedJson);
  auto j = nlohmann::json::parse(good);
  j["readings"][0]["values"]["pm25"]["v"] = "12.5";
  EXPECT_EQ(reason(topic_, j.dump()), RejectReason::kInvalidField);
  j = nlohmann::json::parse(good);
  j["readings"][0]["seq"] = "1";
  EXPECT_EQ(reason(topic_, j.dump()), RejectReason::kInvalidField);
  j = nlohmann::json::parse(good);
  j["schema"] = 2;
  EXPECT_EQ(reason(topic_, j.dump()), RejectReason::kInvalidField);
  j = nlohmann::json::parse(good);
  j["readings"][0]["values"]["pm25"]["v"] = 1e300;
  EXPECT_EQ(reason(topic_, j.dump()), RejectReason::kInvalidField);
  const int64_t future = (now / 1000 + 3600) / 300 * 300;
  EXPECT_EQ(reason(topic_, MakeBatch("st-a", 1, 1, future - 300)), RejectReason::kFutureTimestamp);
  EXPECT_EQ(reason("sentinelle/v1/stations/st-a/status", "{}"), RejectReason::kInvalidField);
  EXPECT_DOUBLE_EQ(metrics_.rejected(RejectReason::kWrongStation).Value(), 1);
  // Still alive and storing.
  ASSERT_TRUE(pipeline_->Offer(topic_, good, now).accepted);
  ASSERT_TRUE(sentinelle::testing::WaitFor([&] {
    auto s = store_->GetStation("st-a");
    return s.ok() && s->has_value() && (*s)->reading_count == 2;
  }));
  EXPECT_EQ(metrics_.readings_stored->Value(), 2);
}

TEST_F(PipelineTest, FlagsUnsyncedAndSkewedClocks) {
  const int64_t now = env_.WallMs();
  auto j = nlohmann::json::parse(MakeBatch("st-a", 1, 1, sentinelle::testing::PastBase()));
  j["readings"][0]["time"]["synced"] = false;
  ASSERT_TRUE(pipeline_->Offer(topic_, j.dump(), now).accepted);  // old and unsynced
  ASSERT_TRUE(sentinelle::testing::WaitFor([&] { return pipeline_->commits() >= 1; }));
  auto rows = store_->QueryReadings("st-a", {}, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].clock, ClockFlag::kUnsynced);
  ASSERT_TRUE(pipeline_->Offer(topic_, MakeBatch("st-a", 2, 2, sentinelle::testing::PastBase()),
                               now).accepted);
  ASSERT_TRUE(sentinelle::testing::WaitFor([&] { return pipeline_->commits() >= 2; }));
  rows = store_->QueryReadings("st-a", {}, 10);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].clock, ClockFlag::kSkew);  // live but ~a year old
  EXPECT_EQ(health_->Get("st-a", now, 0)->state, HealthState::kClockUnsynced);
}

TEST(ImportTest, ValidatesWholeFileThenImportsOnce) {
  TempDir dir;
  auto store = OpenStore(dir);
  std::string csv(kHistoryCsvHeader);
  csv += "\n";
  for (int i = 1; i <= 5; ++i) {
    std::array<double, kVariableCount> v;
    v.fill(kMissingValue);
    v[static_cast<int>(Variable::kPm25)] = 10.0 * i;
    AppendHistoryCsvRow(csv, "st-imp", 1767225600 + i * 300, v);
  }
  auto text = std::make_shared<const std::string>(csv);
  auto r = ImportHistoryCsv(*store, CsvTextSource(text), {}, 0);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->rows, 5);
  EXPECT_EQ(r->inserted, 5);
  r = ImportHistoryCsv(*store, CsvTextSource(text), {}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->duplicates, 5);
  auto rows = store->QueryReadings("st-imp", {}, 10);
  ASSERT_EQ(rows->size(), 5u);
  EXPECT_EQ((*rows)[0].origin, ReadingOrigin::kImport);
  EXPECT_TRUE((*rows)[0].reading.valid(Variable::kPm25));
  EXPECT_EQ((*rows)[0].reading.flag(Variable::kNo2), QcFlag::kMissing);
  EXPECT_TRUE((*rows)[0].reading.aqi.has_value());
  // A bad line anywhere: nothing from that file is written.
  auto bad = std::make_shared<const std::string>(csv + "st-imp2,2026-01-01T00:05:00Z,x\n");
  auto rb = ImportHistoryCsv(*store, CsvTextSource(bad), {}, 0);
  ASSERT_FALSE(rb.ok());
  EXPECT_NE(rb.message().find("line 7"), std::string::npos) << rb.message();
  auto none = store->GetStation("st-imp2");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(ConfigTest, ExampleConfigLoadsAndUnknownKeysAreRefused) {
  auto c = LoadCollectorConfigFile(std::string(SENTINELLE_SOURCE_DIR) +
                                   "/configs/collector.example.json");
  EXPECT_EQ(c.http.listen, "127.0.0.1:8080");
  ASSERT_EQ(c.http.tokens.size(), 3u);
  EXPECT_EQ(c.http.tokens[1].role, Role::kDataScientist);
  ConfigReader typo = ConfigReader::FromString(R"({"gaps": {"grace": 5}})");
  EXPECT_THROW(LoadCollectorConfig(typo), ConfigError);
  ConfigReader bad_hash = ConfigReader::FromString(
      R"({"http": {"tokens": [{"name": "x", "role": "admin", "sha256": "abc"}]}})");
  EXPECT_THROW(LoadCollectorConfig(bad_hash), ConfigError);
  ConfigReader bad_role = ConfigReader::FromString(R"({"http": {"tokens": [{"name": "x",
      "role": "root", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"}]}})");
  EXPECT_THROW(LoadCollectorConfig(bad_role), ConfigError);
}

TEST(ConfigTest, MonitoringClockIsWallOrData) {
  ConfigReader none = ConfigReader::FromString("{}");
  EXPECT_EQ(LoadCollectorConfig(none).monitoring.clock, MonitoringConfig::Clock::kWall);
  ConfigReader data = ConfigReader::FromString(R"({"monitoring": {"clock": "data"}})");
  EXPECT_EQ(LoadCollectorConfig(data).monitoring.clock, MonitoringConfig::Clock::kData);
  ConfigReader bad = ConfigReader::FromString(R"({"monitoring": {"clock": "sim"}})");
  try {
    LoadCollectorConfig(bad);
    ADD_FAILURE() << "monitoring.clock \"sim\" accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("monitoring.clock"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sentinelle::collector
