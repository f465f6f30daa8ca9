// HTTP endpoints of the trainer, registry and distribution under /api/v1/
// (docs/PROTOCOL.md, "HTTP API: models"). HttpApi routes `models`, `jobs`
// and `train` paths here.
//
//   GET  models[?target=&horizon_min=&kind=&stage=&limit=]  list       read
//   GET  models/compare?a=V&b=V                              compare    read
//   GET  models/{v}                                          inspect    read
//   GET  models/{v}/artifact                                 bytes      read (agents: viewer token)
//   GET  models/{v}/manifest                                 signed     read
//   GET  models/public-key                                   hex key    read
//   POST models/{v}/promote   {"stage","stations","reason"}  promote    data_scientist, admin
//   POST models/{v}/rollout   {}  measure now, apply the gate   data_scientist, admin
//   POST models/rollback      {"target","horizon_min","kind","station","reason"}
//   POST train                {"targets","horizons_min","stations",...} -> 202 {"job"}
//   GET  jobs, jobs/{id}                                     status     read
//
// Thread-safe (the registry, jobs and distributor are).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/distribution.h"
#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/env.h"

namespace sentinelle::collector {

class RegistryApi {
 public:
  // Returns a refusal (401/403) or nullopt when the request may proceed;
  // `who` receives the principal's name.
  using Authorizer =
      std::function<std::optional<HttpResponse>(Permission permission, std::string* who)>;

  // All borrowed; jobs may be null (no training on this collector).
  RegistryApi(ModelRegistry* registry, Distributor* distributor, TrainingJobs* jobs,
              ModelsConfig config, Env* env);

  // True when `parts` (path segments after /api/v1/) belong here.
  static bool Owns(const std::vector<std::string>& parts);
  HttpResponse Handle(const HttpRequest& req, const std::vector<std::string>& parts,
                      const Authorizer& authorize);

  // Moves a version to a stage and (re)announces what the family's agents
  // should run. Shared by the API and the CLI.
  Result<ModelRecord> Promote(int64_t version, Stage to, const std::vector<std::string>& stations,
                              const std::string& by, const std::string& reason);
  Result<ModelRecord> Rollback(const ModelFamily& family, const std::string& by,
                               const std::string& reason);
  // Applies the accuracy gate to a shadow/canary version with live figures:
  // promotion announces it network-wide; a roll back archives it (reason
  // recorded) and re-announces production with rollback permission.
  Result<std::pair<RolloutDecision, ModelRecord>> Rollout(const LiveComparison& live,
                                                          const std::string& by);

  // Measures a shadow version from the stored data (the measure function
  // below) and applies the gate. Errors: unknown version, not in shadow, no
  // measure function, measurement failures.
  struct GateResult {
    RolloutDecision decision;
    LiveComparison live;
    ModelRecord record;
  };
  Result<GateResult> EvaluateShadow(int64_t version, const std::string& by);
  using LiveMeasure = std::function<Result<LiveComparison>(const ModelRecord&)>;
  void SetLiveMeasure(LiveMeasure measure) { measure_ = std::move(measure); }

 private:
  HttpResponse List(const HttpRequest& req);

  ModelRegistry* registry_;
  Distributor* distributor_;
  TrainingJobs* jobs_;
  ModelsConfig config_;
  Env* env_;
  LiveMeasure measure_;
};

}  // namespace sentinelle::collector
