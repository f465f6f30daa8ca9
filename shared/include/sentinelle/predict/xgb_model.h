// A compact evaluator for XGBoost tree ensembles, so the station binary needs
// no libxgboost at run time.
//
// Reads the model exactly as XGBoost (1.7 schema) saves it, as JSON or UBJSON:
// learner.gradient_booster.model.trees[] (split_indices, split_conditions,
// left_children, right_children, default_left) and
// learner.learner_model_param.base_score. Semantics follow XGBoost's CPU
// predictor: a feature value x goes left when x < threshold (both float32),
// a missing value (NaN) follows default_left, and the output is base_score
// plus the leaf values, summed in float32 in tree order, so results agree
// with libxgboost bit for bit in practice (tests check within float rounding).
//
// Supported: gbtree boosters with numerical splits, one output, identity-link
// regression objectives (reg:squarederror, reg:absoluteerror,
// reg:pseudohubererror). Anything else is refused at Parse time with a reason.
//
// Layout: trees no deeper than kMaxCompleteDepth are stored as complete
// binary trees (missing branches padded with always-left nodes), three
// levels per 64-byte block, and walked level by level, several trees at a
// time, with no data-dependent branches.
// Deeper trees use a generic node array with adjacent children.
//
// Immutable after Parse; Predict is const and safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/result.h"

namespace sentinelle::predict {

enum class XgbEncoding { kJson, kUbjson };
std::string_view XgbEncodingName(XgbEncoding e);  // "json" | "ubjson"

class XgbModel {
 public:
  static constexpr int kMaxCompleteDepth = 10;
  static constexpr size_t kMaxModelBytes = size_t{256} << 20;

  // Parses a model saved by XGBoost. Errors name what is unsupported or
  // inconsistent (out-of-range child or feature index, cycle, ...).
  static Result<XgbModel> Parse(std::string_view bytes, XgbEncoding encoding);

  // `row` holds num_features() float32 values, NaN = missing.
  float Predict(const float* row) const;

  int num_features() const { return num_features_; }
  int num_trees() const { return num_trees_; }
  int max_depth() const { return max_depth_; }
  float base_score() const { return base_score_; }
  const std::string& objective() const { return objective_; }
  bool complete_layout() const { return complete_; }
  // Bytes held by the compiled trees (for the memory budget).
  size_t MemoryBytes() const;

 private:
  struct Node {
    int32_t left;      // index of the left child (right = left + 1); -1 for a leaf
    uint32_t feature;  // feature index; bit 31 set = missing goes right
    float value;       // threshold, or leaf value
  };
  struct Split {
    uint32_t feature;  // bit 31 set = missing goes right
    float threshold;   // NaN for padding (always left)
  };
  // Storage whose first element starts a 64-byte cache line, so that each
  // block of the layout is one line.
  template <typename T>
  struct LineAligned {
    using value_type = T;
    LineAligned() = default;
    template <typename U>
    LineAligned(const LineAligned<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
    void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t{64}); }
    bool operator==(const LineAligned&) const { return true; }
  };
  using CompleteFn = float (*)(const Split*, const float*, int, float, const float*);
  template <int kDepth, bool kAnyMissing>
  static float PredictDepth(const Split* splits, const float* leaves, int num_trees, float base,
                            const float* row);
  float PredictGeneric(const float* row) const;

  int num_features_ = 0;
  int num_trees_ = 0;
  int max_depth_ = 0;
  float base_score_ = 0.0f;
  std::string objective_;
  bool complete_ = false;
  // Complete layout: per tree its 2^depth - 1 internal nodes in cache-line
  // blocks (xgb_model.cc, BlockedIndex) and 2^depth leaves, walked by a
  // routine specialised for the depth.
  std::vector<Split, LineAligned<Split>> splits_;
  std::vector<float> leaf_value_;
  CompleteFn complete_fn_ = nullptr;          // for rows with a missing value
  CompleteFn complete_dense_fn_ = nullptr;    // for rows without
  // Generic layout.
  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
};

}  // namespace sentinelle::predict
