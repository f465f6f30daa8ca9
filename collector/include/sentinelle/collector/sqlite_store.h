// The embedded HistoryStore: one SQLite file in WAL mode, versioned
// migrations, one writer connection and a small pool of reader connections
// (WAL lets readers run while the writer commits).
//
// Schema (migration 1): stations (registry + last status + per-station
// counters), readings (WITHOUT ROWID, primary key (station, window_end): the
// exactly-once key and the clustered order of range queries; index on
// (station, seq) for the gap ledger), predictions, gaps.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sentinelle/collector/store.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::collector {

struct SqliteStoreOptions {
  std::string path;
  std::string synchronous = "NORMAL";
  int reader_connections = 4;
  int busy_timeout_ms = 5000;
};

class SqliteHistoryStore final : public HistoryStore {
 public:
  // Opens (creating if needed) and migrates the database. Errors: cannot
  // open, schema newer than this program, migration failure.
  static Result<std::unique_ptr<SqliteHistoryStore>> Open(const SqliteStoreOptions& options);
  ~SqliteHistoryStore() override;

  Result<CommitResult> Commit(const WriteBatch& batch) override;
  Status UpsertStation(const StationInfo& info) override;
  Result<std::vector<StationRecord>> ListStations() override;
  Result<std::optional<StationRecord>> GetStation(const std::string& id) override;
  Result<std::vector<StoredReading>> QueryReadings(const std::string& station_id, TimeRange range,
                                                   int64_t limit) override;
  Result<std::vector<PredictionRecord>> QueryPredictions(const std::string& station_id,
                                                         TimeRange range, int64_t limit) override;
  Result<std::vector<GapRecord>> ListGaps(int64_t lost_since_ms) override;
  Result<std::vector<std::pair<std::string, int64_t>>> HighestSeqs() override;
  Result<std::vector<int64_t>> StoredSeqs(const std::string& station_id, int64_t from_seq,
                                          int64_t to_seq) override;
  bool Healthy() override;

  // The schema migrations, in order (exposed for tests of the upgrade path).
  static const std::vector<std::string>& Migrations();

 private:
  struct Writer;
  class ReaderLease;
  explicit SqliteHistoryStore(SqliteStoreOptions options);
  Result<ReaderLease> AcquireReader();
  void ReleaseReader(std::unique_ptr<Db> db);

  SqliteStoreOptions options_;
  std::mutex writer_mu_;
  std::unique_ptr<Writer> writer_;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Db>> idle_readers_;
  int open_readers_ = 0;
};

}  // namespace sentinelle::collector
