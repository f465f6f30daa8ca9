// The collector's monitor: live accuracy, drift against the production
// models' reference histograms, the sensor-fault / regional-change
// classifier, alarms (persisted) and retraining requests
// (docs/MONITORING.md, "Collector monitor").
//
//   ingest writer thread --OnCommitted(batch)--> join predictions with the
//       readings of their target windows -> AccuracyTracker
//       readings (QC-passed values only) and predictions -> per-station
//       StationDriftWindow (rolling histograms, never raw history)
//   monitor thread, every monitoring.evaluate_interval_s:
//       drift per station and feature -> ClassifyDrift per feature ->
//       AlarmBook; accuracy vs the models' validation figures -> AlarmBook;
//       alarms raised/cleared -> SQLite (table monitor_alarms); regional
//       drift (or accuracy degraded at several healthy stations) ->
//       TrainingJobs::OnAlarm (cooldown there); Prometheus gauges.
//
// State is in memory and bounded by configuration; after a restart it is
// rebuilt from the store over a bounded lookback (the drift window for
// readings, the join window for predictions), and open alarms come back
// from SQLite.
//
// Thread-safe: one internal mutex; OnCommitted is quick (a few histogram
// increments per reading).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/monitoring_config.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/env.h"
#include "sentinelle/monitor/accuracy.h"
#include "sentinelle/monitor/alarm.h"
#include "sentinelle/monitor/drift.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

class ModelRegistry;
class TrainingJobs;

struct MonitorDeps {
  HistoryStore* store = nullptr;      // required
  ModelRegistry* registry = nullptr;  // references and validation figures; may be null
  TrainingJobs* jobs = nullptr;       // retraining requests; may be null
  CollectorMetrics* metrics = nullptr;  // may be null (no metrics)
  HealthTracker* health = nullptr;    // health in reports; may be null
  GapLedger* ledger = nullptr;        // open gaps for health; may be null
  Env* env = nullptr;                 // Env::Default() when null
};

// What one network pass did.
struct EvaluationSummary {
  int64_t at_s = 0;
  int stations_evaluated = 0;  // stations with at least one feature evaluated
  std::vector<monitor::Alarm> changed;   // raised or cleared by this pass
  std::vector<std::string> retrain_queued;   // job ids
  std::vector<std::string> retrain_refused;  // reasons (cooldown, job running)
};

struct MonitorCounters {
  uint64_t pairs_joined = 0;
  uint64_t predictions_unmatched = 0;  // target reading never came or was flagged
  uint64_t pending_dropped = 0;        // over max_pending_per_station
  uint64_t values_excluded = 0;        // QC-flagged or missing reading values
  uint64_t duplicate_readings = 0;     // seen before (replays), not counted twice
  uint64_t duplicate_predictions = 0;
  uint64_t retrain_queued = 0;
  uint64_t retrain_refused = 0;
  uint64_t evaluations = 0;
};

class Monitor {
 public:
  // Opens (and migrates) the alarm table in the SQLite file db_path and
  // restores the open alarms. read_only: nothing is written (the report
  // CLI). Errors: the database cannot be opened or migrated.
  static Result<std::unique_ptr<Monitor>> Open(MonitoringConfig config, const std::string& db_path,
                                               MonitorDeps deps, bool read_only = false);
  ~Monitor();  // Stop()

  // RefreshReferences + Rebuild at the current time, then starts the
  // evaluation thread. Errors: the store cannot be read.
  Status Start();
  void Stop();

  // Readings and predictions just committed (MonitoredStore calls it on the
  // ingest writer thread). Readings seen before are not counted twice.
  void OnCommitted(const WriteBatch& batch);

  // Loads the production models' reference histograms from the registry
  // (station model of a station first, else the network model) and their
  // prediction streams. Stations whose reference changed get a new window,
  // refilled from the store.
  Status RefreshReferences(int64_t now_s);
  // Refills every station's state from the store: readings of the drift
  // window and predictions of the join window before now_s.
  Status Rebuild(int64_t now_s);
  // One network pass at now_s (normally called by the thread).
  EvaluationSummary Evaluate(int64_t now_s);
  // The monitor's time (monitoring.clock): the wall clock, or the newest
  // window end stored for any station (nullopt before the first reading).
  std::optional<int64_t> Now() const;

  // JSON views for the API and the report (docs/PROTOCOL.md, docs/MONITORING.md).
  Result<nlohmann::json> AlarmsJson(const std::optional<std::string>& station,
                                    std::optional<bool> active, int64_t limit);
  nlohmann::json AccuracyJson(const std::optional<std::string>& station, int64_t now_s);
  nlohmann::json DriftJson(const std::optional<std::string>& station);
  // The report of docs/MONITORING.md, "Report JSON". Errors: unknown station.
  Result<nlohmann::json> Report(const std::optional<std::string>& station, int64_t now_s);

  // Test hook: every station is compared with `reference` (a model's
  // reference histograms, as in a bundle) and these prediction streams
  // ((target, horizon_min)), instead of the registry's production models.
  void TEST_SetReference(const monitor::ReferenceSet& reference,
                         const std::vector<std::pair<Variable, int>>& streams);

  std::vector<monitor::Alarm> OpenAlarms() const;
  MonitorCounters counters() const;
  size_t StationCount() const;
  const MonitoringConfig& config() const { return config_; }

 private:
  struct Impl;
  explicit Monitor(std::unique_ptr<Impl> impl, MonitoringConfig config);
  void Loop();

  MonitoringConfig config_;
  std::unique_ptr<Impl> impl_;
  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// The monitor's seam into ingest: a HistoryStore that forwards everything
// to `inner` and hands each successfully committed batch to the monitor
// (set later with Attach; batches before are only in the store, and Rebuild
// picks them up). Thread-safe as the inner store is.
class MonitoredStore : public HistoryStore {
 public:
  explicit MonitoredStore(HistoryStore* inner) : inner_(inner) {}
  void Attach(Monitor* monitor) { monitor_.store(monitor); }

  Result<CommitResult> Commit(const WriteBatch& batch) override;
  Status UpsertStation(const StationInfo& info) override { return inner_->UpsertStation(info); }
  Result<std::vector<StationRecord>> ListStations() override { return inner_->ListStations(); }
  Result<std::optional<StationRecord>> GetStation(const std::string& id) override {
    return inner_->GetStation(id);
  }
  Result<std::vector<StoredReading>> QueryReadings(const std::string& station_id, TimeRange range,
                                                   int64_t limit) override {
    return inner_->QueryReadings(station_id, range, limit);
  }
  Result<std::vector<PredictionRecord>> QueryPredictions(const std::string& station_id,
                                                         TimeRange range, int64_t limit) override {
    return inner_->QueryPredictions(station_id, range, limit);
  }
  Result<std::vector<GapRecord>> ListGaps(int64_t lost_since_ms) override {
    return inner_->ListGaps(lost_since_ms);
  }
  Result<std::vector<std::pair<std::string, int64_t>>> HighestSeqs() override {
    return inner_->HighestSeqs();
  }
  Result<std::vector<int64_t>> StoredSeqs(const std::string& station_id, int64_t from_seq,
                                          int64_t to_seq) override {
    return inner_->StoredSeqs(station_id, from_seq, to_seq);
  }
  bool Healthy() override { return inner_->Healthy(); }

 private:
  HistoryStore* inner_;
  std::atomic<Monitor*> monitor_{nullptr};
};

// HTTP: GET /api/v1/alarms?station=&active=&limit=, /api/v1/accuracy?station=,
// /api/v1/drift?station=, /api/v1/report?station=&format=json|html
// (docs/PROTOCOL.md, "HTTP API"). True when parts (the path after /api/v1/)
// name one of them.
bool MonitoringOwns(const std::vector<std::string>& parts);
// Handles one of them (the caller has authorised the read).
HttpResponse HandleMonitoring(Monitor& monitor, const HttpRequest& request,
                              const std::vector<std::string>& parts, int64_t now_s);

// The report as a file (the CLI): format "json" or "html". Returns the bytes.
Result<std::string> RenderReport(const nlohmann::json& report, const std::string& format);

// `sentinelle-collector report --station ID --format json|html --out FILE`:
// opens the store and the registry read-only, rebuilds the monitor's state
// from the store over its bounded lookback and writes the report. Returns
// the exit code (0 ok, 1 failure, 2 bad arguments).
int RunReportCommand(const CollectorConfig& config, const std::vector<std::string>& args);

}  // namespace sentinelle::collector
