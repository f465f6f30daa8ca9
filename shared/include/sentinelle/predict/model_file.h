// The model file: a JSON envelope around one model (docs/MODELS.md).
//
//   {"format":"sentinelle-model","format_version":1,
//    "kind":"xgboost"|"linear","scope":"station"|"network","station":"st-1"|null,
//    "target":"pm25","horizon_min":60,"version":"...",
//    "created_at":"2026-01-01T00:00:00Z","trained_until":"2026-01-01T00:00:00Z",
//    "feature_spec":{...FeatureSpec::ToJson()...},
//    "training":{...free-form metadata...},
//    "booster":{"encoding":"json"|"ubjson"|"linear","size":N,"sha256":"<hex>",
//               "data":"<base64 of the booster bytes>"},
//    "self_test":[{"x":[1.5,null,...],"y":12.25}, ...]}
//
// Loading (LoadModel) verifies, in order: the envelope's shape, the booster's
// size and SHA-256, that this build can compute the feature specification,
// that the booster parses and takes exactly that many features, and that it
// reproduces every self-test pair (inputs -> reference output recorded at
// training). Any failure refuses the model with a reason; nothing is
// half-loaded.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/predict/features.h"
#include "sentinelle/predict/linear_model.h"
#include "sentinelle/predict/xgb_model.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle::predict {

inline constexpr int kModelFormatVersion = 1;
inline constexpr size_t kMaxModelFileBytes = size_t{64} << 20;
inline constexpr size_t kMaxSelfTestPairs = 64;

enum class ModelKind { kXgboost, kLinear };
enum class ModelScope { kStation, kNetwork };
std::string_view ModelKindName(ModelKind k);
std::string_view ModelScopeName(ModelScope s);

struct GoldenPair {
  std::vector<float> x;  // NaN = missing (null in JSON)
  float y = 0.0f;        // the reference output
};

struct ModelEnvelope {
  ModelKind kind = ModelKind::kXgboost;
  ModelScope scope = ModelScope::kNetwork;
  std::string station;                 // station scope only
  Variable target = Variable::kPm25;
  int horizon_min = 60;
  std::string version;                 // 1..64 chars, opaque
  int64_t created_at_s = 0;
  int64_t trained_until_s = 0;         // end of the training data (staleness)
  FeatureSpec spec;
  nlohmann::json training = nlohmann::json::object();
  std::string encoding = "json";       // "json" | "ubjson" (xgboost), "linear"
  std::string booster;                 // raw bytes
  std::string sha256;                  // of booster; filled by WriteModelFile
  std::vector<GoldenPair> self_test;
};

// Serialises the envelope; computes size and sha256 of the booster itself.
std::string WriteModelFile(const ModelEnvelope& envelope);
// Parses and checks the envelope (shape, checksum, feature spec); does not
// parse the booster.
Result<ModelEnvelope> ReadModelFile(std::string_view bytes);

// A runnable model. Predict may fail (runtime error) without throwing.
class Model {
 public:
  virtual ~Model() = default;
  virtual Result<float> Predict(const float* features) const = 0;
  virtual size_t num_features() const = 0;
  virtual size_t MemoryBytes() const = 0;
};

// A verified model plus its metadata (booster bytes dropped after loading).
struct LoadedModel {
  ModelEnvelope meta;
  std::shared_ptr<const Model> model;
};

struct LoadOptions {
  std::string station_id;  // a station-scoped model for another station is refused
  float self_test_tolerance = 1e-4f;  // relative, floor 1 in absolute terms
};

Result<std::shared_ptr<const LoadedModel>> LoadModel(std::string_view file_bytes,
                                                     const LoadOptions& options);

// Runs the self-test pairs against a model (also used after hot-swap tests).
Status SelfTest(const Model& model, const std::vector<GoldenPair>& pairs, float tolerance);

// Up to `count` rows of X spread over the set, with outputs from `predict`.
// The trainer records reference outputs (libxgboost's for boosted models).
template <typename F>
std::vector<GoldenPair> MakeGoldenPairs(const DenseMatrix& X, size_t count, F&& predict) {
  std::vector<GoldenPair> out;
  if (X.rows == 0) return out;
  count = std::min({count, X.rows, kMaxSelfTestPairs});
  for (size_t i = 0; i < count; ++i) {
    const size_t r = i * X.rows / count;
    GoldenPair g;
    g.x.assign(X.row(r), X.row(r) + X.cols);
    g.y = predict(X.row(r));
    out.push_back(std::move(g));
  }
  return out;
}

// What a trainer knows about the model it is about to write.
struct ModelFileRequest {
  ModelScope scope = ModelScope::kNetwork;
  std::string station;  // station scope only
  Variable target = Variable::kPm25;
  int horizon_min = 60;
  std::string version;
  int64_t created_at_s = 0;
  int64_t trained_until_s = 0;
  FeatureSpec spec;
  nlohmann::json training = nlohmann::json::object();
};

// Fits ridge on `train` (rows from BuildTrainingMatrix with request.spec) and
// writes a linear model file with self-test pairs from the training rows.
Result<std::string> FitLinearModelFile(const ModelFileRequest& request, const TrainingSet& train,
                                       double lambda = 1e-3);
// The envelope for a request (kind, encoding, booster and self_test left to
// the caller).
ModelEnvelope EnvelopeFor(const ModelFileRequest& request);

// Model adapters over the evaluators, for callers that build models in code.
std::shared_ptr<const Model> MakeXgbModel(XgbModel m);
std::shared_ptr<const Model> MakeLinearModel(LinearModel m);

}  // namespace sentinelle::predict
