#include "sentinelle/monitor/classify.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <numeric>

namespace sentinelle::monitor {

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kNone: return "none";
    case Verdict::kSensorFault: return "sensor_fault";
    case Verdict::kRegionalChange: return "regional_change";
    case Verdict::kUndetermined: return "undetermined";
    case Verdict::kIsolated: return "isolated";
  }
  return "?";
}

double DistanceKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusKm = 6371.0;
  constexpr double kRad = std::numbers::pi / 180.0;
  const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(a)));
}

namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  const double hi = v[m];
  if (v.size() % 2) return hi;
  return (*std::max_element(v.begin(), v.begin() + m) + hi) / 2;
}

// The relative bound of station i among `neighbours` from their null
// windows: quantile x margin of |s_i(t) - median_j s_j(t)| over the window
// ends t that the station and at least half of its neighbours share.
void RelativeBound(const std::vector<StationDrift>& stations, int i,
                   const std::vector<int>& neighbours, const ClassifierConfig& config,
                   StationVerdict& v) {
  const NullSample* own = stations[i].null;
  if (!own || own->at.size() != own->shift.size() || neighbours.empty()) return;
  std::vector<const NullSample*> others;
  for (int j : neighbours) {
    const NullSample* n = stations[j].null;
    if (n && n->at.size() == n->shift.size() && std::is_sorted(n->at.begin(), n->at.end())) {
      others.push_back(n);
    }
  }
  if (others.size() * 2 < neighbours.size()) return;
  std::vector<double> diffs, at_t;
  for (size_t k = 0; k < own->at.size(); ++k) {
    at_t.clear();
    for (const NullSample* n : others) {
      auto it = std::lower_bound(n->at.begin(), n->at.end(), own->at[k]);
      if (it != n->at.end() && *it == own->at[k]) at_t.push_back(n->shift[it - n->at.begin()]);
    }
    if (at_t.empty() || at_t.size() * 2 < neighbours.size()) continue;
    diffs.push_back(std::fabs(own->shift[k] - Median(at_t)));
  }
  v.relative_windows = static_cast<int>(diffs.size());
  if (diffs.size() < static_cast<size_t>(std::max(config.min_relative_windows, 1))) return;
  v.relative_bound = SampleQuantile(std::move(diffs), config.relative_quantile) *
                     config.relative_margin;
}

// Where a station's shift sat at this time of year in its null windows:
// the median of the shifts of the windows that ended within +-season_days
// of now's day of year, in earlier years; NaN with fewer than
// min_relative_windows such windows (or no null windows, or no now).
double SeasonalShift(const NullSample* null, int64_t now_s, const ClassifierConfig& config) {
  if (!null || now_s == INT64_MIN || null->at.size() != null->shift.size()) return NAN;
  constexpr double kYear = 365.2425 * 86400;
  std::vector<double> same;
  for (size_t k = 0; k < null->at.size(); ++k) {
    const double ago = static_cast<double>(now_s - null->at[k]);
    if (ago <= 0) continue;
    const double off = std::fabs(ago - std::round(ago / kYear) * kYear);
    if (ago >= kYear / 2 && off <= config.season_days * 86400) same.push_back(null->shift[k]);
  }
  if (same.size() < static_cast<size_t>(std::max(config.min_relative_windows, 1))) return NAN;
  return Median(std::move(same));
}

int Root(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

NetworkVerdict ClassifyDrift(const std::vector<StationDrift>& stations,
                             const ClassifierConfig& config, int64_t now_s) {
  const int n = static_cast<int>(stations.size());
  NetworkVerdict out;
  out.stations.resize(n);
  std::vector<std::vector<int>> neighbours(n);
  // Each station's seasonal baseline, once (a neighbour of several).
  std::vector<double> seasonal(n, NAN);
  for (int i = 0; i < n; ++i) {
    if (stations[i].evaluated && config.max_neighbour_shift >= 0) {
      seasonal[i] = SeasonalShift(stations[i].null, now_s, config);
    }
  }
  for (int i = 0; i < n; ++i) {
    out.stations[i].station_id = stations[i].station_id;
    if (!stations[i].evaluated) continue;
    ++out.evaluated;
    out.drifting += stations[i].drifting ? 1 : 0;
    std::vector<std::pair<double, int>> near;
    for (int j = 0; j < n; ++j) {
      if (j == i || !stations[j].evaluated) continue;
      const double d =
          DistanceKm(stations[i].lat, stations[i].lon, stations[j].lat, stations[j].lon);
      if (d <= config.radius_km) near.emplace_back(d, j);
    }
    std::sort(near.begin(), near.end());
    if (near.size() > static_cast<size_t>(config.k_nearest)) near.resize(config.k_nearest);
    for (const auto& [d, j] : near) {
      neighbours[i].push_back(j);
      out.stations[i].drifting_neighbours += stations[j].drifting ? 1 : 0;
    }
    out.stations[i].neighbours = static_cast<int>(near.size());
    // Robust outlier score of this station's shift among its neighbours'.
    auto& v = out.stations[i];
    v.shift = stations[i].figures.shift;
    if (!neighbours[i].empty()) {
      std::vector<double> shifts;
      for (int j : neighbours[i]) shifts.push_back(stations[j].figures.shift);
      v.neighbour_shift = Median(shifts);
      std::vector<double> dev;
      for (double x : shifts) dev.push_back(std::fabs(x - v.neighbour_shift));
      const double spread = std::max(1.4826 * Median(dev), config.min_shift_spread);
      v.relative_z = std::fabs(v.shift - v.neighbour_shift) / spread;
      // How far the neighbours moved, each against its own ordinary wander.
      if (config.max_neighbour_shift >= 0) {
        std::vector<double> moved;
        for (int j : neighbours[i]) {
          const double base = seasonal[j];
          v.seasonal_neighbours += std::isnan(base) ? 0 : 1;
          const double shift = stations[j].figures.shift - (std::isnan(base) ? 0 : base);
          moved.push_back(shift / std::max(config.max_neighbour_shift, 1e-9));
        }
        v.neighbour_moved = Median(moved);
      }
    }
  }
  // Both halves of the neighbour test: the neighbours hold still (against
  // their seasonal baselines) and the station's departure from them stands out (outlier
  // z) and exceeds what the station-minus-neighbours difference did in its
  // null windows (the relative bound, when calibrated). The bound is
  // computed only for the stations the other conditions point at (the
  // departure is tested last).
  auto still = [&](const StationVerdict& v) {
    return config.max_neighbour_shift < 0 || std::fabs(v.neighbour_moved) <= 1.0;
  };
  auto departs = [&](int i, double min_relative) {
    StationVerdict& v = out.stations[i];
    const double rel = std::fabs(v.shift - v.neighbour_shift);
    if (rel < min_relative) return false;
    RelativeBound(stations, i, neighbours[i], config, v);
    return rel >= v.relative_bound;
  };

  const bool network_wide = out.drifting >= config.min_region_stations &&
                            out.drifting >= config.network_share * out.evaluated;
  std::vector<bool> candidate(n, false);
  for (int i = 0; i < n; ++i) {
    if (!stations[i].evaluated) continue;
    if (!stations[i].drifting) {
      // Differential test: the station moved away from its still neighbours.
      const auto& v = out.stations[i];
      if (network_wide || v.neighbours == 0 || config.sensor_min_relative_shift <= 0) continue;
      const double share = static_cast<double>(v.drifting_neighbours) / v.neighbours;
      if (share <= config.sensor_fault_max_share && still(v) &&
          v.relative_z >= std::max(config.min_relative_z, 1e-9) &&
          departs(i, config.sensor_min_relative_shift)) {
        out.stations[i].verdict = Verdict::kSensorFault;
      }
      continue;
    }
    const auto& v = out.stations[i];
    const double share = v.neighbours ? static_cast<double>(v.drifting_neighbours) / v.neighbours : 0;
    if (network_wide) {
      candidate[i] = true;
    } else if (v.neighbours == 0) {
      out.stations[i].verdict = Verdict::kIsolated;
    } else if (share <= config.sensor_fault_max_share) {
      const bool outlier = config.min_relative_z <= 0 || v.relative_z >= config.min_relative_z;
      out.stations[i].verdict =
          outlier && still(v) && departs(i, 0) ? Verdict::kSensorFault : Verdict::kUndetermined;
    } else if (share >= config.regional_min_share) {
      candidate[i] = true;
    } else {
      out.stations[i].verdict = Verdict::kUndetermined;
    }
  }
  // Regional groups: candidates linked through neighbour relations.
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  for (int i = 0; i < n; ++i) {
    if (!candidate[i]) continue;
    for (int j : neighbours[i]) {
      if (candidate[j]) parent[Root(parent, i)] = Root(parent, j);
    }
  }
  std::vector<int> size(n, 0);
  for (int i = 0; i < n; ++i) {
    if (candidate[i]) size[Root(parent, i)]++;
  }
  for (int i = 0; i < n; ++i) {
    if (!candidate[i]) continue;
    if (network_wide || size[Root(parent, i)] >= config.min_region_stations) {
      out.stations[i].verdict = Verdict::kRegionalChange;
      out.regional = true;
      out.regional_stations.push_back(stations[i].station_id);
    } else {
      out.stations[i].verdict = Verdict::kUndetermined;
    }
  }
  std::sort(out.regional_stations.begin(), out.regional_stations.end());
  return out;
}

namespace {

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::map<std::string, double> DriftFigures(const FeatureDrift& f) {
  return {{"psi", f.psi},
          {"ks", f.ks},
          {"js", f.js},
          {"wasserstein", f.wasserstein},
          {"wasserstein_iqr", f.wasserstein_iqr},
          {"score", f.score},
          {"window_count", static_cast<double>(f.window_count)}};
}

}  // namespace

std::vector<Alarm> UpdateDriftAlarms(AlarmBook& book, std::string_view feature,
                                     const std::vector<StationDrift>& stations,
                                     const NetworkVerdict& verdict, int64_t now_s,
                                     bool prediction) {
  std::vector<Alarm> changed;
  auto observe = [&](const Observation& obs) {
    Alarm a;
    if (book.Observe(obs, now_s, &a) != AlarmBook::Change::kNone) changed.push_back(std::move(a));
  };
  for (size_t i = 0; i < stations.size() && i < verdict.stations.size(); ++i) {
    const StationDrift& s = stations[i];
    const StationVerdict& v = verdict.stations[i];
    if (!s.evaluated) continue;
    Observation obs;
    obs.subject = s.station_id;
    obs.what = std::string(feature);
    obs.stations = {s.station_id};
    const std::string stats = "PSI " + Fmt(s.figures.psi) + ", KS " + Fmt(s.figures.ks) +
                              ", JS " + Fmt(s.figures.js) + ", W1/IQR " +
                              Fmt(s.figures.wasserstein_iqr);
    const std::string neigh = std::to_string(v.drifting_neighbours) + " of " +
                              std::to_string(v.neighbours) + " neighbours";
    if (prediction) {
      obs.kind = AlarmKind::kPredictionDrift;
      obs.bad = s.drifting;
      obs.reason = "predictions " + obs.what + " at " + s.station_id + " drift (" + stats + "; " +
                   neigh + " drift, verdict " + std::string(VerdictName(v.verdict)) + ")";
      if (!obs.bad && book.IsOpen(obs.kind, obs.subject, obs.what)) {
        obs.good_reason = "predictions " + obs.what + " at " + s.station_id +
                          " within their drift thresholds (" + stats + ")";
      }
    } else {
      obs.kind = AlarmKind::kDriftSensorFault;
      if (v.verdict == Verdict::kUndetermined || v.verdict == Verdict::kIsolated) continue;
      obs.bad = v.verdict == Verdict::kSensorFault;
      obs.reason = obs.what + " at " + s.station_id +
                   (s.drifting ? " drifts (" + stats + ")"
                               : " moved from its reference (" + stats +
                                     ", within its own thresholds)") +
                   " while " + neigh +
                   " within reach do, and its shift (" + Fmt(v.shift) +
                   " IQR) stands out from theirs (median " + Fmt(v.neighbour_shift) + ", z " +
                   Fmt(v.relative_z) +
                   (v.relative_bound > 0
                        ? ", beyond the " + Fmt(v.relative_bound) +
                              " IQR it differed from them in its calibration windows"
                        : std::string()) +
                   "): suspected sensor or calibration fault; check the station, do not retrain";
      if (!obs.bad && book.IsOpen(obs.kind, obs.subject, obs.what)) {
        obs.good_reason =
            obs.what + " at " + s.station_id +
            (v.verdict == Verdict::kRegionalChange
                 ? " moves with " + neigh + " within reach (verdict regional_change): not a sensor fault"
                 : (s.drifting ? " drifts (" + stats + ") but its shift (" + Fmt(v.shift) +
                                     " IQR) no longer stands out from its neighbours' (z " +
                                     Fmt(v.relative_z) + ")"
                               : " back within its drift thresholds (" + stats + ")") +
                       "; " + neigh + " drift");
      }
    }
    obs.figures = DriftFigures(s.figures);
    obs.figures["neighbours"] = v.neighbours;
    obs.figures["drifting_neighbours"] = v.drifting_neighbours;
    obs.figures["shift"] = v.shift;
    obs.figures["neighbour_shift"] = v.neighbour_shift;
    obs.figures["relative_z"] = v.relative_z;
    obs.figures["neighbour_moved"] = v.neighbour_moved;
    obs.figures["relative_bound"] = v.relative_bound;
    obs.figures["seasonal_neighbours"] = v.seasonal_neighbours;
    observe(obs);
  }
  Observation region;
  region.kind = AlarmKind::kDriftRegional;
  region.subject = "network";
  region.what = std::string(feature);
  region.bad = verdict.regional;
  region.stations = verdict.regional_stations;
  if (verdict.regional) {
    double max_score = 0, sum_psi = 0;
    int k = 0;
    for (size_t i = 0; i < stations.size() && i < verdict.stations.size(); ++i) {
      if (verdict.stations[i].verdict != Verdict::kRegionalChange) continue;
      max_score = std::max(max_score, stations[i].score);
      sum_psi += stations[i].figures.psi;
      ++k;
    }
    region.figures = {{"stations", static_cast<double>(k)},
                      {"evaluated", static_cast<double>(verdict.evaluated)},
                      {"share", verdict.evaluated ? static_cast<double>(k) / verdict.evaluated : 0},
                      {"mean_psi", k ? sum_psi / k : 0},
                      {"max_score", max_score},
                      {"retrain_candidate", 1}};
    region.reason = region.what + " drifts together at " + std::to_string(k) + " of " +
                    std::to_string(verdict.evaluated) +
                    " evaluated stations (mean PSI " + Fmt(k ? sum_psi / k : 0) +
                    "): regional change, retraining candidate";
  } else if (book.IsOpen(region.kind, region.subject, region.what)) {
    region.good_reason = region.what + ": too few of the " + std::to_string(verdict.evaluated) +
                         " evaluated stations drift together for a regional change";
  }
  observe(region);
  return changed;
}

}  // namespace sentinelle::monitor
