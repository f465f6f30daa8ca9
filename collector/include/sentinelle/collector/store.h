// HistoryStore: the collector's storage seam. Ingest, the gap ledger and the
// HTTP API only see this interface; SqliteHistoryStore (sqlite_store.h) is the
// embedded implementation, and a server database can be added behind the same
// interface without touching ingest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

// How a reading reached the store.
enum class ReadingOrigin : uint8_t { kLive = 0, kReplay = 1, kImport = 2 };
std::string_view OriginName(ReadingOrigin o);

// Clock verdict on one reading (docs/PROTOCOL.md, "Ingest rules").
enum class ClockFlag : uint8_t { kOk = 0, kUnsynced = 1, kSkew = 2 };
std::string_view ClockFlagName(ClockFlag f);

struct StoredReading {
  Reading reading;                 // seq 0 for imported history
  ReadingOrigin origin = ReadingOrigin::kLive;
  ClockFlag clock = ClockFlag::kOk;
  int64_t arrival_ms = 0;          // when the collector received it (Unix ms)
};

// One prediction as stored (the predictions topic codec feeds it).
struct PredictionRecord {
  std::string station_id;
  int64_t issued_s = 0;        // window end the prediction was made at (Unix s)
  std::string target;          // variable name, e.g. "pm25"
  int horizon_min = 0;
  double value = kMissingValue;
  std::string model_kind;      // "station", "network", "linear", "persistence"
  std::string model_version;
  std::string fallback_reason; // empty when the first link answered
  int64_t arrival_ms = 0;
};

struct StationInfo {
  std::string id;
  std::string name;
  double latitude = kMissingValue;
  double longitude = kMissingValue;
  std::string type;            // free text: "urban", "traffic", "background", ...
  bool registered = false;     // true when created through the registry (API/CLI)
};

// Persisted per-station facts the collector learns from status messages.
struct StationStatusRecord {
  std::string station_id;
  std::string state;           // "online" | "offline"
  int64_t received_ms = 0;
  std::string payload;         // the status JSON as received
};

struct StationRecord {
  StationInfo info;
  int64_t first_seen_ms = 0;
  int64_t last_reading_ms = 0;     // arrival of the newest stored reading (0: none)
  int64_t last_window_end_s = 0;
  int64_t reading_count = 0;
  std::optional<StationStatusRecord> status;
};

// A range of sequence numbers the collector is missing (or gave up on).
struct GapRecord {
  std::string station_id;
  int64_t from_seq = 0;
  int64_t to_seq = 0;          // inclusive
  std::string state;           // "open" | "lost"
  int64_t detected_ms = 0;
  int attempts = 0;            // backfill commands sent so far
  int64_t last_request_ms = 0;
  int64_t closed_ms = 0;       // when declared lost
  std::string reason;          // why lost: "agent_answered" | "timeout"
  int64_t requested_to = 0;    // in memory only: end of the last requested chunk
};

// Everything one writer transaction commits.
struct WriteBatch {
  std::vector<StoredReading> readings;
  std::vector<PredictionRecord> predictions;
  std::vector<StationStatusRecord> statuses;
  // Full replacement of a station's open gaps (stations listed only).
  std::vector<std::pair<std::string, std::vector<GapRecord>>> open_gaps;
  std::vector<GapRecord> lost_gaps;  // appended
};

struct CommitResult {
  int64_t inserted = 0;
  int64_t duplicates = 0;          // same (station, window_end) already stored
  int64_t predictions_inserted = 0;
};

struct TimeRange {
  int64_t from_s = 0;              // inclusive window_end
  int64_t to_s = INT64_MAX;        // exclusive window_end
};

// The writer's and the readers' view of the store.
//
// Thread safety: Commit and the registry writes are called from one writer
// thread at a time (the implementation serialises them anyway); Query* and
// List* may be called from any number of threads concurrently with writes.
// Every method returns errors as values and never throws.
class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  // Commits the whole batch atomically. Readings are stored once per
  // (station, window_end): a reading whose key exists is counted as a
  // duplicate and left untouched. Stations unknown to the registry are
  // created (registered = false).
  virtual Result<CommitResult> Commit(const WriteBatch& batch) = 0;

  // Creates or updates a station in the registry (registered = true).
  virtual Status UpsertStation(const StationInfo& info) = 0;

  virtual Result<std::vector<StationRecord>> ListStations() = 0;
  virtual Result<std::optional<StationRecord>> GetStation(const std::string& id) = 0;
  // Readings with window_end in range, oldest first, at most `limit`.
  virtual Result<std::vector<StoredReading>> QueryReadings(const std::string& station_id,
                                                           TimeRange range, int64_t limit) = 0;
  virtual Result<std::vector<PredictionRecord>> QueryPredictions(const std::string& station_id,
                                                                 TimeRange range,
                                                                 int64_t limit) = 0;
  // Gaps: open ones of every station, plus lost ones detected since lost_since_ms.
  virtual Result<std::vector<GapRecord>> ListGaps(int64_t lost_since_ms) = 0;
  // Highest stored seq of every station that has one (for rebuilding the ledger).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> HighestSeqs() = 0;
  // The seqs in [from, to] the station has stored, ascending (the ledger
  // reconciles a gap against the store before asking for it).
  virtual Result<std::vector<int64_t>> StoredSeqs(const std::string& station_id, int64_t from_seq,
                                                  int64_t to_seq) = 0;
  // True when the store answers a trivial query (readiness).
  virtual bool Healthy() = 0;
};

}  // namespace sentinelle::collector
