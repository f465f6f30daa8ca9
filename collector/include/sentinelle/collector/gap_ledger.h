// GapLedger: which sequence numbers each station is missing, and when to ask
// for them (docs/PROTOCOL.md, "Gap ledger").
//
// Per station the ledger keeps the highest seq seen (from readings, or from
// the `last_seq` of the station's status) and the open gaps below it. A gap
// older than `grace_s` is requested with a targeted backfill command (at most
// `max_range` seqs per command, one command per station per planning round,
// `max_requests_per_s` network-wide). A gap is closed as "lost" when
//  - the agent answered: a replayed reading with seq x arrives inside a gap we
//    asked for, so the agent (which replays in seq order) no longer holds the
//    seqs of that gap below x ("agent_answered"), or
//  - `max_attempts` commands went unanswered for `retry_s` each ("timeout"),
//    the last of them followed by a reading or an online status from the
//    station. A station silent since the last request may never have got it
//    (link down, broker restarted, the command lost): the gap stays open and
//    is asked again every `retry_s`. A station heard again after a silence
//    longer than `retry_s` has a full `retry_s` to replay before its gaps
//    can time out.
//
// Changes are staged by the writer thread and become visible (and persisted,
// through WriteBatch) only when the writer commits: a failed commit leaves the
// ledger as it was. Thread-safe: every method takes the internal lock.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sentinelle/collector/config.h"
#include "sentinelle/collector/store.h"

namespace sentinelle::collector {

struct BackfillRequest {
  std::string station_id;
  int64_t from_seq = 0;
  int64_t to_seq = 0;
  int attempt = 0;  // 1 for the first request of this gap
};

class GapLedger {
 public:
  explicit GapLedger(GapConfig config);

  // Replaces the state with what the store holds (start-up).
  void Restore(const std::vector<std::pair<std::string, int64_t>>& highest_seqs,
               const std::vector<GapRecord>& open_gaps);

  // Staging, writer thread only. A reading's seq (stored or duplicate);
  // seq <= 0 (imported history) is ignored.
  void StageReading(const std::string& station, int64_t seq, bool replay, int64_t now_ms);
  // The agent's own highest seq (status.last_seq): reveals trailing gaps.
  void StageLastSeq(const std::string& station, int64_t last_seq, int64_t now_ms);
  // Plans the backfill commands due at now_ms. `may_request(station)` says
  // whether the station can be asked now (e.g. online); `stored_seqs`
  // reconciles a gap against the store first (another collector sharing the
  // stream may have filled it). Attempts and timeouts are staged.
  std::vector<BackfillRequest> StageRequests(
      int64_t now_ms, const std::function<bool(const std::string&)>& may_request,
      const std::function<Result<std::vector<int64_t>>(const std::string&, int64_t, int64_t)>&
          stored_seqs);
  // Adds staged changes to the batch (open gaps of changed stations, newly lost gaps).
  void ExportStaged(WriteBatch* batch) const;
  bool HasStaged() const;
  void CommitStaged();
  void AbortStaged();

  // Committed view, any thread.
  std::vector<GapRecord> OpenGaps() const;
  int64_t OutstandingSeqs() const;              // seqs in open gaps, all stations
  int64_t OpenGapCount(const std::string& station) const;
  std::map<std::string, int64_t> OpenGapCounts() const;  // stations with open gaps only
  int64_t HighestSeq(const std::string& station) const;

 private:
  struct StationLedger {
    int64_t high = 0;
    int64_t heard_ms = 0;         // last reading or online status from the station
    std::vector<GapRecord> open;  // sorted by from_seq, disjoint
    bool gaps_dirty = false;      // staged only: open gaps changed
  };
  StationLedger& Mutable(const std::string& station);
  void AddGap(const std::string& station, StationLedger& l, int64_t from, int64_t to,
              int64_t now_ms);
  void CloseLost(StationLedger& l, size_t index, int64_t to_seq, int64_t now_ms,
                 const char* reason);
  void RemoveSeq(StationLedger& l, int64_t seq);
  void Heard(StationLedger& l, int64_t now_ms);

  GapConfig config_;
  mutable std::mutex mu_;
  std::map<std::string, StationLedger> committed_;
  std::map<std::string, StationLedger> staged_;
  std::vector<GapRecord> staged_lost_;
  double tokens_ = 0;
  int64_t tokens_at_ms_ = 0;
};

}  // namespace sentinelle::collector
