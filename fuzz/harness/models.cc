// Harnesses for model files (envelope + booster) and the XGBoost evaluator's
// two encodings.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "harness.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/predict/xgb_model.h"

namespace sentinelle::fuzz {
namespace {

// Rows to evaluate a parsed model on: all missing, all zero, and values taken
// from the input's bytes (so the fuzzer steers which branches are taken).
std::vector<std::vector<float>> Rows(size_t features, std::string_view input) {
  std::vector<std::vector<float>> rows;
  rows.emplace_back(features, std::numeric_limits<float>::quiet_NaN());
  rows.emplace_back(features, 0.0f);
  std::vector<float> mixed(features);
  for (size_t i = 0; i < features; ++i) {
    const unsigned char b = input.empty() ? 0 : static_cast<unsigned char>(input[i % input.size()]);
    mixed[i] = b == 0xff ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(b) - 64.0f;
  }
  rows.push_back(std::move(mixed));
  return rows;
}

// A parsed model with more inputs than this is not evaluated (a row would
// not fit the fuzzer's memory budget); the parse itself was still exercised.
constexpr size_t kMaxEvaluatedFeatures = size_t{1} << 16;

void Xgb(std::string_view input, predict::XgbEncoding encoding) {
  auto model = predict::XgbModel::Parse(input, encoding);
  if (!model.ok()) return;
  const predict::XgbModel& m = model.value();
  SENTINELLE_FUZZ_CHECK(m.num_features() >= 0 && m.num_trees() >= 0 && m.max_depth() >= 0);
  if (static_cast<size_t>(m.num_features()) > kMaxEvaluatedFeatures) return;
  for (const auto& row : Rows(static_cast<size_t>(m.num_features()), input)) {
    const float y = m.Predict(row.data());
    (void)y;  // any float is a valid output; ASan/UBSan watch the walk
  }
}

}  // namespace

void ModelFile(std::string_view input) {
  auto envelope = predict::ReadModelFile(input);
  if (envelope.ok()) {
    // What was read writes back to a file that reads the same.
    const std::string again = predict::WriteModelFile(envelope.value());
    auto back = predict::ReadModelFile(again);
    SENTINELLE_FUZZ_CHECK(back.ok());
    SENTINELLE_FUZZ_CHECK(back.value().booster == envelope.value().booster);
    SENTINELLE_FUZZ_CHECK(predict::WriteModelFile(back.value()) == again);
  }
  predict::LoadOptions options;
  options.station_id = "st-1";
  auto loaded = predict::LoadModel(input, options);
  if (!loaded.ok()) return;
  const predict::Model& model = *loaded.value()->model;
  SENTINELLE_FUZZ_CHECK(model.num_features() == loaded.value()->meta.spec.Width());
  if (model.num_features() > kMaxEvaluatedFeatures) return;
  for (const auto& row : Rows(model.num_features(), input)) {
    auto y = model.Predict(row.data());
    (void)y;
  }
}

void XgbJson(std::string_view input) { Xgb(input, predict::XgbEncoding::kJson); }
void XgbUbjson(std::string_view input) { Xgb(input, predict::XgbEncoding::kUbjson); }

}  // namespace sentinelle::fuzz
