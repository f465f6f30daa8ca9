// Glue between the model updater and the prediction service: the updater
// only knows the InstallHook callback; the service only knows its model
// directory.
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/agent/prediction_service.h"

namespace sentinelle::agent {

InstallHook MakePredictionServiceHook(PredictionService* service) {
  return [service](const ModelHandover& h) -> Status {
    if (service == nullptr) return Status::Ok();
    service->Reload();
    // A withdrawn shadow or a removed canary (version 0): the rescan
    // unloaded it.
    if (h.version == 0) return Status::Ok();
    // A background rescan may have taken the file first: what counts is
    // what the chain runs now.
    const std::string want = std::to_string(h.version);
    const std::string kind = h.shadow ? h.kind + "-shadow" : h.kind;
    for (const auto& m : service->ModelInfo()) {
      if (m.target == h.target && m.horizon_min == h.horizon_min && m.kind == kind) {
        if (m.version == want) return Status::Ok();
        return MakeError("the chain runs version " + m.version + " in that slot, not " + want);
      }
    }
    return MakeError("the chain runs no model in that slot after reloading");
  };
}

std::vector<ModelVersionInfo> ModelUpdater::StatusModels(const PredictionService* service) const {
  if (service == nullptr) return ModelInfo();
  // The service lists what its chain runs, shadow models included.
  return service->ModelInfo();
}

}  // namespace sentinelle::agent
