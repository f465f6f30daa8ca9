// The accuracy gate's live measurement (docs/MODELS.md, "Accuracy-gated
// rollout"): how a shadow model did on the stations that ran it, next to
// what those stations answered, from data the collector stored.
//
// Pairs. For a shadow version of family (target, horizon), every shadow
// answer a station reported (ModelRegistry::ShadowPredictions) is joined
// with
//   - the station's published answer for the same window, target and
//     horizon (the store's predictions table, any link that answered), and
//   - the reading of the target window (issued + horizon) from the store,
//     when the target's QC flag is ok.
// Only windows where all three exist count, so both RMSEs cover exactly the
// same stations and windows. The comparison is against what the station
// actually published, i.e. the current model of the chain's first link that
// answered there.
//
// Thread safety: as safe as the registry and store it reads (both are).
#pragma once

#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

// Measures a shadow version. Errors: store or registry failures. A version
// with no pairs yet gives zero samples (DecideRollout then waits).
Result<LiveComparison> MeasureShadow(const ModelRecord& record, ModelRegistry& registry,
                                     HistoryStore& store);

}  // namespace sentinelle::collector
