// The SQLite outbox: seq assignment, persistence across reopen, the wire
// fragments, confirmation, the disk budget policy and a failing disk.
#include "sentinelle/agent/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "process.h"
#include "sentinelle/codec.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::TempDir;

constexpr int64_t kEnd0 = 1767225900;  // 2026-01-01T00:05:00Z

Reading MakeReading(int64_t window_end_s, double pm25 = 12.5) {
  Reading r;
  r.station_id = "st-1";
  r.window_end_s = window_end_s;
  r.boot_id = "boot-a";
  r.time = {true, "ntp"};
  r.values[static_cast<int>(Variable::kPm25)] = pm25;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  r.samples[static_cast<int>(Variable::kPm25)] = 30;
  return r;
}

StoreConfig Config(const TempDir& dir) {
  StoreConfig c;
  c.path = dir.File("agent.db");
  return c;
}

TEST(StoreTest, SeqIsAssignedInOrderAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = Store::Open(Config(dir), "st-1", "boot-a");
    ASSERT_TRUE(store) << store.message();
    for (int i = 0; i < 3; ++i) {
      Reading r = MakeReading(kEnd0 + 300 * i);
      ASSERT_TRUE((*store)->Commit(r));
      EXPECT_EQ(r.seq, i + 1);
    }
    EXPECT_EQ((*store)->unconfirmed(), 3);
    EXPECT_EQ((*store)->boot_count(), 1);
  }
  auto store = Store::Open(Config(dir), "st-1", "boot-b");
  ASSERT_TRUE(store) << store.message();
  EXPECT_EQ((*store)->last_seq(), 3);
  EXPECT_EQ((*store)->last_window_end(), kEnd0 + 600);
  EXPECT_EQ((*store)->unconfirmed(), 3);
  EXPECT_EQ((*store)->boot_count(), 2);
  Reading r = MakeReading(kEnd0 + 900);
  ASSERT_TRUE((*store)->Commit(r));
  EXPECT_EQ(r.seq, 4);
}

TEST(StoreTest, RefusesAnotherStationsDatabase) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open(Config(dir), "st-1", "b")); }
  auto other = Store::Open(Config(dir), "st-2", "b");
  ASSERT_FALSE(other);
  EXPECT_NE(other.message().find("belongs to station 'st-1'"), std::string::npos);
}

TEST(StoreTest, FragmentsSpliceIntoBatchesTheDecoderAccepts) {
  TempDir dir;
  auto store = Store::Open(Config(dir), "st-1", "boot-a");
  ASSERT_TRUE(store);
  Reading a = MakeReading(kEnd0, 12.5);
  Reading b = MakeReading(kEnd0 + 300, 99.25);
  b.aqi = 173;
  b.aqi_dominant = Variable::kPm25;
  ASSERT_TRUE((*store)->Commit(a));
  ASSERT_TRUE((*store)->Commit(b));
  auto rows = (*store)->Unconfirmed(0, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  std::vector<const std::string*> frags = {&(*rows)[0].fragment, &(*rows)[1].fragment};
  const std::string payload = BuildBatchPayload("st-1", DeliveryKind::kReplay, frags);
  auto batch = DecodeReadingBatch(payload, "st-1");
  ASSERT_TRUE(batch) << batch.message() << "\n" << payload;
  EXPECT_EQ(batch->kind, DeliveryKind::kReplay);
  ASSERT_EQ(batch->readings.size(), 2u);
  EXPECT_EQ(batch->readings[0].seq, 1);
  EXPECT_EQ(batch->readings[1].seq, 2);
  EXPECT_EQ(batch->readings[1].window_end_s, kEnd0 + 300);
  EXPECT_DOUBLE_EQ(batch->readings[1].value(Variable::kPm25), 99.25);
  EXPECT_EQ(batch->readings[1].aqi, 173);
  EXPECT_EQ(batch->readings[0].boot_id, "boot-a");
  EXPECT_EQ(batch->readings[0].flag(Variable::kNo2), QcFlag::kMissing);
}

// A reading with every field at its longest: 64-character station id,
// largest seq and times, 17-digit values, the longest QC flag name.
Reading LongestReading(const std::string& station, int64_t seq) {
  Reading r;
  r.station_id = station;
  r.window_end_s = 253402300799;  // 9999-12-31T23:59:59Z
  r.interval_s = std::numeric_limits<int32_t>::max();
  r.seq = seq;
  r.boot_id = std::string(32, 'f');
  r.time = {false, "none"};
  for (int v = 0; v < kVariableCount; ++v) {
    r.values[static_cast<size_t>(v)] = -1.2345678901234567e-300;
    r.qc[static_cast<size_t>(v)] = QcFlag::kOutOfRange;
    r.samples[static_cast<size_t>(v)] = std::numeric_limits<uint16_t>::max();
  }
  r.aqi = 500;
  r.aqi_dominant = Variable::kPm25;
  return r;
}

// A valid reading whose values print with 17 significant digits.
Reading LongValidReading(const std::string& station, int64_t seq) {
  Reading r;
  r.station_id = station;
  r.window_end_s = kEnd0 + 300 * seq;
  r.seq = seq;
  r.boot_id = std::string(32, 'a');
  r.time = {true, "ntp"};
  for (const auto& info : Variables()) {
    const auto v = static_cast<size_t>(info.variable);
    r.values[v] = info.min + (info.max - info.min) * 0.123456789012345678;
    r.qc[v] = QcFlag::kOk;
    r.samples[v] = 300;
  }
  r.aqi = 151;
  r.aqi_dominant = Variable::kPm25;
  return r;
}

TEST(StoreTest, OneReadingCanNeverMakeAnOversizeMessage) {
  // Every field of a reading is bounded, so its fragment is too: even the
  // largest possible one is a tiny fraction of the 1 MiB payload limit.
  const std::string station(64, 'z');
  const std::string fragment =
      EncodeReadingFragment(LongestReading(station, std::numeric_limits<int64_t>::max()));
  ASSERT_FALSE(fragment.empty());
  EXPECT_LT(fragment.size(), 4096u) << fragment;
  const std::string payload = BuildBatchPayload(station, DeliveryKind::kReplay, {&fragment});
  EXPECT_LT(payload.size(), kMaxPayloadBytes / 256);
  std::vector<StoredReading> one{{1, 0, fragment}};
  EXPECT_EQ(RowsThatFit(station, one, 1), 1u);
}

TEST(StoreTest, BatchesAreSplitBelowThePayloadLimit) {
  // 2,500 readings of about 0.8 KiB in messages of up to 1,000 readings (the
  // largest mqtt.batch_max_readings): under the real 1 MiB limit, and under
  // a 100 KiB one that forces the split, every message stays within the
  // limit, is as full as the limit allows, decodes, and the seqs are all
  // there in order.
  const std::string station(64, 's');
  std::vector<StoredReading> rows;
  for (int64_t seq = 1; seq <= 2500; ++seq) {
    rows.push_back({seq, 0, EncodeReadingFragment(LongValidReading(station, seq))});
  }
  for (const size_t limit : {kMaxPayloadBytes, size_t{100} << 10}) {
    size_t pos = 0;
    size_t messages = 0;
    int64_t next_seq = 1;
    while (pos < rows.size()) {
      const std::vector<StoredReading> rest(rows.begin() + static_cast<std::ptrdiff_t>(pos),
                                            rows.end());
      const size_t want = std::min<size_t>(1000, rest.size());
      const size_t n = RowsThatFit(station, rest, want, limit);
      ASSERT_GE(n, 1u);
      ASSERT_LE(n, want);
      std::vector<const std::string*> frags;
      for (size_t i = 0; i < n; ++i) frags.push_back(&rest[i].fragment);
      const std::string payload = BuildBatchPayload(station, DeliveryKind::kReplay, frags);
      EXPECT_LE(payload.size(), limit);
      if (n < want) {  // split: as full as the limit allows
        EXPECT_GT(payload.size() + 1 + rest[n].fragment.size(), limit);
      }
      auto batch = DecodeReadingBatch(payload, station);
      ASSERT_TRUE(batch) << batch.message();
      ASSERT_EQ(batch->readings.size(), n);
      for (const Reading& r : batch->readings) EXPECT_EQ(r.seq, next_seq++);
      pos += n;
      ++messages;
    }
    EXPECT_EQ(next_seq, 2501);
    // 1 MiB: 1,000 of these fit (0.8 MiB); 100 KiB: about 120 per message.
    EXPECT_EQ(messages, limit == kMaxPayloadBytes ? 3u : 21u) << "limit " << limit;
  }
  // Never below one reading per message.
  EXPECT_EQ(RowsThatFit(station, rows, 1000, 1), 1u);
  EXPECT_EQ(RowsThatFit(station, rows, 0), 0u);
}

TEST(StoreTest, ConfirmRemovesFromTheOutboxOnlyNamedSeqs) {
  TempDir dir;
  auto store = Store::Open(Config(dir), "st-1", "boot-a");
  ASSERT_TRUE(store);
  for (int i = 0; i < 6; ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    ASSERT_TRUE((*store)->Commit(r));
  }
  auto n = (*store)->Confirm({{1, 2}, {4, 4}, {100, 200}});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(*(*store)->Confirm({{1, 2}}), 0);  // idempotent
  EXPECT_EQ((*store)->unconfirmed(), 3);
  auto rows = (*store)->Unconfirmed(0, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].seq, 3);
  EXPECT_EQ((*rows)[1].seq, 5);
  EXPECT_EQ((*rows)[2].seq, 6);
  EXPECT_EQ(*(*store)->CountUnconfirmedUpTo(5), 2);
  auto range = (*store)->Range(2, 4, 10);  // history includes confirmed rows
  ASSERT_TRUE(range);
  EXPECT_EQ(range->size(), 3u);
}

// A confirmation is written without its own fsync, but reading commits keep
// the configured synchronous level, and a confirmation still survives a
// clean reopen. A store configured below FULL is left as configured.
TEST(StoreTest, ConfirmRelaxesSyncForItselfOnly) {
  TempDir dir;
  {
    StoreConfig relaxed = Config(dir);
    relaxed.relaxed_confirm_sync = true;
    auto store = Store::Open(relaxed, "st-1", "boot-a");
    ASSERT_TRUE(store);
    EXPECT_EQ(*(*store)->TEST_Synchronous(), 2);  // FULL
    for (int i = 0; i < 4; ++i) {
      Reading r = MakeReading(kEnd0 + 300 * i);
      ASSERT_TRUE((*store)->Commit(r));
    }
    ASSERT_EQ(*(*store)->Confirm({{1, 3}}), 3);
    EXPECT_EQ(*(*store)->TEST_Synchronous(), 2);  // back to FULL for the next commit
    Reading r = MakeReading(kEnd0 + 300 * 4);
    ASSERT_TRUE((*store)->Commit(r));
  }
  {
    auto store = Store::Open(Config(dir), "st-1", "boot-b");
    ASSERT_TRUE(store);
    EXPECT_EQ((*store)->unconfirmed(), 2);  // seqs 4 and 5
    auto rows = (*store)->Unconfirmed(0, 10);
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].seq, 4);
  }
  {
    StoreConfig normal = Config(dir);
    normal.relaxed_confirm_sync = true;
    normal.db.synchronous = "NORMAL";
    auto store = Store::Open(normal, "st-1", "boot-c");
    ASSERT_TRUE(store);
    ASSERT_EQ(*(*store)->Confirm({{4, 4}}), 1);
    EXPECT_EQ(*(*store)->TEST_Synchronous(), 1);
  }
  StoreConfig off = Config(dir);
  off.relaxed_confirm_sync = true;
  off.db.synchronous = "OFF";
  auto store = Store::Open(off, "st-1", "boot-d");
  ASSERT_TRUE(store);
  ASSERT_EQ(*(*store)->Confirm({{5, 5}}), 1);
  EXPECT_EQ(*(*store)->TEST_Synchronous(), 0);  // never raised to NORMAL
}

TEST(StoreTest, BudgetDropsOldestConfirmedFirstThenOldestUnconfirmed) {
  TempDir dir;
  StoreConfig cfg = Config(dir);
  cfg.max_rows = 10;
  auto store = Store::Open(cfg, "st-1", "boot-a");
  ASSERT_TRUE(store);
  for (int i = 0; i < 10; ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    ASSERT_TRUE((*store)->Commit(r));
  }
  ASSERT_TRUE((*store)->Confirm({{3, 5}}));
  // 4 more readings: 3 confirmed rows go first, then the oldest unconfirmed (seq 1).
  for (int i = 10; i < 14; ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    ASSERT_TRUE((*store)->Commit(r));
  }
  EXPECT_EQ((*store)->rows(), 10);
  EXPECT_EQ((*store)->counters().evicted_confirmed, 3);
  EXPECT_EQ((*store)->counters().dropped_unconfirmed, 1);
  auto rows = (*store)->Unconfirmed(0, 100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 10u);
  EXPECT_EQ((*rows)[0].seq, 2);   // seq 1 was the oldest unconfirmed
  EXPECT_EQ((*rows)[1].seq, 6);   // 3..5 were confirmed and evicted
  EXPECT_EQ(rows->back().seq, 14);
}

TEST(StoreTest, ByteBudgetIsHonoured) {
  TempDir dir;
  StoreConfig cfg = Config(dir);
  Reading probe = MakeReading(kEnd0);
  probe.seq = 1;
  const auto one = static_cast<int64_t>(EncodeReadingFragment(probe).size());
  cfg.max_bytes = one * 5 + one / 2;  // room for 5 readings
  auto store = Store::Open(cfg, "st-1", "boot-a");
  ASSERT_TRUE(store);
  for (int i = 0; i < 8; ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    ASSERT_TRUE((*store)->Commit(r));
  }
  EXPECT_LE((*store)->bytes(), cfg.max_bytes);
  EXPECT_EQ((*store)->rows(), 5);
  EXPECT_EQ((*store)->counters().dropped_unconfirmed, 3);
}

TEST(StoreTest, FullDiskFailsTheCommitAndLosesNothingCommitted) {
  TempDir dir;
  auto store = Store::Open(Config(dir), "st-1", "boot-a");
  ASSERT_TRUE(store);
  for (int i = 0; i < 3; ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    ASSERT_TRUE((*store)->Commit(r));
  }
  auto pages = (*store)->TEST_PageCount();
  ASSERT_TRUE(pages);
  ASSERT_TRUE((*store)->TEST_SetMaxPageCount(*pages));
  // Large fragments need new pages: the disk is "full".
  Status failed;
  int committed = 0;
  for (int i = 3; i < 200 && failed.ok(); ++i) {
    Reading r = MakeReading(kEnd0 + 300 * i);
    failed = (*store)->Commit(r);
    if (failed.ok()) ++committed;
    else EXPECT_EQ(r.seq, 0);  // not assigned
  }
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("full"), std::string::npos) << failed.message();
  const int64_t last = (*store)->last_seq();
  EXPECT_EQ(last, 3 + committed);
  ASSERT_TRUE((*store)->TEST_SetMaxPageCount(0));
  Reading next = MakeReading(kEnd0 + 300 * 500);
  ASSERT_TRUE((*store)->Commit(next));
  EXPECT_EQ(next.seq, last + 1);  // no gap in seq from the failed commit
  store->reset();
  auto reopened = Store::Open(Config(dir), "st-1", "boot-b");
  ASSERT_TRUE(reopened);
  auto rows = (*reopened)->Unconfirmed(0, 1000);
  ASSERT_TRUE(rows);
  ASSERT_EQ(static_cast<int64_t>(rows->size()), last + 1);
  for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i].seq, static_cast<int64_t>(i + 1));
}

}  // namespace
}  // namespace sentinelle::agent
