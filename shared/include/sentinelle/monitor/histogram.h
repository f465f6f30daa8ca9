// Fixed-bin histograms for drift monitoring, and the reference histograms a
// model bundle carries (docs/MONITORING.md, "Reference histograms").
//
// Bins. A feature's bins are given by m >= 2 strictly increasing finite
// edges e[0] < ... < e[m-1]. There are m + 1 bins:
//   bin 0      (-inf, e[0])       underflow
//   bin i      [e[i-1], e[i])     interior, i = 1 .. m-1
//   bin m      [e[m-1], +inf)     overflow
// The trainer takes the edges from quantiles of the training values (rounded
// to 6 significant digits, first edge <= the minimum, last edge > the
// maximum), so training data never lands in the under/overflow bins; live
// data outside the training range does, and for those two bins the mean of
// the values is kept as well (the Wasserstein distance needs it).
//
// A reference keeps interior counts per context band (context.h), so the
// monitor compares a window with the reference of the same bands.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/monitor/context.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle::monitor {

inline constexpr int kReferenceVersion = 1;
inline constexpr int kMaxInteriorBins = 256;
inline constexpr size_t kMaxReferenceFeatures = 1024;
inline constexpr size_t kMaxReferenceBytes = 4 * 1024 * 1024;

// Bin of x for the edges above: 0 .. edges.size(). x must not be NaN.
int BinOf(std::span<const double> edges, double x);
inline int BinCount(std::span<const double> edges) { return static_cast<int>(edges.size()) + 1; }

// A normalised binned distribution over BinCount(edges) bins.
struct Distribution {
  std::vector<double> mass;  // sums to 1; all zero for an empty distribution
  double under_mean = 0;     // mean of the underflow values (used when mass[0] > 0)
  double over_mean = 0;      // mean of the overflow values (used when mass.back() > 0)
};

// One feature's reference: edges and interior counts per context.
struct ReferenceFeature {
  std::string name;
  std::vector<double> edges;
  // counts[context][i] = training values of that context in interior bin i + 1
  // (edges.size() - 1 entries per context).
  std::array<std::vector<uint64_t>, kContextCount> counts;

  uint64_t Total(int context) const;
  uint64_t Total() const;
};

// The reference histograms of a model: one entry per monitored feature
// (input variables, pipeline features, or prediction values such as
// "pred/pm25/60"). Plain value; thread-compatible.
struct ReferenceSet {
  std::vector<ReferenceFeature> features;

  // Index of the feature named `name`, -1 when absent.
  int Find(std::string_view name) const;

  // {"version":1,"scheme":"utc-4band-2season-v1","features":[{"name":"pm25",
  //  "edges":[...],"counts":[[...] x 8 contexts]}]}
  nlohmann::json ToJson() const;
  std::string Encode() const { return ToJson().dump(); }
  // Strict: refuses unknown keys, another version or context scheme, edges
  // that are not finite and strictly increasing, count arrays of the wrong
  // length, negative or fractional counts, duplicate or empty names.
  static Result<ReferenceSet> FromJson(const nlohmann::json& j);
  // Parses text (at most kMaxReferenceBytes, nesting depth 6) then FromJson.
  static Result<ReferenceSet> Decode(std::string_view text);
};

struct ReferenceOptions {
  int bins = 20;  // interior bins from quantiles (fewer when values repeat), 1..kMaxInteriorBins
};

// Builds a ReferenceSet from training rows. Keeps the values it is given
// (the trainer has the rows in memory anyway). Not thread-safe.
class ReferenceBuilder {
 public:
  // Throws std::invalid_argument for no names, empty or duplicate names, or
  // bins outside 1..kMaxInteriorBins (programmer errors).
  explicit ReferenceBuilder(std::vector<std::string> feature_names, ReferenceOptions options = {});

  // One value per feature, in constructor order; NaN/inf = missing or
  // QC-flagged, skipped. Throws std::invalid_argument on a size mismatch.
  void AddRow(int64_t ts_s, std::span<const double> values);
  void AddValue(size_t feature, int64_t ts_s, double value);
  // Features named after a variable (Name(v), e.g. "pm25") take the reading's
  // value at its window end when it passed QC (Reading::valid); flagged or
  // missing values never enter the reference.
  void AddReading(const Reading& reading);

  // Error when a feature got no value at all.
  Result<ReferenceSet> Build() const;

 private:
  struct Column {
    std::vector<double> values;
    std::vector<uint8_t> contexts;
  };
  std::vector<std::string> names_;
  ReferenceOptions options_;
  std::vector<Column> columns_;
  std::array<int, kVariableCount> feature_of_variable_{};
};

}  // namespace sentinelle::monitor
