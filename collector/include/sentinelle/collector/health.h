// Station health: one state per station, derived from its status messages
// (birth / last will / periodic), data freshness against its cadence, gaps,
// QC failure rate, prediction fallback rate, clock quality and model
// staleness (docs/PROTOCOL.md, "Station health").
//
// Thread-safe: all methods take the internal lock. Times are Unix ms.
#pragma once

#include <array>
#include <compare>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/collector/store.h"

namespace sentinelle::collector {

// Ordered from worst to best: a station's state is the worst that applies.
enum class HealthState : uint8_t {
  kOffline = 0,     // last will received (or nothing heard for offline_after_intervals)
  kSilent,          // connected (birth seen) but no reading for silent_after_intervals
  kClockUnsynced,   // last reading (or status) says the clock is not synced, or clock skew
  kQcAlarm,         // recent QC failure rate above qc_alarm_rate
  kDegraded,        // open gaps, or predictions mostly from fallbacks
  kStaleModel,      // runs a model older than the current one for more than model_stale_s
  kReady,
  kUnknown,         // registered but never heard from
};
inline constexpr int kHealthStateCount = 8;
std::string_view HealthStateName(HealthState s);

struct StationHealth {
  std::string station_id;
  HealthState state = HealthState::kUnknown;
  std::vector<std::string> reasons;  // every condition that applies, worst first
  std::string status_state;          // "online" | "offline" | "" (no status yet)
  int64_t last_reading_ms = 0;
  int64_t last_status_ms = 0;
  int interval_s = 300;
  double qc_failure_rate = 0;        // EWMA over the recent readings
  double fallback_rate = 0;          // EWMA over the recent predictions
  int64_t open_gaps = 0;
  int64_t buffer_depth = 0;          // from the agent's last status
  int64_t last_seq = 0;              // from the agent's last status
  std::string clock;                 // "ok" | "unsynced" | "skew"
  std::vector<ModelVersionInfo> models;
};

// A model family as stations report it in their status (kind as in the
// manifest: "network" | "linear" | "station"; station only for "station").
struct ModelFamilyKey {
  std::string target;
  int horizon_min = 0;
  std::string kind;
  std::string station;
  auto operator<=>(const ModelFamilyKey&) const = default;
};

// One announced version of a family.
struct DistributedModel {
  std::string version;                // registry version, decimal
  std::vector<std::string> stations;  // canary scope (empty: every station)
  int64_t since_ms = 0;               // expected on stations since (stage change)
  int64_t expires_ms = 0;             // signed manifest expiry (0: unknown)
};

class HealthTracker {
 public:
  explicit HealthTracker(HealthConfig config);

  // Start-up: stations, their last status payload and freshness from the store.
  void Restore(const std::vector<StationRecord>& stations);
  void Track(const std::string& station);  // registry entry, no data yet
  void OnReading(const StoredReading& reading);  // committed readings
  void OnStatus(const StationStatus& status, int64_t received_ms);
  void OnPrediction(const std::string& station, bool fallback);
  // What the collector distributes for one model family (target, horizon,
  // kind and, for kind "station", the station), from its announcements:
  // the production version for every station and canary versions for the
  // stations in their scope. A station reporting another version of the
  // family for longer than model_stale_s after the expected one was
  // distributed, or running a version whose manifest has expired, is
  // stale_model. An empty `models` list forgets the family (withdrawn).
  // Re-announcing the same version keeps its `since_ms`.
  void SetDistributedModels(const ModelFamilyKey& family, std::vector<DistributedModel> models);
  // Distributed families (bounded by the registry's families).
  size_t distributed_families() const;

  // False only when the station's last status is the last will ("offline").
  bool ReachableGuess(const std::string& station) const;
  // Stations known to the tracker.
  size_t size() const;

  // open_gaps: station -> open gap count (from the ledger).
  std::optional<StationHealth> Get(const std::string& station, int64_t now_ms,
                                   int64_t open_gaps) const;
  std::vector<StationHealth> All(int64_t now_ms,
                                 const std::map<std::string, int64_t>& open_gaps) const;
  std::array<int64_t, kHealthStateCount> CountByState(
      int64_t now_ms, const std::map<std::string, int64_t>& open_gaps) const;

 private:
  struct Entry {
    std::string status_state;
    int64_t status_ms = 0;
    bool status_synced = true;
    int64_t buffer_depth = 0;
    int64_t last_seq = 0;
    std::vector<ModelVersionInfo> models;
    int64_t last_reading_ms = 0;
    int64_t first_seen_ms = 0;
    int interval_s = 300;
    double qc_rate = 0;
    bool has_qc = false;
    double fallback_rate = 0;
    bool has_fallback = false;
    ClockFlag clock = ClockFlag::kOk;
  };
  // The version a station should run for a family, if the collector
  // distributes one it is in scope of.
  const DistributedModel* Expected(const std::string& station, const ModelFamilyKey& key) const;
  StationHealth Evaluate(const std::string& id, const Entry& e, int64_t now_ms,
                         int64_t open_gaps) const;

  HealthConfig config_;
  double alpha_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::map<ModelFamilyKey, std::vector<DistributedModel>> distributed_;
  // Latest known manifest expiry of every version ever announced (bounded:
  // the oldest versions are dropped beyond kMaxKnownVersions).
  std::map<int64_t, int64_t> expiry_by_version_;
};

}  // namespace sentinelle::collector
