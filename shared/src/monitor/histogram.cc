#include "sentinelle/monitor/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "sentinelle/json_util.h"

namespace sentinelle::monitor {

using nlohmann::json;

int BinOf(std::span<const double> edges, double x) {
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
}

uint64_t ReferenceFeature::Total(int context) const {
  uint64_t n = 0;
  for (uint64_t c : counts[context]) n += c;
  return n;
}

uint64_t ReferenceFeature::Total() const {
  uint64_t n = 0;
  for (int c = 0; c < kContextCount; ++c) n += Total(c);
  return n;
}

int ReferenceSet::Find(std::string_view name) const {
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

json ReferenceSet::ToJson() const {
  json fs = json::array();
  for (const auto& f : features) {
    json counts = json::array();
    for (const auto& c : f.counts) counts.push_back(c);
    fs.push_back({{"name", f.name}, {"edges", f.edges}, {"counts", std::move(counts)}});
  }
  return {{"version", kReferenceVersion},
          {"scheme", std::string(kContextScheme)},
          {"features", std::move(fs)}};
}

namespace {

Result<ReferenceFeature> FeatureFromJson(const json& j, const std::string& path) {
  StrictObject o(j, path);
  o.OnlyKeys({"name", "edges", "counts"});
  ReferenceFeature f;
  f.name = o.Str("name", 128);
  const json* edges = o.Field("edges", json::value_t::array);
  const json* counts = o.Field("counts", json::value_t::array);
  if (!o.ok()) return o.error();
  if (f.name.empty()) return MakeError(path + ".name: empty");
  if (edges->size() < 2 || edges->size() > kMaxInteriorBins + 1) {
    return MakeError(path + ".edges: needs 2.." + std::to_string(kMaxInteriorBins + 1) +
                     " entries, got " + std::to_string(edges->size()));
  }
  for (const auto& e : *edges) {
    if (!e.is_number() || !std::isfinite(e.get<double>())) {
      return MakeError(path + ".edges: entries must be finite numbers");
    }
    const double v = e.get<double>();
    if (!f.edges.empty() && !(v > f.edges.back())) {
      return MakeError(path + ".edges: not strictly increasing");
    }
    f.edges.push_back(v);
  }
  if (counts->size() != static_cast<size_t>(kContextCount)) {
    return MakeError(path + ".counts: needs " + std::to_string(kContextCount) +
                     " context arrays, got " + std::to_string(counts->size()));
  }
  const size_t interior = f.edges.size() - 1;
  for (int c = 0; c < kContextCount; ++c) {
    const json& row = (*counts)[c];
    const std::string where = path + ".counts[" + std::to_string(c) + "]";
    if (!row.is_array() || row.size() != interior) {
      return MakeError(where + ": needs an array of " + std::to_string(interior) + " counts");
    }
    for (const auto& v : row) {
      if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
        return MakeError(where + ": counts must be non-negative integers");
      }
      const uint64_t n = v.get<uint64_t>();
      if (n > (uint64_t{1} << 48)) return MakeError(where + ": count implausibly large");
      f.counts[c].push_back(n);
    }
  }
  return f;
}

}  // namespace

Result<ReferenceSet> ReferenceSet::FromJson(const json& j) {
  StrictObject o(j, "reference");
  o.OnlyKeys({"version", "scheme", "features"});
  o.Int("version", kReferenceVersion, kReferenceVersion);
  const std::string scheme = o.Str("scheme", 64);
  const json* features = o.Field("features", json::value_t::array);
  if (!o.ok()) return o.error();
  if (scheme != kContextScheme) {
    return MakeError("reference.scheme: '" + scheme + "' is not this build's '" +
                     std::string(kContextScheme) + "'");
  }
  if (features->empty() || features->size() > kMaxReferenceFeatures) {
    return MakeError("reference.features: needs 1.." + std::to_string(kMaxReferenceFeatures) +
                     " entries");
  }
  ReferenceSet set;
  std::set<std::string> names;
  for (size_t i = 0; i < features->size(); ++i) {
    auto f = FeatureFromJson((*features)[i], "reference.features[" + std::to_string(i) + "]");
    if (!f.ok()) return f.error();
    if (!names.insert(f->name).second) {
      return MakeError("reference.features: duplicate feature '" + f->name + "'");
    }
    set.features.push_back(std::move(f).value());
  }
  return set;
}

Result<ReferenceSet> ReferenceSet::Decode(std::string_view text) {
  auto j = ParseJsonLimited(text, kMaxReferenceBytes, 6);
  if (!j.ok()) return MakeError("reference: " + j.message());
  return FromJson(*j);
}

// ---- builder ----

ReferenceBuilder::ReferenceBuilder(std::vector<std::string> feature_names, ReferenceOptions options)
    : names_(std::move(feature_names)), options_(options), columns_(names_.size()) {
  if (names_.empty()) throw std::invalid_argument("ReferenceBuilder: no features");
  if (names_.size() > kMaxReferenceFeatures) {
    throw std::invalid_argument("ReferenceBuilder: too many features");
  }
  if (options_.bins < 1 || options_.bins > kMaxInteriorBins) {
    throw std::invalid_argument("ReferenceBuilder: bins outside 1.." +
                                std::to_string(kMaxInteriorBins));
  }
  std::set<std::string> seen;
  for (const auto& n : names_) {
    if (n.empty() || n.size() > 128 || !seen.insert(n).second) {
      throw std::invalid_argument("ReferenceBuilder: empty, overlong or duplicate name '" + n +
                                  "'");
    }
  }
  feature_of_variable_.fill(-1);
  for (int v = 0; v < kVariableCount; ++v) {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == Name(static_cast<Variable>(v))) feature_of_variable_[v] = static_cast<int>(i);
    }
  }
}

void ReferenceBuilder::AddValue(size_t feature, int64_t ts_s, double value) {
  if (feature >= columns_.size()) throw std::invalid_argument("ReferenceBuilder: bad feature");
  if (!std::isfinite(value)) return;
  columns_[feature].values.push_back(value);
  columns_[feature].contexts.push_back(static_cast<uint8_t>(ContextOf(ts_s)));
}

void ReferenceBuilder::AddRow(int64_t ts_s, std::span<const double> values) {
  if (values.size() != columns_.size()) {
    throw std::invalid_argument("ReferenceBuilder::AddRow: " + std::to_string(values.size()) +
                                " values for " + std::to_string(columns_.size()) + " features");
  }
  for (size_t i = 0; i < values.size(); ++i) AddValue(i, ts_s, values[i]);
}

void ReferenceBuilder::AddReading(const Reading& reading) {
  for (int v = 0; v < kVariableCount; ++v) {
    const int f = feature_of_variable_[v];
    if (f < 0 || !reading.valid(static_cast<Variable>(v))) continue;
    AddValue(static_cast<size_t>(f), reading.window_end_s, reading.values[v]);
  }
}

namespace {

// Rounds to 6 significant digits so that edges print short in JSON and
// survive the round trip exactly.
double RoundSig(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return std::strtod(buf, nullptr);
}

std::vector<double> QuantileEdges(std::vector<double> values, int bins) {
  std::sort(values.begin(), values.end());
  const double lo = values.front(), hi = values.back();
  const size_t n = values.size();
  std::vector<double> edges;
  double first = RoundSig(lo);
  if (first > lo) first = lo;
  edges.push_back(first);
  for (int i = 1; i < bins; ++i) {
    const size_t idx = static_cast<size_t>(
        std::llround(static_cast<double>(i) * static_cast<double>(n - 1) / bins));
    const double e = RoundSig(values[idx]);
    if (e > edges.back() && e <= hi) edges.push_back(e);
  }
  double last = RoundSig(hi + std::max(std::fabs(hi) * 1e-6, 1e-9));
  if (!(last > hi) || !std::isfinite(last)) last = std::nextafter(hi, INFINITY);
  if (!(last > edges.back())) last = std::nextafter(edges.back(), INFINITY);
  edges.push_back(last);
  return edges;
}

}  // namespace

Result<ReferenceSet> ReferenceBuilder::Build() const {
  ReferenceSet set;
  for (size_t i = 0; i < names_.size(); ++i) {
    const Column& col = columns_[i];
    if (col.values.empty()) {
      return MakeError("reference: feature '" + names_[i] + "' has no valid training value");
    }
    ReferenceFeature f;
    f.name = names_[i];
    f.edges = QuantileEdges(col.values, options_.bins);
    const size_t interior = f.edges.size() - 1;
    for (auto& c : f.counts) c.assign(interior, 0);
    for (size_t k = 0; k < col.values.size(); ++k) {
      const int bin = BinOf(f.edges, col.values[k]);  // 1..interior by construction
      f.counts[col.contexts[k]][static_cast<size_t>(bin - 1)]++;
    }
    set.features.push_back(std::move(f));
  }
  return set;
}

}  // namespace sentinelle::monitor
