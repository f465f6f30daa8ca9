// The model registry: every trained model is a numbered version with its
// lineage, a content-addressed artifact and a stage (docs/MODELS.md,
// "Registry").
//
// Storage: its own SQLite file (`{models.dir}/registry.db`, WAL, its own
// migrations through PRAGMA user_version) so registry writes never contend
// with the ingest writer; artifacts under `{models.dir}/artifacts/ab/abcdef…`
// named by the SHA-256 of their bytes, written temp + fsync + rename. The
// same bytes are stored once.
//
// Versions are integers, increasing across the whole registry (so strictly
// increasing per family, which is what agents' anti-rollback compares).
// A family is (target, horizon, kind, station): kind "network" | "station" |
// "linear" (the manifest's kind), station only for kind "station".
//
// Stages: candidate -> shadow | canary -> production -> archived. A model
// whose gate failed (no skill against seasonal persistence) cannot leave
// candidate. At most one production model per family: promoting one archives
// the previous; and at most one staged (shadow or canary) model per family:
// staging one archives the one staged before it ("superseded"). Every stage
// change is recorded with who, when and why.
//
// Thread-safe (one internal mutex; the registry is small and writes are rare).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/collector/training.h"
#include "sentinelle/result.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::collector {

enum class Stage { kCandidate, kShadow, kCanary, kProduction, kArchived };
std::string_view StageName(Stage s);
std::optional<Stage> StageFromName(std::string_view name);

struct ModelFamily {
  std::string target;
  int horizon_min = 0;
  std::string kind;     // "network" | "station" | "linear"
  std::string station;  // kind "station" only
  bool operator==(const ModelFamily&) const = default;
  std::string Label() const;  // "pm25/60/network", "pm25/60/station/abj-plateau"
};

// Who or what asked for a training run.
struct TriggerInfo {
  std::string kind = "manual";  // "manual" | "schedule" | "alarm" | "cli"
  std::string by;               // token name, "scheduler", alarm id, ...
  std::string job_id;
};

struct ModelRecord {
  int64_t version = 0;
  ModelFamily family;
  Stage stage = Stage::kCandidate;
  std::vector<std::string> rollout_stations;  // shadow/canary scope
  std::string artifact_sha256;
  int64_t artifact_size = 0;
  int64_t created_s = 0;
  int64_t updated_s = 0;
  int64_t parent_version = 0;  // production model of the family when trained (0: none)
  TriggerInfo trigger;
  bool gate_passed = false;
  std::string gate_reason;
  std::string stage_reason;    // why the last stage change happened
  std::string xgboost_version;
  // Lineage: window, stations, rows, feature spec, hyperparameters, metrics
  // (overall and per station), booster checksum.
  nlohmann::json lineage;

  nlohmann::json ToJson() const;
};

struct StageChange {
  int64_t version = 0;
  std::string from, to;
  int64_t at_s = 0;
  std::string by;
  std::string reason;
};

struct ModelFilter {
  std::optional<std::string> target;
  std::optional<int> horizon_min;
  std::optional<std::string> kind;
  std::optional<Stage> stage;
  int64_t limit = 1000;
};

// Live error of a candidate (shadow/canary) and of the current production
// model over the same stations and windows (from the accuracy monitor, or
// computed by a caller). RMSE in the target's unit.
struct LiveComparison {
  int64_t candidate_version = 0;
  double candidate_rmse = 0;
  int64_t candidate_samples = 0;
  double current_rmse = 0;
  int64_t current_samples = 0;
};

// One answer of a shadow model on a station, as the station published it
// (the "shadow" entries of its prediction batches).
struct ShadowPrediction {
  int64_t version = 0;
  std::string station;
  int64_t issued_s = 0;  // window end it was made from; target = issued + horizon
  double value = 0;
  int64_t arrival_ms = 0;
};

enum class RolloutVerdict { kWait, kPromote, kRollBack };
std::string_view RolloutVerdictName(RolloutVerdict v);
struct RolloutDecision {
  RolloutVerdict verdict = RolloutVerdict::kWait;
  std::string reason;
};
// The accuracy gate: wait until both sides have min_samples pairs; promote
// when candidate RMSE <= max_rmse_ratio x current RMSE, otherwise roll back.
RolloutDecision DecideRollout(const LiveComparison& in, double max_rmse_ratio,
                              int64_t min_samples);

class ModelRegistry {
 public:
  // Opens (creating) `{dir}/registry.db` and `{dir}/artifacts`. Errors: the
  // directory cannot be created, the database cannot be opened or migrated.
  static Result<std::unique_ptr<ModelRegistry>> Open(const std::string& dir);

  // Writes the model's file under the next version (lineage from the trained
  // model and `trigger`), as a candidate. Returns the record.
  Result<ModelRecord> Register(const TrainedModel& model, const TriggerInfo& trigger,
                               int64_t now_s);

  Result<std::optional<ModelRecord>> Get(int64_t version);
  Result<std::vector<ModelRecord>> List(const ModelFilter& filter);
  // The family's production model, if any.
  Result<std::optional<ModelRecord>> Production(const ModelFamily& family);
  // The family's staged version (shadow or canary), if any: at most one.
  Result<std::optional<ModelRecord>> Staged(const ModelFamily& family);
  Result<std::vector<StageChange>> History(int64_t version);

  // Moves a version to `to`. Refused: unknown version, a gate-failed model
  // leaving candidate, transitions out of archived other than by Rollback,
  // a station list on production. Promoting to production archives the
  // family's previous production model.
  Result<ModelRecord> Promote(int64_t version, Stage to, const std::vector<std::string>& stations,
                              const std::string& by, const std::string& reason, int64_t now_s);
  // Archives the family's production model and brings back the most recent
  // older version that was production before it. Errors: no production model, or
  // nothing to go back to. Returns the restored record.
  Result<ModelRecord> Rollback(const ModelFamily& family, const std::string& by,
                               const std::string& reason, int64_t now_s);
  // Applies an accuracy-gate decision to a shadow/canary version: promote to
  // production, or archive it with the reason. kWait changes nothing.
  Result<ModelRecord> ApplyRollout(int64_t version, const RolloutDecision& decision,
                                   const std::string& by, int64_t now_s);

  // True when a newer version of the family has ever been in shadow, canary
  // or production: agents may run it, so announcing `version` needs the
  // signed rollback permission.
  Result<bool> NewerEverAnnounced(const ModelFamily& family, int64_t version);

  // Metric differences between two versions (b - a) and both records.
  Result<nlohmann::json> Compare(int64_t a, int64_t b);

  // The artifact bytes of a version, checked against its SHA-256 (a file
  // changed on disk is an error, never served).
  Result<std::string> ReadArtifact(int64_t version);
  std::string ArtifactPath(const std::string& sha256) const;

  // Shadow answers reported by the stations (idempotent per version,
  // station and window), and those of one version in window order.
  Status AddShadowPredictions(const std::vector<ShadowPrediction>& rows);
  Result<std::vector<ShadowPrediction>> ShadowPredictions(int64_t version);

  // Training jobs (TrainingJobs persists its job records here): upsert by
  // id, and the latest `limit` in creation order.
  Status SaveJob(const std::string& id, int64_t created_s, const nlohmann::json& status);
  Result<std::vector<nlohmann::json>> LoadJobs(int64_t limit);

  // Small persistent key/value facts (schedule and cooldown clocks).
  Result<std::optional<int64_t>> GetClock(const std::string& key);
  Status SetClock(const std::string& key, int64_t value);

  const std::string& dir() const { return dir_; }

 private:
  ModelRegistry(std::string dir, std::unique_ptr<Db> db);
  Result<std::optional<ModelRecord>> GetLocked(int64_t version);
  Status RecordChange(int64_t version, Stage from, Stage to, const std::string& by,
                      const std::string& reason, int64_t now_s);
  Status SetStage(int64_t version, Stage to, const std::vector<std::string>& stations,
                  const std::string& reason, int64_t now_s);

  std::string dir_;
  std::mutex mu_;
  std::unique_ptr<Db> db_;
};

// The manifest kind of a trained model: "network", "station" or "linear".
std::string ManifestKind(const TrainedModel& m);

}  // namespace sentinelle::collector
