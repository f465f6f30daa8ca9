// Adapter over libxgboost's C API (the only place that includes
// <xgboost/c_api.h>): trains boosters for the collector and gives tests and
// benchmarks XGBoost's own predictions to compare the station's evaluator
// against.
//
// Errors from libxgboost come back as Error values carrying
// XGBGetLastError()'s text. Not thread-safe per Booster; distinct Boosters
// may be used from distinct threads.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/predict/features.h"
#include "sentinelle/predict/matrix.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/predict/xgb_model.h"
#include "sentinelle/result.h"

namespace sentinelle::xgb {

struct TrainParams {
  std::string objective = "reg:squarederror";
  std::string tree_method = "hist";
  int max_depth = 6;
  double eta = 0.1;
  int num_rounds = 200;
  double subsample = 1.0;
  double colsample_bytree = 1.0;
  double min_child_weight = 1.0;
  double lambda = 1.0;
  int nthread = 1;
  int max_bin = 256;  // hist/approx: histogram bins per feature (XGBoost's default)
  // Initial prediction; NaN = the mean of y (XGBoost 1.7 would start at 0.5,
  // far from pollutant concentrations).
  double base_score = std::numeric_limits<double>::quiet_NaN();
};

struct TrainedBooster {
  std::string bytes;                       // the model as XGBoost saved it
  predict::XgbEncoding encoding = predict::XgbEncoding::kJson;
  int rounds = 0;                          // trees kept (best iteration + 1 with early stopping)
  double validation_rmse = -1.0;           // on the validation set, -1 without one
};

// Trains a booster. X_val/y_val may be null (then early_stopping_rounds is
// ignored). With early stopping the returned model is sliced to the best
// round. NaN in X is missing. Deterministic for a given seed and nthread.
Result<TrainedBooster> TrainXgb(const TrainParams& params, const predict::DenseMatrix& X,
                                const std::vector<float>& y, const predict::DenseMatrix* X_val,
                                const std::vector<float>* y_val, int early_stopping_rounds,
                                uint64_t seed,
                                predict::XgbEncoding encoding = predict::XgbEncoding::kJson);

// Trains on `train` (validation on `val` when given, with early stopping),
// records self-test pairs with libxgboost's own outputs, and writes the model
// file (docs/MODELS.md). Training metadata: rows, rounds, validation RMSE,
// parameters, seed.
Result<std::string> TrainXgbModelFile(const predict::ModelFileRequest& request,
                                      const predict::TrainingSet& train,
                                      const predict::TrainingSet* val, const TrainParams& params,
                                      int early_stopping_rounds, uint64_t seed,
                                      predict::XgbEncoding encoding = predict::XgbEncoding::kUbjson);

// The linked libxgboost's version, "major.minor.patch" (recorded in model
// lineage and manifests).
std::string LibraryVersion();

// A booster loaded into libxgboost, for reference predictions.
class Booster {
 public:
  static Result<Booster> Load(std::string_view bytes);
  Booster(Booster&&) noexcept;
  Booster& operator=(Booster&&) noexcept;
  ~Booster();

  // XGBoost's in-place dense prediction (XGBoosterPredictFromDense), one
  // thread, NaN = missing. Returns one value per row.
  Result<std::vector<float>> PredictDense(const float* data, size_t rows, size_t cols) const;
  // Same for one row; the single-row path the benchmarks compare against.
  Result<float> PredictRow(const float* row, size_t cols) const;
  // Saves the model again in the given encoding.
  Result<std::string> Save(predict::XgbEncoding encoding) const;

 private:
  explicit Booster(void* handle);
  void* handle_ = nullptr;
  std::string predict_config_;
};

}  // namespace sentinelle::xgb
