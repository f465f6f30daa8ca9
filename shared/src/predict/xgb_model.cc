#include "sentinelle/predict/xgb_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <utility>
#include <nlohmann/json.hpp>

#include "sentinelle/json_util.h"

namespace sentinelle::predict {

using nlohmann::json;

std::string_view XgbEncodingName(XgbEncoding e) {
  return e == XgbEncoding::kJson ? "json" : "ubjson";
}

namespace {

constexpr uint32_t kDefaultRightBit = 0x80000000u;
constexpr int kMaxJsonDepth = 32;
constexpr int kMaxNodesPerTree = 1 << 22;
constexpr int kMaxFeatures = 1 << 20;

// Builds the DOM like json::from_ubjson, but refuses containers nested
// deeper than the limit before nlohmann's (recursive) reader descends into
// them: a crafted model file cannot exhaust the stack.
class DepthLimitedUbjson : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  // max_values: UBJSON's typed containers of null/no-op/true/false ("[$Z#L<n>")
  // declare n values that take no bytes at all, so a tiny file could make the
  // reader produce billions of them. Every value of a real model takes at
  // least one byte, so more values than input bytes means a crafted file.
  DepthLimitedUbjson(json& out, int max_depth, std::size_t max_values)
      : Base(out, false), max_depth_(max_depth), max_values_(max_values) {}
  bool start_object(std::size_t n) { return Enter() && Base::start_object(n); }
  bool start_array(std::size_t n) { return Enter() && Base::start_array(n); }
  bool end_object() { return --depth_, Base::end_object(); }
  bool end_array() { return --depth_, Base::end_array(); }
  bool null() { return Count() && Base::null(); }
  bool boolean(bool v) { return Count() && Base::boolean(v); }
  bool number_integer(json::number_integer_t v) { return Count() && Base::number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Count() && Base::number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) {
    return Count() && Base::number_float(v, s);
  }
  bool string(std::string& v) { return Count() && Base::string(v); }
  bool binary(json::binary_t& v) { return Count() && Base::binary(v); }
  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }

 private:
  bool Enter() {
    if (++depth_ > max_depth_) too_deep_ = true;
    return !too_deep_ && Count();
  }
  bool Count() {
    if (++values_ > max_values_) too_many_ = true;
    return !too_many_;
  }
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  std::size_t max_values_;
  std::size_t values_ = 0;
  bool too_many_ = false;
};

struct RawTree {
  std::vector<int64_t> left, right, feature;
  std::vector<double> condition;
  std::vector<bool> default_left;
};

const json* Child(const json& j, const char* key, json::value_t type, std::string& error,
                  const std::string& path) {
  if (!error.empty()) return nullptr;
  if (!j.is_object()) {
    error = path + ": not an object";
    return nullptr;
  }
  auto it = j.find(key);
  if (it == j.end()) {
    error = path + "." + key + ": missing";
    return nullptr;
  }
  const bool number_ok = type == json::value_t::number_float &&
                         (it->is_number_integer() || it->is_number_unsigned());
  if (it->type() != type && !number_ok) {
    error = path + "." + key + ": wrong type";
    return nullptr;
  }
  return &*it;
}

// XGBoost writes learner parameters as strings ("67", "5E-1"); accept numbers too.
bool ParamNumber(const json& j, double& out) {
  if (j.is_number()) {
    out = j.get<double>();
    return true;
  }
  if (!j.is_string()) return false;
  const std::string& s = j.get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

template <typename T>
bool NumberArray(const json& j, std::vector<T>& out) {
  if (!j.is_array()) return false;
  out.clear();
  out.reserve(j.size());
  for (const auto& v : j) {
    if (v.is_boolean()) {
      out.push_back(static_cast<T>(v.get<bool>() ? 1 : 0));
    } else if (v.is_number_float()) {
      // A float converted to a type that cannot hold it is undefined
      // behaviour: NaN, infinities and out-of-range values are refused.
      const double d = v.get<double>();
      if constexpr (std::is_integral_v<T>) {
        if (!(d > static_cast<double>(std::numeric_limits<T>::lowest()) - 1.0 &&
              d < static_cast<double>(std::numeric_limits<T>::max()))) {
          return false;
        }
      } else {
        if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) {
          return false;
        }
      }
      out.push_back(static_cast<T>(d));
    } else if (v.is_number()) {
      out.push_back(v.get<T>());
    } else {
      return false;
    }
  }
  return true;
}

Result<RawTree> ReadTree(const json& t, int index, int num_features) {
  const std::string path = "trees[" + std::to_string(index) + "]";
  std::string error;
  RawTree tree;
  std::vector<int64_t> default_left, split_type;
  const json* l = Child(t, "left_children", json::value_t::array, error, path);
  const json* r = Child(t, "right_children", json::value_t::array, error, path);
  const json* f = Child(t, "split_indices", json::value_t::array, error, path);
  const json* c = Child(t, "split_conditions", json::value_t::array, error, path);
  const json* d = Child(t, "default_left", json::value_t::array, error, path);
  if (!error.empty()) return MakeError(error);
  if (!NumberArray(*l, tree.left) || !NumberArray(*r, tree.right) ||
      !NumberArray(*f, tree.feature) || !NumberArray(*c, tree.condition) ||
      !NumberArray(*d, default_left)) {
    return MakeError(path + ": a node array holds a non-number");
  }
  const size_t n = tree.left.size();
  if (n == 0 || n > static_cast<size_t>(kMaxNodesPerTree)) {
    return MakeError(path + ": bad node count");
  }
  if (tree.right.size() != n || tree.feature.size() != n || tree.condition.size() != n ||
      default_left.size() != n) {
    return MakeError(path + ": node arrays differ in length");
  }
  if (auto st = t.find("split_type"); st != t.end() && !st->is_null()) {
    if (!NumberArray(*st, split_type)) return MakeError(path + ".split_type: not numbers");
    for (auto s : split_type) {
      if (s != 0) return MakeError(path + ": categorical splits are not supported");
    }
  }
  if (auto ts = t.find("tree_param"); ts != t.end() && ts->is_object()) {
    if (auto lv = ts->find("size_leaf_vector"); lv != ts->end()) {
      double v = 0;
      if (!ParamNumber(*lv, v) || v > 1) return MakeError(path + ": vector leaves are not supported");
    }
  }
  tree.default_left.resize(n);
  for (size_t i = 0; i < n; ++i) {
    tree.default_left[i] = default_left[i] != 0;
    const bool leaf = tree.left[i] == -1;
    if (leaf != (tree.right[i] == -1)) return MakeError(path + ": node with one child");
    if (!leaf) {
      if (tree.left[i] <= 0 || tree.left[i] >= static_cast<int64_t>(n) || tree.right[i] <= 0 ||
          tree.right[i] >= static_cast<int64_t>(n)) {
        return MakeError(path + ": child index out of range");
      }
      if (tree.feature[i] < 0 || tree.feature[i] >= num_features) {
        return MakeError(path + ": split feature index out of range");
      }
    }
    if (!std::isfinite(tree.condition[i]) &&
        !(std::isinf(tree.condition[i]) && !leaf)) {
      return MakeError(path + ": non-finite threshold or leaf value");
    }
  }
  return tree;
}

// Depth of the tree (root alone = 0); -1 when a node is reachable twice.
int TreeDepth(const RawTree& t) {
  std::vector<uint8_t> seen(t.left.size(), 0);
  std::vector<std::pair<int64_t, int>> stack{{0, 0}};
  int depth = 0;
  while (!stack.empty()) {
    auto [i, d] = stack.back();
    stack.pop_back();
    if (seen[i]) return -1;
    seen[i] = 1;
    depth = std::max(depth, d);
    if (t.left[i] != -1) {
      stack.push_back({t.left[i], d + 1});
      stack.push_back({t.right[i], d + 1});
    }
  }
  return depth;
}

// Blocked layout of a complete tree (what the walks read): levels are
// grouped by kG (3 for 8-byte nodes, 4 for 4-byte ones), and each group is
// stored as one block per node of the group's top level, holding that node's
// subtree down to the group's last level in level order (2^kG - 1 nodes or
// fewer in the last group; a block of 2^levels entries, 1 for one level). A
// full block is one 64-byte cache line, so a depth-6 walk touches two lines
// per tree instead of six.
constexpr uint32_t BlockStride(int levels) { return levels == 1 ? 1u : 1u << levels; }
template <int kG>
constexpr uint32_t GroupBase(int depth, int group) {
  uint32_t base = 0;
  for (int g = 0; g < group; ++g) {
    const int top = kG * g;
    base += (1u << top) * BlockStride(std::min(kG, depth - top));
  }
  return base;
}
// Entry of the node with index i (0 .. 2^level - 1) on `level` of a depth-`depth` tree.
template <int kG>
constexpr uint32_t BlockedIndex(int depth, int level, uint32_t i) {
  const int group = level / kG;
  const int l = level % kG;
  const uint32_t below = (1u << l) - 1;
  return GroupBase<kG>(depth, group) + (i >> l) * BlockStride(std::min(kG, depth - kG * group)) + below +
         (i & below);
}
// Entries per tree, a whole number of 64-byte lines (2^kG entries).
template <int kG>
constexpr uint32_t TreeEntries(int depth) {
  return (GroupBase<kG>(depth, (depth + kG - 1) / kG) + (1u << kG) - 1) & ~((1u << kG) - 1);
}
static_assert(TreeEntries<3>(6) == 72 && BlockedIndex<3>(6, 3, 0) == 8 && BlockedIndex<3>(6, 5, 31) == 70);
static_assert(TreeEntries<4>(6) == 80 && BlockedIndex<4>(6, 4, 0) == 16 && BlockedIndex<4>(6, 5, 31) == 78);
constexpr int kBlockedGroup = 3;    // 8-byte nodes
constexpr int kQuantisedGroup = 4;  // 4-byte nodes

// Writes tree `t` from `node` down, that node being number i of `level`.
// `make(node)` gives the split record, `pad` the always-left padding.
template <int kG, typename SplitT, typename Make>
void FillComplete(const RawTree& t, int64_t node, int level, uint32_t i, int max_depth, SplitT* splits,
                  float* leaves, const Make& make, SplitT pad) {
  if (level == max_depth) {
    leaves[i] = static_cast<float>(t.condition[node]);
    return;
  }
  SplitT& split = splits[BlockedIndex<kG>(max_depth, level, i)];
  if (t.left[node] == -1) {
    // Padding: every value, missing or not, goes left, down to the replicated leaf.
    split = pad;
    FillComplete<kG>(t, node, level + 1, 2 * i, max_depth, splits, leaves, make, pad);
    FillComplete<kG>(t, node, level + 1, 2 * i + 1, max_depth, splits, leaves, make, pad);
    return;
  }
  split = make(node);
  FillComplete<kG>(t, t.left[node], level + 1, 2 * i, max_depth, splits, leaves, make, pad);
  FillComplete<kG>(t, t.right[node], level + 1, 2 * i + 1, max_depth, splits, leaves, make, pad);
}

uint32_t Slot(const RawTree& t, int64_t node) {
  return 2 * static_cast<uint32_t>(t.feature[node]) + (t.default_left[node] ? 0u : 1u);
}

// Rows of up to this many features are prepared on the stack.
constexpr int kStackFeatures = 512;

}  // namespace

std::string_view XgbLayoutName(XgbLayout l) {
  switch (l) {
    case XgbLayout::kQuantised: return "quantised";
    case XgbLayout::kBlocked: return "blocked";
    case XgbLayout::kGeneric: break;
  }
  return "generic";
}

struct XgbKernels {
  using Split = XgbModel::Split;
  using QSplit = XgbModel::QSplit;
  using CutRange = XgbModel::CutRange;
  // Walks in flight at once: their loads overlap.
  static constexpr int kLanes = 8;

  static uint32_t Right(const Split& n, const float* slots) {
    // False for a NaN on either side: a missing value in the default-left
    // slot, and padding (NaN threshold), go left.
    return static_cast<uint32_t>(slots[n.slot] >= n.threshold);
  }
  static uint32_t Right(const QSplit& n, const uint16_t* ranks) {
    return static_cast<uint32_t>(ranks[n.slot] > n.cut);
  }

  // Walks kN consecutive trees from `s`, level by level; writes their leaf indices.
  template <int kG, int kDepth, int kN, typename SplitT, typename RowT>
  static inline __attribute__((always_inline)) void WalkLanes(const SplitT* s, const RowT* row, uint32_t* leaf) {
    constexpr uint32_t kE = TreeEntries<kG>(kDepth);
    uint32_t b[kN] = {}, j[kN] = {};  // block on the group's top level, node within the block's level
    const SplitT* p[kN];              // the block
#pragma GCC unroll 16
    for (int k = 0; k < kN; ++k) p[k] = s + k * kE;
    [&]<int... kLevel>(std::integer_sequence<int, kLevel...>) {
      (
          [&] {
            constexpr int kLocal = kLevel % kG;
            constexpr uint32_t kBelow = (1u << kLocal) - 1;
#pragma GCC unroll 16
            for (int k = 0; k < kN; ++k) j[k] = 2 * j[k] + Right(p[k][kBelow + j[k]], row);
            if constexpr (kLocal == kG - 1 && kLevel + 1 < kDepth) {
              constexpr int kNext = kLevel / kG + 1;
              constexpr uint32_t kBase = GroupBase<kG>(kDepth, kNext);
              constexpr uint32_t kStride = BlockStride(std::min(kG, kDepth - kG * kNext));
#pragma GCC unroll 16
              for (int k = 0; k < kN; ++k) {
                b[k] = (b[k] << kG) + j[k];
                p[k] = s + k * kE + kBase + b[k] * kStride;
                j[k] = 0;
              }
            }
          }(),
          ...);
    }(std::make_integer_sequence<int, kDepth>{});
    constexpr int kLast = kDepth - kG * ((kDepth - 1) / kG);  // levels in the last group
#pragma GCC unroll 16
    for (int k = 0; k < kN; ++k) leaf[k] = (b[k] << kLast) + j[k];
  }

  // Leaf values are added in tree order, as XGBoost does, for identical sums.
  template <int kG, int kDepth, typename SplitT, typename RowT>
  static float Walk(const SplitT* splits, const float* leaves, int num_trees, float sum, const RowT* row) {
    constexpr uint32_t kE = TreeEntries<kG>(kDepth);
    constexpr uint32_t kLeaves = 1u << kDepth;
    int t = 0;
    for (; t + kLanes <= num_trees; t += kLanes) {
      uint32_t leaf[kLanes];
      WalkLanes<kG, kDepth, kLanes>(splits + static_cast<size_t>(t) * kE, row, leaf);
      const float* l = leaves + static_cast<size_t>(t) * kLeaves;
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) sum += l[k * kLeaves + leaf[k]];
    }
    for (; t < num_trees; ++t) {
      uint32_t leaf[1];
      WalkLanes<kG, kDepth, 1>(splits + static_cast<size_t>(t) * kE, row, leaf);
      sum += leaves[static_cast<size_t>(t) * kLeaves + leaf[0]];
    }
    return sum;
  }

  // Blocked layout: slot 2f is the value (a missing one goes left at every
  // split), slot 2f + 1 the value with a missing one as +inf (goes right).
  template <int kDepth>
  static float Blocked(const XgbModel& m, const float* row) {
    const int n = m.num_features_;
    float stack[2 * kStackFeatures];
    std::vector<float> heap;
    float* slots = stack;
    if (n > kStackFeatures) {
      heap.resize(2 * static_cast<size_t>(n));
      slots = heap.data();
    }
    for (int f = 0; f < n; ++f) {
      const float x = row[f];
      slots[2 * f] = x;
      slots[2 * f + 1] = x != x ? std::numeric_limits<float>::infinity() : x;
    }
    return Walk<kBlockedGroup, kDepth>(m.splits_.data(), m.leaf_value_.data(), m.num_trees_, m.base_score_, slots);
  }

  // Rank of x among a feature's thresholds (how many are <= x), by a
  // branch-free binary search of fixed length; 0 for a missing x.
  static void Quantise(const XgbModel& m, const float* row, uint16_t* ranks) {
    const float* cuts = m.cuts_.data();
    for (const CutRange& r : m.cut_ranges_) {
      const float x = row[r.feature];
      const float* c = cuts + r.first;
      uint32_t k = 0;
      for (uint32_t h = (1u << r.steps) >> 1; h != 0; h >>= 1) k += c[k + h - 1] <= x ? h : 0u;
      ranks[2 * r.feature] = static_cast<uint16_t>(k);
      ranks[2 * r.feature + 1] = x != x ? uint16_t{0xFFFF} : static_cast<uint16_t>(k);
    }
  }

  template <int kDepth>
  static float Quantised(const XgbModel& m, const float* row) {
    uint16_t stack[2 * kStackFeatures];
    std::vector<uint16_t> heap;
    uint16_t* ranks = stack;
    if (m.num_features_ > kStackFeatures) {
      heap.resize(2 * static_cast<size_t>(m.num_features_));
      ranks = heap.data();
    }
    Quantise(m, row, ranks);
    return Walk<kQuantisedGroup, kDepth>(m.qsplits_.data(), m.leaf_value_.data(), m.num_trees_, m.base_score_,
                                         ranks);
  }

  using PredictFn = float (*)(const XgbModel&, const float*);
  template <int... kDepth>
  static constexpr PredictFn BlockedFn(int depth, std::integer_sequence<int, kDepth...>) {
    constexpr PredictFn fns[] = {&Blocked<kDepth>...};
    return fns[depth];
  }
  template <int... kDepth>
  static constexpr PredictFn QuantisedFn(int depth, std::integer_sequence<int, kDepth...>) {
    constexpr PredictFn fns[] = {&Quantised<kDepth>...};
    return fns[depth];
  }

  static void BuildBlocked(const std::vector<RawTree>& raw, XgbModel& m) {
    const uint32_t entries = TreeEntries<kBlockedGroup>(m.max_depth_);
    const uint32_t leaves = 1u << m.max_depth_;
    m.splits_.assign(static_cast<size_t>(entries) * raw.size(), Split{0, 0.0f});
    m.leaf_value_.assign(static_cast<size_t>(leaves) * raw.size(), 0.0f);
    const Split pad{0, std::numeric_limits<float>::quiet_NaN()};
    for (size_t i = 0; i < raw.size(); ++i) {
      const RawTree& t = raw[i];
      auto make = [&t](int64_t node) { return Split{Slot(t, node), static_cast<float>(t.condition[node])}; };
      FillComplete<kBlockedGroup>(t, 0, 0, 0, m.max_depth_, m.splits_.data() + i * entries,
                                  m.leaf_value_.data() + i * leaves, make, pad);
    }
    m.predict_fn_ = BlockedFn(m.max_depth_, std::make_integer_sequence<int, XgbModel::kMaxCompleteDepth + 1>{});
  }

  // False (and m untouched) when the model does not fit 16-bit slots and cut indices.
  static bool BuildQuantised(const std::vector<RawTree>& raw, XgbModel& m) {
    if (m.num_features_ > 32767) return false;
    std::vector<std::vector<float>> by_feature(static_cast<size_t>(m.num_features_));
    for (const RawTree& t : raw) {
      for (size_t i = 0; i < t.left.size(); ++i) {
        if (t.left[i] != -1) by_feature[static_cast<size_t>(t.feature[i])].push_back(static_cast<float>(t.condition[i]));
      }
    }
    std::vector<float> cuts;
    std::vector<CutRange> ranges;
    std::vector<uint32_t> first(by_feature.size(), 0);
    for (size_t f = 0; f < by_feature.size(); ++f) {
      std::vector<float>& c = by_feature[f];
      if (c.empty()) continue;
      std::sort(c.begin(), c.end());
      c.erase(std::unique(c.begin(), c.end()), c.end());
      if (c.size() > 65535) return false;
      uint32_t steps = 0;
      while ((size_t{1} << steps) - 1 < c.size()) ++steps;
      first[f] = static_cast<uint32_t>(cuts.size());
      ranges.push_back({static_cast<uint32_t>(f), first[f], steps});
      cuts.insert(cuts.end(), c.begin(), c.end());
      // NaN padding is never <= x: it counts as above every value.
      cuts.resize(first[f] + (size_t{1} << steps) - 1, std::numeric_limits<float>::quiet_NaN());
    }
    const uint32_t entries = TreeEntries<kQuantisedGroup>(m.max_depth_);
    const uint32_t leaves = 1u << m.max_depth_;
    // Padding reads a slot the row always fills, and goes left whatever it holds.
    const QSplit pad{static_cast<uint16_t>(ranges.empty() ? 0 : 2 * ranges[0].feature), 0xFFFF};
    m.qsplits_.assign(static_cast<size_t>(entries) * raw.size(), pad);
    m.leaf_value_.assign(static_cast<size_t>(leaves) * raw.size(), 0.0f);
    for (size_t i = 0; i < raw.size(); ++i) {
      const RawTree& t = raw[i];
      auto make = [&](int64_t node) {
        const std::vector<float>& c = by_feature[static_cast<size_t>(t.feature[node])];
        const auto at = std::lower_bound(c.begin(), c.end(), static_cast<float>(t.condition[node]));
        return QSplit{static_cast<uint16_t>(Slot(t, node)), static_cast<uint16_t>(at - c.begin())};
      };
      FillComplete<kQuantisedGroup>(t, 0, 0, 0, m.max_depth_, m.qsplits_.data() + i * entries,
                                    m.leaf_value_.data() + i * leaves, make, pad);
    }
    m.cuts_ = std::move(cuts);
    m.cut_ranges_ = std::move(ranges);
    m.predict_fn_ =
        QuantisedFn(m.max_depth_, std::make_integer_sequence<int, XgbModel::kMaxCompleteDepth + 1>{});
    return true;
  }
};

Result<XgbModel> XgbModel::Parse(std::string_view bytes, XgbEncoding encoding, XgbLayout layout) {
  if (bytes.size() > kMaxModelBytes) {
    return MakeError("model of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                     std::to_string(kMaxModelBytes));
  }
  json root;
  if (encoding == XgbEncoding::kJson) {
    auto parsed = ParseJsonLimited(bytes, kMaxModelBytes, kMaxJsonDepth);
    if (!parsed) return MakeError("model JSON: " + parsed.message());
    root = std::move(parsed.value());
  } else {
    DepthLimitedUbjson sax(root, kMaxJsonDepth, bytes.size());
    bool ok = false;
    try {
      ok = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::ubjson,
                           /*strict=*/true);
    } catch (const json::exception& e) {
      // nlohmann throws for a container count over max_size() ("excessive
      // array size") even when asked not to: a crafted count must not crash.
      return MakeError(std::string("model UBJSON: ") + e.what());
    }
    if (sax.too_deep()) {
      return MakeError("model UBJSON: nested deeper than " + std::to_string(kMaxJsonDepth) +
                       " levels");
    }
    if (sax.too_many()) {
      return MakeError("model UBJSON: declares more values than its " +
                       std::to_string(bytes.size()) + " bytes can hold");
    }
    if (!ok || sax.is_errored()) return MakeError("model UBJSON: malformed");
  }
  std::string error;
  const json* learner = Child(root, "learner", json::value_t::object, error, "");
  const json* mparam =
      learner ? Child(*learner, "learner_model_param", json::value_t::object, error, "learner")
              : nullptr;
  const json* booster =
      learner ? Child(*learner, "gradient_booster", json::value_t::object, error, "learner")
              : nullptr;
  const json* objective =
      learner ? Child(*learner, "objective", json::value_t::object, error, "learner") : nullptr;
  if (!error.empty()) return MakeError(error);

  XgbModel m;
  const json* obj_name = Child(*objective, "name", json::value_t::string, error, "objective");
  if (!error.empty()) return MakeError(error);
  m.objective_ = obj_name->get<std::string>();
  if (m.objective_ != "reg:squarederror" && m.objective_ != "reg:absoluteerror" &&
      m.objective_ != "reg:pseudohubererror") {
    return MakeError("objective '" + m.objective_ + "' is not supported (identity link only)");
  }
  double num_feature = 0, base_score = 0, num_class = 0, num_target = 1;
  if (auto it = mparam->find("num_feature"); it == mparam->end() || !ParamNumber(*it, num_feature) ||
                                             num_feature < 1 || num_feature > kMaxFeatures) {
    return MakeError("learner_model_param.num_feature: missing or out of range");
  }
  if (auto it = mparam->find("base_score"); it == mparam->end() || !ParamNumber(*it, base_score)) {
    return MakeError("learner_model_param.base_score: missing or not a number");
  }
  if (auto it = mparam->find("num_class"); it != mparam->end() &&
                                           (!ParamNumber(*it, num_class) || num_class > 1)) {
    return MakeError("multi-class models are not supported");
  }
  if (auto it = mparam->find("num_target"); it != mparam->end() &&
                                            (!ParamNumber(*it, num_target) || num_target > 1)) {
    return MakeError("multi-target models are not supported");
  }
  m.num_features_ = static_cast<int>(num_feature);
  m.base_score_ = static_cast<float>(base_score);

  const json* bname = Child(*booster, "name", json::value_t::string, error, "gradient_booster");
  if (!error.empty()) return MakeError(error);
  if (*bname != "gbtree") {
    return MakeError("booster '" + bname->get<std::string>() + "' is not supported (gbtree only)");
  }
  const json* model = Child(*booster, "model", json::value_t::object, error, "gradient_booster");
  const json* trees = model ? Child(*model, "trees", json::value_t::array, error, "model") : nullptr;
  if (!error.empty()) return MakeError(error);
  if (auto ti = model->find("tree_info"); ti != model->end()) {
    std::vector<int64_t> info;
    if (!NumberArray(*ti, info)) return MakeError("model.tree_info: not numbers");
    for (auto g : info) {
      if (g != 0) return MakeError("model.tree_info: more than one output group");
    }
  }

  std::vector<RawTree> raw;
  raw.reserve(trees->size());
  int index = 0;
  for (const auto& t : *trees) {
    auto tree = ReadTree(t, index, m.num_features_);
    if (!tree) return tree.error();
    const int depth = TreeDepth(*tree);
    if (depth < 0) return MakeError("trees[" + std::to_string(index) + "]: not a tree (cycle)");
    m.max_depth_ = std::max(m.max_depth_, depth);
    raw.push_back(std::move(tree.value()));
    ++index;
  }
  m.num_trees_ = static_cast<int>(raw.size());
  const bool complete = m.max_depth_ <= kMaxCompleteDepth;
  if (complete && layout == XgbLayout::kQuantised && XgbKernels::BuildQuantised(raw, m)) {
    m.layout_ = XgbLayout::kQuantised;
  } else if (complete && layout != XgbLayout::kGeneric) {
    m.layout_ = XgbLayout::kBlocked;
    XgbKernels::BuildBlocked(raw, m);
  } else {
    m.layout_ = XgbLayout::kGeneric;
    for (const RawTree& t : raw) {
      // Breadth-first renumbering so that right child = left child + 1.
      const uint32_t first = static_cast<uint32_t>(m.nodes_.size());
      m.roots_.push_back(first);
      std::vector<int64_t> queue{0};
      m.nodes_.push_back({});
      for (size_t q = 0; q < queue.size(); ++q) {
        const int64_t src = queue[q];
        Node& dst = m.nodes_[first + q];
        if (t.left[src] == -1) {
          dst = {-1, 0, static_cast<float>(t.condition[src])};
          continue;
        }
        const int32_t left = static_cast<int32_t>(m.nodes_.size());
        dst = {left,
               static_cast<uint32_t>(t.feature[src]) | (t.default_left[src] ? 0u : kDefaultRightBit),
               static_cast<float>(t.condition[src])};
        queue.push_back(t.left[src]);
        queue.push_back(t.right[src]);
        m.nodes_.push_back({});
        m.nodes_.push_back({});
      }
    }
  }
  return m;
}

float XgbModel::Predict(const float* row) const {
  return predict_fn_ ? predict_fn_(*this, row) : PredictGeneric(row);
}

void XgbModel::QuantiseRow(const float* row, uint16_t* ranks) const { XgbKernels::Quantise(*this, row, ranks); }

float XgbModel::PredictGeneric(const float* row) const {
  float sum = base_score_;
  for (uint32_t root : roots_) {
    const Node* n = &nodes_[root];
    while (n->left >= 0) {
      const float x = row[n->feature & ~kDefaultRightBit];
      const uint32_t right = static_cast<uint32_t>(x >= n->value) |
                             (static_cast<uint32_t>(std::isnan(x)) & (n->feature >> 31));
      n = &nodes_[static_cast<size_t>(n->left) + right];
    }
    sum += n->value;
  }
  return sum;
}

size_t XgbModel::MemoryBytes() const {
  return splits_.capacity() * sizeof(Split) + qsplits_.capacity() * sizeof(QSplit) +
         cuts_.capacity() * sizeof(float) + cut_ranges_.capacity() * sizeof(CutRange) +
         leaf_value_.capacity() * sizeof(float) + nodes_.capacity() * sizeof(Node) +
         roots_.capacity() * sizeof(uint32_t) + sizeof(*this);
}

}  // namespace sentinelle::predict
