// Glue between the model updater and the prediction service: the updater
// only knows the InstallHook callback; the service only knows its model
// directory.
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/agent/prediction_service.h"

namespace sentinelle::agent {

InstallHook MakePredictionServiceHook(PredictionService* service) {
  return [service](const ModelHandover& h) -> Status {
    if (service == nullptr || h.shadow) return Status::Ok();
    service->Reload();
    // A background rescan may have taken the file first: what counts is
    // what the chain runs now.
    const std::string want = std::to_string(h.version);
    for (const auto& m : service->ModelInfo()) {
      if (m.target == h.target && m.horizon_min == h.horizon_min && m.kind == h.kind) {
        if (m.version == want) return Status::Ok();
        return MakeError("the chain runs version " + m.version + " in that slot, not " + want);
      }
    }
    return MakeError("the chain runs no model in that slot after reloading");
  };
}

std::vector<ModelVersionInfo> ModelUpdater::StatusModels(const PredictionService* service) const {
  if (service == nullptr) return ModelInfo();
  std::vector<ModelVersionInfo> out = service->ModelInfo();
  for (auto& m : ModelInfo()) {
    if (m.kind.size() > 7 && m.kind.compare(m.kind.size() - 7, 7, "-shadow") == 0) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace sentinelle::agent
