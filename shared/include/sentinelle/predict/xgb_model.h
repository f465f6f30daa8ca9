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
// Layouts (XgbLayout; docs/MODELS.md compares them with numbers):
// - kBlocked (default): trees no deeper than kMaxCompleteDepth are stored as
//   complete binary trees (missing branches padded with always-left nodes) of
//   8-byte nodes (row slot, float threshold), three levels per 64-byte block.
// - kQuantised (on request): the same trees with 4-byte nodes (row slot,
//   index of the threshold among the feature's sorted distinct thresholds),
//   four levels per block. Each row is first quantised (every feature value
//   becomes its rank among that feature's thresholds), then "x < t" is
//   "rank <= index(t)", exactly the float comparison. Smaller trees, but the
//   quantisation costs more than the walk saves on the benchmark model.
//   Needs at most 65,535 distinct thresholds per feature and 32,767 features.
// - kGeneric: deeper trees, a node array with adjacent children.
// Complete trees are walked level by level, several at a time, with no
// data-dependent branches; a missing value's default direction is folded
// into the row the walk reads (two slots per feature), not tested per node.
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

// Parse uses the layout asked for, or the next one in this order that the model fits.
enum class XgbLayout { kQuantised, kBlocked, kGeneric };
std::string_view XgbLayoutName(XgbLayout l);  // "quantised" | "blocked" | "generic"

class XgbModel {
 public:
  static constexpr int kMaxCompleteDepth = 10;
  static constexpr size_t kMaxModelBytes = size_t{256} << 20;

  // Parses a model saved by XGBoost. Errors name what is unsupported or
  // inconsistent (out-of-range child or feature index, cycle, ...).
  // `layout`: see XgbLayout (tests and benchmarks compare the layouts).
  static Result<XgbModel> Parse(std::string_view bytes, XgbEncoding encoding,
                                XgbLayout layout = XgbLayout::kBlocked);

  // `row` holds num_features() float32 values, NaN = missing.
  float Predict(const float* row) const;

  int num_features() const { return num_features_; }
  int num_trees() const { return num_trees_; }
  int max_depth() const { return max_depth_; }
  float base_score() const { return base_score_; }
  const std::string& objective() const { return objective_; }
  XgbLayout layout() const { return layout_; }
  bool complete_layout() const { return layout_ != XgbLayout::kGeneric; }
  // Quantised layout only: writes the row's 2 * num_features() threshold
  // ranks as the walk reads them (a missing value: 0 in the default-left
  // slot, 65535 in the default-right one). Exposed to time it separately.
  void QuantiseRow(const float* row, uint16_t* ranks) const;
  // Bytes held by the compiled trees (for the memory budget).
  size_t MemoryBytes() const;

 private:
  friend struct XgbKernels;  // the walks, xgb_model.cc
  struct Node {
    int32_t left;      // index of the left child (right = left + 1); -1 for a leaf
    uint32_t feature;  // feature index; bit 31 set = missing goes right
    float value;       // threshold, or leaf value
  };
  // Slots index the row as the walks see it: 2 * feature + (missing goes right).
  struct Split {
    uint32_t slot;
    float threshold;  // NaN for padding (always left)
  };
  struct QSplit {
    uint16_t slot;
    uint16_t cut;  // index among the feature's thresholds; 65535 for padding (always left)
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
  // A feature's thresholds in cuts_: `steps` binary-search steps over
  // 2^steps - 1 entries from `first` (sorted, distinct, NaN-padded).
  struct CutRange {
    uint32_t feature;
    uint32_t first;
    uint32_t steps;
  };
  float PredictGeneric(const float* row) const;

  int num_features_ = 0;
  int num_trees_ = 0;
  int max_depth_ = 0;
  float base_score_ = 0.0f;
  std::string objective_;
  XgbLayout layout_ = XgbLayout::kGeneric;
  float (*predict_fn_)(const XgbModel&, const float* row) = nullptr;  // complete layouts
  // Complete layouts: per tree its internal nodes in cache-line blocks
  // (xgb_model.cc, BlockedIndex) and 2^depth leaves.
  std::vector<Split, LineAligned<Split>> splits_;     // kBlocked
  std::vector<QSplit, LineAligned<QSplit>> qsplits_;  // kQuantised
  std::vector<float> cuts_;                           // kQuantised
  std::vector<CutRange> cut_ranges_;                  // kQuantised, features used by a split
  std::vector<float> leaf_value_;
  // Generic layout.
  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
};

}  // namespace sentinelle::predict
