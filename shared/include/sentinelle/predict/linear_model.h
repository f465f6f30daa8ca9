// Ridge regression on the same features as the boosted models: the third
// link of the fallback chain. Missing inputs are imputed with the training
// mean (they contribute nothing), so it answers when trees cannot.
//
// Immutable after construction; Predict is const and thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "sentinelle/predict/matrix.h"
#include "sentinelle/result.h"

namespace sentinelle::predict {

struct LinearModel {
  double intercept = 0.0;
  std::vector<double> mean;    // per feature, over the training rows where it was present
  std::vector<double> scale;   // per feature standard deviation (1 when constant or absent)
  std::vector<double> weight;  // on standardised features

  // `x` holds mean.size() floats, NaN = missing (imputed with the mean).
  double Predict(const float* x) const;
  size_t num_features() const { return weight.size(); }

  // {"intercept":..,"mean":[..],"scale":[..],"weight":[..]}
  nlohmann::json ToJson() const;
  // Strict: equal-length arrays of finite numbers, positive scales.
  static Result<LinearModel> FromJson(const nlohmann::json& j);
};

// Fits ridge regression with penalty lambda * rows on standardised features
// (Cholesky solve of the normal equations). Features present in fewer than
// two rows, or constant, get weight 0. Error on an empty or mismatched set.
Result<LinearModel> FitRidge(const DenseMatrix& X, const std::vector<float>& y, double lambda = 1e-3);

}  // namespace sentinelle::predict
