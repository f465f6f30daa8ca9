// The prediction batch payload on {p}/stations/{id}/predictions
// (docs/PROTOCOL.md, "Prediction batch"): every prediction made from one
// reading, with its provenance.
//
// Like every decoder of outside data, DecodePredictionBatch never throws and
// refuses anything malformed, oversized, inconsistent (target time not equal
// to window end + horizon, model fields on a persistence answer, ...) or from
// another station than the topic names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/predict/chain.h"
#include "sentinelle/result.h"

namespace sentinelle::predict {

inline constexpr size_t kMaxPredictionsPerBatch = 12 * 16;

struct PredictionBatch {
  std::string station_id;
  int64_t seq = 0;            // of the reading the predictions were made from
  int64_t window_end_s = 0;   // its window end
  std::vector<Prediction> predictions;
  // Answers of shadow models (docs/PROTOCOL.md, "Prediction batch"): not the
  // station's answer; encoded as "shadow" only when non-empty.
  std::vector<Prediction> shadow;
};

// Predictions must all come from the batch's station and reading.
std::string EncodePredictionBatch(const PredictionBatch& batch);
Result<PredictionBatch> DecodePredictionBatch(std::string_view payload, std::string_view expected_station);

// Groups predictions made from one reading into a batch.
PredictionBatch MakePredictionBatch(const std::vector<Prediction>& predictions);

}  // namespace sentinelle::predict
