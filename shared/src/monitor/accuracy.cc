#include "sentinelle/monitor/accuracy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sentinelle/aqi.h"
#include "sentinelle/monitor/calibrate.h"

namespace sentinelle::monitor {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t Mod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

std::optional<int> Category(Variable target, double value) {
  if (!IsPollutant(target)) return std::nullopt;
  const auto sub = SubIndex(target, value);
  if (!sub) return std::nullopt;
  return AqiCategory(*sub);
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::string AccuracyKey::Label() const {
  return std::string(Name(target)) + "/" + std::to_string(horizon_min) + "/" + link + "/v" +
         std::to_string(model_version);
}

AccuracyTracker::AccuracyTracker(AccuracyOptions options) : options_(options) {
  if (options_.bucket_s < 1 || options_.buckets < 1 || options_.buckets > 100000) {
    throw std::invalid_argument("AccuracyTracker: bad bucket options");
  }
}

bool AccuracyTracker::Add(const AccuracyKey& key, int64_t ts_s, double predicted, double actual,
                          double baseline) {
  if (!std::isfinite(predicted) || !std::isfinite(actual)) {
    ++refused_values_;
    return false;
  }
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= options_.max_keys) {
      ++refused_keys_;
      return false;
    }
    it = series_.emplace(key, Series{std::vector<Bucket>(options_.buckets), INT64_MIN}).first;
  }
  Series& s = it->second;
  const int64_t b = FloorDiv(ts_s, options_.bucket_s);
  if (s.head != INT64_MIN && b <= s.head - options_.buckets) {
    ++refused_values_;  // older than the window
    return false;
  }
  if (s.head == INT64_MIN || b > s.head) s.head = b;
  Bucket& bucket = s.ring[Mod(b, options_.buckets)];
  if (bucket.id != b) bucket = Bucket{b};
  const double err = predicted - actual;
  bucket.n++;
  bucket.sum_err += err;
  bucket.sum_abs += std::fabs(err);
  bucket.sum_sq += err * err;
  if (std::isfinite(baseline)) {
    const double base_err = baseline - actual;
    bucket.baseline_n++;
    bucket.paired_sq += err * err;
    bucket.baseline_sq += base_err * base_err;
  }
  const auto cp = Category(key.target, predicted), ca = Category(key.target, actual);
  if (cp && ca) {
    bucket.category_n++;
    bucket.hits += *cp == *ca ? 1 : 0;
  }
  return true;
}

bool AccuracyTracker::Add(const AccuracyKey& key, double predicted, const Reading& actual) {
  if (!actual.valid(key.target)) {
    ++refused_values_;
    return false;
  }
  return Add(key, actual.window_end_s, predicted, actual.value(key.target));
}

std::optional<AccuracySummary> AccuracyTracker::Summary(const AccuracyKey& key,
                                                        int64_t now_s) const {
  auto it = series_.find(key);
  if (it == series_.end()) return std::nullopt;
  const int64_t end = FloorDiv(now_s, options_.bucket_s);
  AccuracySummary out;
  double sum_err = 0, sum_abs = 0, sum_sq = 0, paired_sq = 0, baseline_sq = 0;
  uint64_t hits = 0;
  for (const Bucket& b : it->second.ring) {
    if (b.id == INT64_MIN || b.id > end || b.id <= end - options_.buckets) continue;
    out.n += b.n;
    out.category_n += b.category_n;
    hits += b.hits;
    sum_err += b.sum_err;
    sum_abs += b.sum_abs;
    sum_sq += b.sum_sq;
    out.baseline_n += b.baseline_n;
    paired_sq += b.paired_sq;
    baseline_sq += b.baseline_sq;
  }
  if (out.baseline_n > 0) {
    const double n = static_cast<double>(out.baseline_n);
    out.paired_rmse = std::sqrt(paired_sq / n);
    out.baseline_rmse = std::sqrt(baseline_sq / n);
  }
  if (out.n > 0) {
    const double n = static_cast<double>(out.n);
    out.rmse = std::sqrt(sum_sq / n);
    out.mae = sum_abs / n;
    out.bias = sum_err / n;
  }
  if (out.category_n > 0) out.hit_rate = static_cast<double>(hits) / out.category_n;
  return out;
}

std::vector<AccuracyKey> AccuracyTracker::Keys() const {
  std::vector<AccuracyKey> keys;
  for (const auto& [k, s] : series_) keys.push_back(k);
  return keys;
}

void AccuracyTracker::Prune(int64_t now_s) {
  const int64_t end = FloorDiv(now_s, options_.bucket_s);
  for (auto it = series_.begin(); it != series_.end();) {
    if (it->second.head <= end - options_.buckets) it = series_.erase(it);
    else ++it;
  }
}

std::vector<Alarm> AccuracyTracker::Evaluate(
    int64_t now_s,
    const std::function<std::optional<ValidationFigures>(const AccuracyKey&)>& validation,
    const DegradationConfig& config, AlarmBook& book) const {
  std::vector<Alarm> changed;
  for (const auto& [key, series] : series_) {
    const auto val = validation(key);
    if (!val || !(val->rmse > 0)) continue;
    const auto live = Summary(key, now_s);
    if (!live || live->n < config.min_samples) continue;
    const double ratio = live->rmse / val->rmse;
    const double factor = std::isfinite(val->rmse_factor) ? val->rmse_factor : config.rmse_factor;
    const bool rmse_bad = ratio > factor;
    const bool hits_known = live->category_n >= config.min_samples && !std::isnan(val->hit_rate);
    const bool hits_bad = hits_known && live->hit_rate < val->hit_rate - config.max_hit_rate_drop;
    // Skill against persistence on the same pairs, relative to validation.
    const bool skill_known = live->baseline_n >= config.min_samples &&
                             live->baseline_rmse > 0 && val->baseline_ratio > 0;
    const double skill_ratio =
        skill_known ? live->paired_rmse / live->baseline_rmse / val->baseline_ratio : NAN;
    const double skill_factor =
        std::isfinite(val->skill_factor) ? val->skill_factor : config.skill_factor;
    const bool skill_lost = !skill_known || skill_ratio > skill_factor;
    Observation obs;
    obs.kind = AlarmKind::kAccuracyDegraded;
    obs.subject = key.station_id;
    obs.what = key.Label();
    obs.stations = {key.station_id};
    obs.bad = (rmse_bad || hits_bad) && skill_lost;
    obs.figures = {{"live_rmse", live->rmse},     {"validation_rmse", val->rmse},
                   {"rmse_ratio", ratio},         {"mae", live->mae},
                   {"bias", live->bias},          {"n", static_cast<double>(live->n)},
                   {"rmse_factor", factor}};
    if (live->category_n > 0) obs.figures["hit_rate"] = live->hit_rate;
    if (!std::isnan(val->hit_rate)) obs.figures["validation_hit_rate"] = val->hit_rate;
    if (skill_known) {
      obs.figures["baseline_rmse"] = live->baseline_rmse;
      obs.figures["skill_ratio"] = skill_ratio;
      obs.figures["skill_factor"] = skill_factor;
    }
    if (obs.bad) {
      obs.reason = key.Label() + " at " + key.station_id + ": live RMSE " + Fmt(live->rmse) +
                   " is " + Fmt(ratio) + "x the validation RMSE " + Fmt(val->rmse) +
                   " (bound " + Fmt(factor) + "x)";
      if (hits_bad) {
        obs.reason += ", AQI-category hit rate " + Fmt(live->hit_rate) + " vs " +
                      Fmt(val->hit_rate) + " in validation";
      }
      if (skill_known) {
        obs.reason += "; against persistence (RMSE " + Fmt(live->baseline_rmse) +
                      ") it lost skill: error ratio " + Fmt(skill_ratio) +
                      "x the validation one (bound " + Fmt(skill_factor) + "x)";
      }
      obs.reason += " over the last " + std::to_string(live->n) + " predictions";
    } else if (book.IsOpen(obs.kind, obs.subject, obs.what)) {
      // Good, with an alarm this evaluation may clear: say why it is good.
      if (rmse_bad || hits_bad) {
        // Worse than in validation, but so is persistence on the same pairs:
        // the weather got harder, the model did not get worse.
        const std::string worse =
            rmse_bad ? "live RMSE " + Fmt(live->rmse) + " is " + Fmt(ratio) +
                           "x the validation RMSE " + Fmt(val->rmse) + " (bound " + Fmt(factor) +
                           "x)"
                     : "AQI-category hit rate " + Fmt(live->hit_rate) + " vs " +
                           Fmt(val->hit_rate) + " in validation";
        obs.good_reason = key.Label() + " at " + key.station_id + ": " + worse +
                          ", but it kept its skill against persistence (RMSE " +
                          Fmt(live->baseline_rmse) + "): error ratio " + Fmt(skill_ratio) +
                          "x the validation one (bound " + Fmt(skill_factor) +
                          "x); conditions are harder, the model is not worse";
      } else {
        obs.good_reason = key.Label() + " at " + key.station_id + ": live RMSE " +
                          Fmt(live->rmse) + " is " + Fmt(ratio) + "x the validation RMSE " +
                          Fmt(val->rmse) + " (bound " + Fmt(factor) + "x) over the last " +
                          std::to_string(live->n) + " predictions";
      }
    }
    Alarm a;
    if (book.Observe(obs, now_s, &a) != AlarmBook::Change::kNone) changed.push_back(std::move(a));
  }
  return changed;
}

double RmseFactorFromWindows(const std::vector<double>& window_rmse, double overall_rmse,
                             double quantile, double margin, double floor, size_t min_windows) {
  if (!(overall_rmse > 0) || window_rmse.size() < std::max<size_t>(min_windows, 1)) return NAN;
  std::vector<double> ratios;
  ratios.reserve(window_rmse.size());
  for (double r : window_rmse) {
    if (std::isfinite(r)) ratios.push_back(r / overall_rmse);
  }
  if (ratios.size() < std::max<size_t>(min_windows, 1)) return NAN;
  return std::max(floor, SampleQuantile(std::move(ratios), quantile) * margin);
}

}  // namespace sentinelle::monitor
