// Store: the station's SQLite buffer and outbox.
//
// Every closed window is committed here, with its sequence number, before it
// is published. A reading stays "unconfirmed" until the collector's end-to-end
// acknowledgement names its seq; confirmed readings are kept as local history
// (for backfill) until the budget needs their room.
//
// Budget policy (docs/OPERATIONS.md, "Agent"): before a commit would exceed
// max_rows or max_bytes, the oldest confirmed readings are deleted first
// (counted as evicted_confirmed), then the oldest unconfirmed ones (counted as
// dropped_unconfirmed: real data loss, also logged). Both happen in the same
// transaction as the insert.
//
// Not thread-safe: one owner (the engine, under its lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sentinelle/agent/config.h"
#include "sentinelle/codec.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::agent {

// One stored reading, as its wire fragment (the JSON object that goes into a
// batch's "readings" array), so replays need no re-encoding.
struct StoredReading {
  int64_t seq = 0;
  int64_t window_end_s = 0;
  std::string fragment;
};

struct StoreCounters {
  int64_t evicted_confirmed = 0;    // confirmed readings deleted for room
  int64_t dropped_unconfirmed = 0;  // unconfirmed readings deleted for room (data loss)
};

// The wire fragment of one reading; BuildBatchPayload() splices fragments
// into a batch that DecodeReadingBatch() accepts.
std::string EncodeReadingFragment(const Reading& reading);
std::string BuildBatchPayload(std::string_view station_id, DeliveryKind kind,
                              const std::vector<const std::string*>& fragments);
// How many of the first `count` rows go into one BuildBatchPayload() of at
// most max_bytes (exact: envelope, fragments and commas). At least one when
// count > 0: a single reading's fragment is bounded (station id <= 64
// characters, fixed-size fields) at a few KiB, far below the 1 MiB limit.
size_t RowsThatFit(std::string_view station_id, const std::vector<StoredReading>& rows,
                   size_t count, size_t max_bytes = kMaxPayloadBytes);

class Store {
 public:
  // Opens (creating and migrating) the database and records this boot.
  static Result<std::unique_ptr<Store>> Open(const StoreConfig& config, std::string station_id,
                                             std::string boot_id);

  // Assigns the next seq to `reading` (reading.seq is set on success only) and
  // commits it, applying the budget policy in the same transaction. On error
  // nothing changes: neither the seq counter nor the stored rows.
  Status Commit(Reading& reading);

  // Unconfirmed readings with seq > after_seq, in seq order.
  Result<std::vector<StoredReading>> Unconfirmed(int64_t after_seq, int limit);
  // Stored readings (confirmed or not) with from_seq <= seq <= to_seq.
  Result<std::vector<StoredReading>> Range(int64_t from_seq, int64_t to_seq, int limit);
  // Marks the given ranges confirmed; returns how many were newly confirmed.
  // Without its own fsync when StoreConfig::relaxed_confirm_sync applies.
  Result<int64_t> Confirm(const std::vector<SeqRange>& ranges);
  // Unconfirmed readings with seq <= up_to_seq.
  Result<int64_t> CountUnconfirmedUpTo(int64_t up_to_seq);

  int64_t last_seq() const { return last_seq_; }
  int64_t last_window_end() const { return last_window_end_s_; }
  int64_t unconfirmed() const { return unconfirmed_; }
  int64_t rows() const { return rows_; }
  int64_t bytes() const { return bytes_; }
  const StoreCounters& counters() const { return counters_; }
  int64_t boot_count() const { return boot_count_; }
  const std::string& path() const { return config_.path; }

  // Test hook: caps the database file at n pages (PRAGMA max_page_count), so
  // commits fail with SQLITE_FULL like a full disk. 0 restores "unlimited".
  Status TEST_SetMaxPageCount(int64_t pages);
  // PRAGMA synchronous of the connection (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
  Result<int> TEST_Synchronous();
  Result<int64_t> TEST_PageCount();

 private:
  Store(StoreConfig config, std::string station_id, std::unique_ptr<Db> db);
  Status Load(const std::string& boot_id);
  Status MakeRoom(int64_t incoming_bytes);
  Status Refresh();

  StoreConfig config_;
  std::string station_id_;
  std::unique_ptr<Db> db_;
  int64_t last_seq_ = 0;
  int64_t last_window_end_s_ = 0;
  int64_t unconfirmed_ = 0;
  int64_t rows_ = 0;
  int64_t bytes_ = 0;
  int64_t boot_count_ = 0;
  StoreCounters counters_;
};

}  // namespace sentinelle::agent
