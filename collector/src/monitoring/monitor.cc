#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <set>
#include <tuple>

#include "alarm_store.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training_jobs.h"
#include "sentinelle/monitor/calibrate.h"
#include "sentinelle/monitor/classify.h"
#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"

namespace sentinelle::collector {

using monitor::Alarm;
using monitor::AlarmKind;
using nlohmann::json;

namespace {

constexpr std::string_view kPredPrefix = "pred/";

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// What a station's drift is measured against: the production model's
// reference, one feature per input variable (named after it: "pm25", from
// the model's "pm25" or "pm25_lag0") and one per prediction stream whose
// reference the model carries ("pred/pm25/60", its predictions on the
// validation period). The target's own histogram is no substitute: a
// regression model's predictions are narrower than the values they predict,
// which reads as drift from the first day (measured on the simulator).
struct MonitoredReference {
  int64_t version = 0;  // registry version it came from
  std::shared_ptr<const monitor::ReferenceSet> set;
  std::map<std::pair<int, int>, size_t> pred_index;  // (target, horizon_min) -> feature
  // Calibrated per-feature thresholds (empty: the configured ones).
  std::vector<std::optional<monitor::DriftThresholds>> thresholds;
  // Null windows of each calibrated station, one sample per feature: the
  // classifier's relative bound compares a station's null shifts with its
  // neighbours' at the same window ends (classify.h).
  std::map<std::string, std::vector<monitor::NullSample>> null_by_station;
  // Calibrated live/validation RMSE bound of the model (NaN: configured),
  // its validation RMSE over persistence's on the same pairs and the
  // calibrated bound on the live skill ratio (NaN: unknown / configured).
  double rmse_factor = NAN;
  double baseline_ratio = NAN;
  double skill_factor = NAN;
};

std::string PredFeature(Variable target, int horizon_min) {
  return std::string(kPredPrefix) + std::string(Name(target)) + "/" + std::to_string(horizon_min);
}

std::shared_ptr<MonitoredReference> DeriveReference(
    const monitor::ReferenceSet& model, int64_t version,
    const std::set<std::pair<int, int>>& streams) {
  auto set = std::make_shared<monitor::ReferenceSet>();
  for (int v = 0; v < kVariableCount; ++v) {
    const std::string name(Name(static_cast<Variable>(v)));
    int i = model.Find(name);
    if (i < 0) i = model.Find(name + "_lag0");
    if (i < 0) continue;
    monitor::ReferenceFeature f = model.features[i];
    f.name = name;
    set->features.push_back(std::move(f));
  }
  auto out = std::make_shared<MonitoredReference>();
  out->version = version;
  for (const auto& [t, h] : streams) {
    const std::string name = PredFeature(static_cast<Variable>(t), h);
    const int i = model.Find(name);
    if (i < 0) continue;
    out->pred_index[{t, h}] = set->features.size();
    set->features.push_back(model.features[i]);
  }
  out->set = std::move(set);
  return out;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Which (station, minute) windows were seen, over a bounded span: replays
// and duplicates are not counted twice. span / 60 bits per station.
class SeenRing {
 public:
  enum class Result { kNew, kSeen, kTooOld };
  explicit SeenRing(int64_t span_s) : bits_(static_cast<size_t>(span_s / kStep + 1), false) {}
  Result Insert(int64_t t_s) {
    const int64_t slot = FloorDiv(t_s, kStep);
    const int64_t n = static_cast<int64_t>(bits_.size());
    if (max_slot_ == INT64_MIN) max_slot_ = slot;
    if (slot > max_slot_) {
      if (slot - max_slot_ >= n) {
        std::fill(bits_.begin(), bits_.end(), false);
      } else {
        for (int64_t s = max_slot_ + 1; s <= slot; ++s) bits_[Index(s)] = false;
      }
      max_slot_ = slot;
    }
    if (slot <= max_slot_ - n) return Result::kTooOld;
    auto bit = bits_[Index(slot)];
    if (bit) return Result::kSeen;
    bit = true;
    return Result::kNew;
  }

 private:
  static constexpr int64_t kStep = 60;
  size_t Index(int64_t slot) const {
    const int64_t n = static_cast<int64_t>(bits_.size());
    return static_cast<size_t>(slot - FloorDiv(slot, n) * n);
  }
  std::vector<bool> bits_;
  int64_t max_slot_ = INT64_MIN;
};

struct Pending {
  int64_t issued_s = 0;
  Variable target = Variable::kPm25;
  int horizon_min = 0;
  std::string link;
  int64_t version = 0;
  double value = 0;
};

using Series = std::deque<std::pair<int64_t, double>>;

struct StationState {
  explicit StationState(int64_t span_s) : seen(span_s) {}
  std::shared_ptr<const MonitoredReference> ref;
  std::unique_ptr<monitor::StationDriftWindow> window;
  SeenRing seen;
  int64_t newest_reading_s = INT64_MIN;
  std::map<int64_t, std::array<float, kVariableCount>> recent;  // window end -> valid values (NaN otherwise)
  std::multimap<int64_t, Pending> pending;                      // target time -> prediction
  std::set<std::tuple<int64_t, int, int, std::string>> predictions_seen;  // issued, target, horizon, link/version
  std::vector<monitor::FeatureDrift> latest;
  std::map<std::string, Series> psi_series;
};

int64_t ParseVersion(const std::string& s) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit)) return 0;
  return std::stoll(s);
}

void PushPoint(Series& s, int64_t t, double v, size_t max_points) {
  s.emplace_back(t, v);
  while (s.size() > max_points) s.pop_front();
}

// The series, then the current figure `now` (time, value) when it is newer
// than the last point: a report always ends with the figures it shows, and
// a short run (one pass) still has a series to draw.
json SeriesJson(const Series* s, const char* name,
                std::optional<std::pair<int64_t, double>> now = std::nullopt) {
  json out = json::array();
  int64_t last = INT64_MIN;
  if (s) {
    for (const auto& [t, v] : *s) {
      out.push_back({{"t", FormatUtc(t)}, {name, Num(v)}});
      last = t;
    }
  }
  if (now && now->first > last && std::isfinite(now->second)) {
    out.push_back({{"t", FormatUtc(now->first)}, {name, Num(now->second)}});
  }
  return out;
}

struct Validation {
  double rmse = NAN;
  std::map<std::string, double> per_station;
};

// (target, horizon, link) pooled over stations and versions.
using PoolKey = std::tuple<std::string, int, std::string>;
struct Pool {
  uint64_t n = 0, category_n = 0;
  double sum_sq = 0, sum_abs = 0, sum_err = 0, hits = 0;
  double validation_sum = 0;
  int validation_n = 0;
  std::set<int64_t> versions;
  void Add(const monitor::AccuracySummary& s) {
    n += s.n;
    sum_sq += s.rmse * s.rmse * static_cast<double>(s.n);
    sum_abs += s.mae * static_cast<double>(s.n);
    sum_err += s.bias * static_cast<double>(s.n);
    if (s.category_n > 0) {
      category_n += s.category_n;
      hits += s.hit_rate * static_cast<double>(s.category_n);
    }
  }
  double rmse() const { return n ? std::sqrt(sum_sq / static_cast<double>(n)) : NAN; }
  double mae() const { return n ? sum_abs / static_cast<double>(n) : NAN; }
  double bias() const { return n ? sum_err / static_cast<double>(n) : NAN; }
  double hit_rate() const { return category_n ? hits / static_cast<double>(category_n) : NAN; }
  double validation() const { return validation_n ? validation_sum / validation_n : NAN; }
};

// Prometheus side (docs/MONITORING.md, "Metrics").
class MonitorMetrics {
 public:
  explicit MonitorMetrics(prometheus::Registry& r)
      : active_(prometheus::BuildGauge()
                    .Name("sentinelle_monitor_alarms_active")
                    .Help("Open monitoring alarms by kind")
                    .Register(r)),
        raised_(prometheus::BuildCounter()
                    .Name("sentinelle_monitor_alarms_raised_total")
                    .Help("Monitoring alarms raised")
                    .Register(r)),
        cleared_(prometheus::BuildCounter()
                     .Name("sentinelle_monitor_alarms_cleared_total")
                     .Help("Monitoring alarms cleared")
                     .Register(r)),
        rmse_(Gauge(r, "sentinelle_monitor_accuracy_rmse", "Live RMSE over the accuracy window")),
        mae_(Gauge(r, "sentinelle_monitor_accuracy_mae", "Live MAE over the accuracy window")),
        bias_(Gauge(r, "sentinelle_monitor_accuracy_bias", "Mean of predicted minus actual")),
        hit_(Gauge(r, "sentinelle_monitor_accuracy_aqi_hit_rate",
                   "Share of predictions in the right AQI category")),
        samples_(Gauge(r, "sentinelle_monitor_accuracy_samples", "Joined pairs in the window")),
        validation_(Gauge(r, "sentinelle_monitor_accuracy_validation_rmse",
                          "Validation RMSE of the models answering on the link")),
        ratio_(Gauge(r, "sentinelle_monitor_accuracy_rmse_ratio",
                     "Live RMSE over validation RMSE")),
        drift_stations_(Gauge(r, "sentinelle_monitor_drift_stations",
                              "Stations per drift verdict of a monitored feature")),
        psi_max_(Gauge(r, "sentinelle_monitor_drift_psi_max",
                       "Largest PSI over the evaluated stations")),
        score_max_(Gauge(r, "sentinelle_monitor_drift_score_max",
                         "Largest drift score over the evaluated stations")),
        station_alarms_(Gauge(r, "sentinelle_monitor_station_alarms_active",
                              "Open alarms of a station (capped set of stations)")),
        station_score_(Gauge(r, "sentinelle_monitor_station_drift_score",
                             "Largest drift score of a station (capped set of stations)")),
        model_versions_(Gauge(r, "sentinelle_model_versions",
                              "Registry model versions per rollout stage (archived not counted)")),
        model_stage_(Gauge(r, "sentinelle_model_stage_version",
                           "Newest registry version in a rollout stage per target, horizon "
                           "and kind")) {
    auto counter = [&](const char* name, const char* help) {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
    };
    pairs_ = counter("sentinelle_monitor_pairs_joined_total",
                     "Predictions joined with the reading of their target window");
    unmatched_ = counter("sentinelle_monitor_predictions_unmatched_total",
                         "Predictions whose target reading never came or was QC-flagged");
    excluded_ = counter("sentinelle_monitor_values_excluded_total",
                        "Reading values left out of drift (QC-flagged or missing)");
    evaluations_ = counter("sentinelle_monitor_evaluations_total", "Monitoring network passes");
    auto& retrain = prometheus::BuildCounter()
                        .Name("sentinelle_monitor_retrain_requests_total")
                        .Help("Retraining requests sent to the training jobs")
                        .Register(r);
    retrain_queued_ = &retrain.Add({{"result", "queued"}});
    retrain_refused_ = &retrain.Add({{"result", "refused"}});
    auto gauge = [&](const char* name, const char* help) {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    duration_ = gauge("sentinelle_monitor_evaluation_seconds", "Duration of the latest evaluation");
    last_ = gauge("sentinelle_monitor_last_evaluation_timestamp_seconds",
                  "Unix time of the latest evaluation");
    stations_ = gauge("sentinelle_monitor_stations", "Stations with a drift window");
    for (int k = 0; k < monitor::kAlarmKindCount; ++k) {
      const std::string kind(monitor::AlarmKindName(static_cast<AlarmKind>(k)));
      active_by_kind_[k] = &active_.Add({{"kind", kind}});
      raised_by_kind_[k] = &raised_.Add({{"kind", kind}});
      cleared_by_kind_[k] = &cleared_.Add({{"kind", kind}});
    }
  }

  using Family = prometheus::Family<prometheus::Gauge>;
  using Labels = std::map<std::string, std::string>;
  // Sets the gauges of one family for exactly these label sets; removes the rest.
  void SetAll(Family& f, const std::vector<std::pair<Labels, double>>& values) {
    auto& live = series_[&f];
    std::map<Labels, prometheus::Gauge*> next;
    for (const auto& [labels, v] : values) {
      auto it = live.find(labels);
      prometheus::Gauge* g = it != live.end() ? it->second : &f.Add(labels);
      g->Set(v);
      next[labels] = g;
    }
    for (const auto& [labels, g] : live) {
      if (!next.count(labels)) f.Remove(g);
    }
    live = std::move(next);
  }

  Family& active_;
  prometheus::Family<prometheus::Counter>& raised_;
  prometheus::Family<prometheus::Counter>& cleared_;
  Family &rmse_, &mae_, &bias_, &hit_, &samples_, &validation_, &ratio_;
  Family &drift_stations_, &psi_max_, &score_max_, &station_alarms_, &station_score_;
  Family &model_versions_, &model_stage_;
  std::array<prometheus::Gauge*, monitor::kAlarmKindCount> active_by_kind_{};
  std::array<prometheus::Counter*, monitor::kAlarmKindCount> raised_by_kind_{};
  std::array<prometheus::Counter*, monitor::kAlarmKindCount> cleared_by_kind_{};
  prometheus::Counter *pairs_, *unmatched_, *excluded_, *evaluations_, *retrain_queued_,
      *retrain_refused_;
  prometheus::Gauge *duration_, *last_, *stations_;

 private:
  static Family& Gauge(prometheus::Registry& r, const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
  }
  std::map<Family*, std::map<Labels, prometheus::Gauge*>> series_;
};

}  // namespace

struct Monitor::Impl {
  Impl(const MonitoringConfig& c, MonitorDeps d)
      : config(c),
        deps(d),
        tracker(monitor::AccuracyOptions{3600, c.accuracy_window_h, 100000}),
        book(c.alarms) {}

  const MonitoringConfig config;
  MonitorDeps deps;
  std::unique_ptr<AlarmStore> alarms;
  bool read_only = false;
  std::unique_ptr<MonitorMetrics> metrics;

  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<StationState>> stations;
  // References: per-station (station models) and the network one.
  std::map<std::string, std::shared_ptr<const MonitoredReference>> station_refs;
  std::shared_ptr<const MonitoredReference> network_ref;
  std::set<int> production_targets;
  std::string references_state;  // what they were built from, to notice changes
  std::map<int64_t, Validation> validation;
  monitor::AccuracyTracker tracker;
  monitor::AlarmBook book;
  std::map<monitor::AccuracyKey, Series> accuracy_series;
  std::map<PoolKey, Series> pooled_series;
  int64_t last_series_s = INT64_MIN;
  int64_t last_evaluation_s = 0;
  int64_t newest_reading_s = INT64_MIN;  // over all stations: the data clock
  MonitorCounters counters;
  MonitorCounters published;  // counters already added to Prometheus

  int64_t DriftSpan() const { return int64_t{config.drift_window_days} * 86400; }
  StationState& State(const std::string& id);
  void AttachReference(const std::string& id, StationState& st);
  void AddReading(StationState& st, const StoredReading& sr);
  void Calibrate(MonitoredReference& ref, const json& training, const ModelRecord& record);
  void CalibrateAccuracy(MonitoredReference& ref, std::string_view bytes, const json& training,
                         const ModelRecord& record);
  // Model version -> calibrated figures (rmse_factor, baseline_ratio, skill_factor).
  std::map<int64_t, monitor::ValidationFigures> calibrated_figures;
  // Persistence forecast of a prediction: its target's value at issue time.
  static double Baseline(const StationState& st, int64_t issued_s, Variable target);
  void AddPrediction(StationState& st, const PredictionRecord& p);
  std::optional<monitor::ValidationFigures> ValidationOf(const monitor::AccuracyKey& key);
  std::vector<Variable> TargetsOf(const std::string& feature) const;
  void RequestRetrain(const Alarm& a, const std::vector<Variable>& targets, int64_t now_s,
                      EvaluationSummary& summary);
  void Publish(int64_t now_s, double seconds);
  void PublishStages();
  json AccuracyEntry(const monitor::AccuracyKey& key, const monitor::AccuracySummary& s,
                     const Series* series, int64_t now_s);
};

StationState& Monitor::Impl::State(const std::string& id) {
  auto it = stations.find(id);
  if (it != stations.end()) return *it->second;
  auto st = std::make_unique<StationState>(DriftSpan());
  AttachReference(id, *st);
  return *stations.emplace(id, std::move(st)).first->second;
}

void Monitor::Impl::AttachReference(const std::string& id, StationState& st) {
  auto it = station_refs.find(id);
  std::shared_ptr<const MonitoredReference> ref = it != station_refs.end() ? it->second : network_ref;
  if (ref == st.ref) return;
  st.ref = ref;
  st.window.reset();
  st.latest.clear();
  if (ref && !ref->set->features.empty()) {
    st.window = std::make_unique<monitor::StationDriftWindow>(
        id, ref->set, monitor::WindowOptions{86400, config.drift_window_days});
    if (!ref->thresholds.empty()) st.window->SetThresholds(ref->thresholds);
  }
}

// Per-feature drift thresholds from the model's own training window: the
// readings of its stations (a station model: that station) are replayed
// through windows of the live length and each statistic's null quantile,
// times the margin, becomes the feature's threshold (calibrate.h). Features
// without enough null windows (e.g. the prediction streams, which readings
// do not carry) keep the configured thresholds.
void Monitor::Impl::Calibrate(MonitoredReference& ref, const json& training,
                              const ModelRecord& record) {
  if (!deps.store || !training.contains("window") || !training["window"].is_object()) return;
  const json& w = training["window"];
  auto text = [&](const char* key) -> std::string {
    return w.contains(key) && w[key].is_string() ? w[key].get<std::string>() : std::string();
  };
  const auto from = ParseUtc(text("from"));
  const auto to = ParseUtc(text("to"));
  if (!from || !to || *to <= *from) return;
  const int64_t start = std::max(*from, *to - int64_t{config.calibration_max_days} * 86400);
  std::vector<std::string> ids;
  if (record.family.kind == "station") {
    ids.push_back(record.family.station);
  } else if (training.contains("stations") && training["stations"].is_array()) {
    for (const json& id : training["stations"]) {
      if (id.is_string()) ids.push_back(id.get<std::string>());
    }
  }
  const monitor::WindowOptions wo{86400, config.drift_window_days};
  std::vector<monitor::NullSample> samples;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& id : ids) {
    auto rows = deps.store->QueryReadings(id, TimeRange{start, *to}, INT64_MAX);
    if (!rows) {
      spdlog::warn("monitor: model {} calibration: {}", record.version, rows.message());
      return;
    }
    std::vector<Reading> readings;
    readings.reserve(rows->size());
    for (StoredReading& sr : *rows) readings.push_back(std::move(sr.reading));
    std::vector<monitor::NullSample>& own = ref.null_by_station[id];
    monitor::CollectNullSamples(ref.set, readings, wo, config.drift, config.calibration, own);
    samples.resize(own.size());
    for (size_t i = 0; i < own.size(); ++i) {
      auto append = [](std::vector<double>& dst, const std::vector<double>& src) {
        dst.insert(dst.end(), src.begin(), src.end());
      };
      append(samples[i].psi, own[i].psi);
      append(samples[i].ks, own[i].ks);
      append(samples[i].js, own[i].js);
      append(samples[i].wasserstein_iqr, own[i].wasserstein_iqr);
      append(samples[i].shift, own[i].shift);
      samples[i].at.insert(samples[i].at.end(), own[i].at.begin(), own[i].at.end());
      // The classifier needs only the shifts and their times (16 bytes a window).
      for (auto* v : {&own[i].psi, &own[i].ks, &own[i].js, &own[i].wasserstein_iqr}) {
        std::vector<double>().swap(*v);
      }
    }
  }
  ref.thresholds = monitor::CalibrateThresholds(samples, config.drift.thresholds, config.calibration);
  size_t calibrated = 0;
  for (size_t i = 0; i < ref.thresholds.size(); ++i) {
    if (!ref.thresholds[i]) continue;
    ++calibrated;
    const auto& t = *ref.thresholds[i];
    spdlog::debug("monitor: model {} {} thresholds psi {:.3g} ks {:.3g} js {:.3g} w/iqr {:.3g} "
                  "shift {:.3g} ({} null windows)",
                  record.version, ref.set->features[i].name, t.psi, t.ks, t.js,
                  t.wasserstein_iqr, t.shift, samples[i].size());
  }
  spdlog::info("monitor: model {} drift thresholds calibrated for {} of {} features in {:.1f} s",
               record.version, calibrated, ref.thresholds.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// The model's expected live error: its predictions are replayed over its
// validation period (the training window from the cutoff on) from the
// stored readings, and the RMSE of every accuracy-window-long sub-window
// (one ending each day) is compared with the whole period's RMSE. The
// quantile of those ratios times the margin bounds live RMSE / validation
// RMSE for this model (monitor::RmseFactorFromWindows).
void Monitor::Impl::CalibrateAccuracy(MonitoredReference& ref, std::string_view bytes,
                                      const json& training, const ModelRecord& record) {
  if (!deps.store || !training.contains("window") || !training["window"].is_object()) return;
  const json& w = training["window"];
  auto text = [&](const char* key) -> std::string {
    return w.contains(key) && w[key].is_string() ? w[key].get<std::string>() : std::string();
  };
  const auto cutoff = ParseUtc(text("cutoff"));
  const auto to = ParseUtc(text("to"));
  const auto target = VariableFromName(record.family.target);
  if (!cutoff || !to || *to <= *cutoff || !target) return;
  std::vector<std::string> ids;
  if (record.family.kind == "station") {
    ids.push_back(record.family.station);
  } else if (training.contains("stations") && training["stations"].is_array()) {
    for (const json& id : training["stations"]) {
      if (id.is_string()) ids.push_back(id.get<std::string>());
    }
  }
  const int64_t horizon_s = int64_t{record.family.horizon_min} * 60;
  const int64_t window_s = int64_t{config.accuracy_window_h} * 3600;
  const int64_t warmup_s = 2 * 86400;  // feature lags and rolling means
  // Squared errors keyed by the predicted window's end, all stations: the
  // model's and persistence's (the value at issue time; NaN without one).
  std::vector<std::tuple<int64_t, double, double>> sq;
  std::vector<float> x;
  for (const std::string& id : ids) {
    auto loaded = predict::LoadModel(
        bytes, predict::LoadOptions{record.family.kind == "station" ? id : std::string()});
    if (!loaded) {
      spdlog::warn("monitor: model {} accuracy calibration: {}", record.version,
                   loaded.message());
      return;
    }
    auto rows = deps.store->QueryReadings(id, TimeRange{*cutoff - warmup_s, *to}, INT64_MAX);
    if (!rows) return;
    std::map<int64_t, double> actual;
    for (const StoredReading& sr : *rows) {
      if (sr.reading.valid(*target)) actual[sr.reading.window_end_s] = sr.reading.values[static_cast<int>(*target)];
    }
    predict::FeatureBuilder builder((*loaded)->meta.spec);
    x.resize(builder.Width());
    for (const StoredReading& sr : *rows) {
      if (builder.Push(sr.reading) != predict::FeatureBuilder::PushResult::kAccepted) continue;
      if (sr.reading.window_end_s < *cutoff) continue;
      const auto a = actual.find(sr.reading.window_end_s + horizon_s);
      if (a == actual.end()) continue;
      builder.Compute(x.data());
      auto y = (*loaded)->model->Predict(x.data());
      if (!y.ok() || !std::isfinite(*y)) continue;
      const double e = static_cast<double>(*y) - a->second;
      const auto now = actual.find(sr.reading.window_end_s);
      const double b = now != actual.end() ? now->second - a->second : NAN;
      sq.emplace_back(a->first, e * e, b * b);
    }
  }
  if (sq.empty()) return;
  std::sort(sq.begin(), sq.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) < std::get<0>(b);
  });
  // Sums over all pairs (model) and over the pairs with persistence (both).
  struct Sums {
    double model = 0, paired = 0, base = 0;
    int64_t n = 0, n_base = 0;
    void Add(const std::tuple<int64_t, double, double>& e, int sign) {
      model += sign * std::get<1>(e);
      n += sign;
      if (std::isfinite(std::get<2>(e))) {
        paired += sign * std::get<1>(e);
        base += sign * std::get<2>(e);
        n_base += sign;
      }
    }
    double Skill() const {
      return n_base > 0 && base > 0 ? std::sqrt(std::max(0.0, paired) / base) : NAN;
    }
  };
  Sums total;
  for (const auto& e : sq) total.Add(e, 1);
  const double overall = std::sqrt(total.model / static_cast<double>(total.n));
  const double overall_skill = total.Skill();
  // Windows (end - window_s, end], one ending at each day boundary; the
  // per-station errors are pooled (as the pooled series are).
  std::vector<double> window_rmse, window_skill;
  size_t lo = 0, hi = 0;
  Sums win;
  const int64_t first_t = std::get<0>(sq.front()), last_t = std::get<0>(sq.back());
  for (int64_t end = (first_t / 86400 + 1) * 86400 + window_s - 86400; end <= last_t + 86400;
       end += 86400) {
    while (hi < sq.size() && std::get<0>(sq[hi]) <= end) win.Add(sq[hi++], 1);
    while (lo < hi && std::get<0>(sq[lo]) <= end - window_s) win.Add(sq[lo++], -1);
    const int64_t min_n = static_cast<int64_t>(config.accuracy.min_samples * ids.size());
    if (win.n >= min_n && win.n > 0) {
      window_rmse.push_back(std::sqrt(std::max(0.0, win.model) / static_cast<double>(win.n)));
    }
    if (win.n_base >= min_n && win.n_base > 0) window_skill.push_back(win.Skill());
  }
  const auto& cal = config.accuracy_calibration;
  ref.rmse_factor = monitor::RmseFactorFromWindows(
      window_rmse, overall, cal.quantile, cal.margin, config.accuracy.rmse_factor,
      static_cast<size_t>(cal.min_windows));
  ref.baseline_ratio = overall_skill;
  ref.skill_factor = monitor::RmseFactorFromWindows(window_skill, overall_skill, cal.quantile,
                                                    cal.margin, config.accuracy.skill_factor,
                                                    static_cast<size_t>(cal.min_windows));
  spdlog::info("monitor: model {} RMSE factor {:.3g} from {} validation windows (RMSE {:.4g}); "
               "RMSE over persistence {:.3g}, skill factor {:.3g} from {} windows",
               record.version, ref.rmse_factor, window_rmse.size(), overall, ref.baseline_ratio,
               ref.skill_factor, window_skill.size());
}

double Monitor::Impl::Baseline(const StationState& st, int64_t issued_s, Variable target) {
  auto it = st.recent.find(issued_s);
  return it != st.recent.end() ? static_cast<double>(it->second[static_cast<int>(target)]) : NAN;
}

void Monitor::Impl::AddReading(StationState& st, const StoredReading& sr) {
  const Reading& r = sr.reading;
  if (st.seen.Insert(r.window_end_s) != SeenRing::Result::kNew) {
    ++counters.duplicate_readings;
    return;
  }
  if (st.window) {
    const uint64_t before = st.window->flagged_skipped();
    st.window->AddReading(r);
    counters.values_excluded += st.window->flagged_skipped() - before;
  }
  std::array<float, kVariableCount> values;
  for (int v = 0; v < kVariableCount; ++v) {
    values[v] = r.valid(static_cast<Variable>(v)) ? static_cast<float>(r.values[v]) : NAN;
  }
  st.newest_reading_s = std::max(st.newest_reading_s, r.window_end_s);
  newest_reading_s = std::max(newest_reading_s, r.window_end_s);
  st.recent[r.window_end_s] = values;
  // Predictions that were waiting for this window.
  auto [lo, hi] = st.pending.equal_range(r.window_end_s);
  for (auto it = lo; it != hi; ++it) {
    const Pending& p = it->second;
    const double actual = values[static_cast<int>(p.target)];
    monitor::AccuracyKey key{r.station_id, p.target, p.horizon_min, p.link, p.version};
    if (std::isfinite(actual) &&
        tracker.Add(key, r.window_end_s, p.value, actual, Baseline(st, p.issued_s, p.target))) {
      ++counters.pairs_joined;
    } else {
      ++counters.predictions_unmatched;
    }
  }
  st.pending.erase(lo, hi);
}

void Monitor::Impl::AddPrediction(StationState& st, const PredictionRecord& p) {
  const auto target = VariableFromName(p.target);
  if (!target || !std::isfinite(p.value) || p.model_kind == "none" || p.horizon_min <= 0) return;
  if (!st.predictions_seen
           .emplace(p.issued_s, static_cast<int>(*target), p.horizon_min,
                    p.model_kind + "/" + p.model_version)
           .second) {
    ++counters.duplicate_predictions;
    return;
  }
  const int64_t target_s = p.issued_s + int64_t{p.horizon_min} * 60;
  if (st.window && st.ref) {
    auto it = st.ref->pred_index.find({static_cast<int>(*target), p.horizon_min});
    if (it != st.ref->pred_index.end()) st.window->AddValue(it->second, target_s, p.value);
  }
  Pending pending{p.issued_s, *target, p.horizon_min, p.model_kind,
                  ParseVersion(p.model_version), p.value};
  auto r = st.recent.find(target_s);
  if (r != st.recent.end()) {
    const double actual = r->second[static_cast<int>(*target)];
    monitor::AccuracyKey key{p.station_id, pending.target, pending.horizon_min, pending.link,
                             pending.version};
    if (std::isfinite(actual) &&
        tracker.Add(key, target_s, p.value, actual, Baseline(st, p.issued_s, *target))) {
      ++counters.pairs_joined;
    } else {
      ++counters.predictions_unmatched;
    }
    return;
  }
  if (st.newest_reading_s != INT64_MIN &&
      target_s < st.newest_reading_s - config.join_lookback_s) {
    ++counters.predictions_unmatched;  // its reading is older than what is kept
    return;
  }
  st.pending.emplace(target_s, std::move(pending));
  while (st.pending.size() > static_cast<size_t>(config.max_pending_per_station)) {
    st.pending.erase(st.pending.begin());
    ++counters.pending_dropped;
  }
}

std::optional<monitor::ValidationFigures> Monitor::Impl::ValidationOf(
    const monitor::AccuracyKey& key) {
  if (key.model_version <= 0 || !deps.registry) return std::nullopt;
  auto it = validation.find(key.model_version);
  if (it == validation.end()) {
    Validation v;
    auto rec = deps.registry->Get(key.model_version);
    if (rec && *rec) {
      const json& lineage = (*rec)->lineage;
      const json m = lineage.value("metrics", json::object());
      if (m.contains("rmse") && m["rmse"].is_number()) v.rmse = m["rmse"].get<double>();
      const json per = lineage.value("metrics_per_station", json::object());
      if (per.is_object()) {
        for (const auto& [station, sm] : per.items()) {
          if (sm.is_object() && sm.contains("rmse") && sm["rmse"].is_number()) {
            v.per_station[station] = sm["rmse"].get<double>();
          }
        }
      }
    } else if (!rec) {
      return std::nullopt;  // registry unreadable now: try again next pass
    }
    it = validation.emplace(key.model_version, std::move(v)).first;
  }
  const Validation& v = it->second;
  auto ps = v.per_station.find(key.station_id);
  const double rmse = ps != v.per_station.end() ? ps->second : v.rmse;
  if (!std::isfinite(rmse) || rmse <= 0) return std::nullopt;
  monitor::ValidationFigures figures{rmse, NAN};
  if (auto f = calibrated_figures.find(key.model_version); f != calibrated_figures.end()) {
    figures.rmse_factor = f->second.rmse_factor;
    figures.baseline_ratio = f->second.baseline_ratio;
    figures.skill_factor = f->second.skill_factor;
  }
  return figures;
}

std::vector<Variable> Monitor::Impl::TargetsOf(const std::string& feature) const {
  std::string name = feature;
  if (name.rfind(kPredPrefix, 0) == 0) {
    name = name.substr(kPredPrefix.size());
    name = name.substr(0, name.find('/'));
  }
  const auto v = VariableFromName(name);
  if (v && production_targets.count(static_cast<int>(*v))) return {*v};
  // An input that is not itself a target (weather): every target uses it.
  std::vector<Variable> all;
  for (int t : production_targets) all.push_back(static_cast<Variable>(t));
  return all;
}

void Monitor::Impl::RequestRetrain(const Alarm& a, const std::vector<Variable>& targets,
                                   int64_t now_s, EvaluationSummary& summary) {
  if (!deps.jobs || read_only) return;
  for (Variable t : targets) {
    const std::string why = "monitoring: alarm " + std::to_string(a.id) + " " +
                            std::string(monitor::AlarmKindName(a.kind)) + " " + a.what;
    auto id = deps.jobs->OnAlarm(t, why, now_s);
    if (id) {
      ++counters.retrain_queued;
      summary.retrain_queued.push_back(*id);
      spdlog::info("monitor: retraining {} requested ({}): job {}", Name(t), why, *id);
    } else {
      ++counters.retrain_refused;
      summary.retrain_refused.push_back(std::string(Name(t)) + ": " + id.message());
      spdlog::info("monitor: retraining {} not started ({}): {}", Name(t), why, id.message());
    }
  }
}

json Monitor::Impl::AccuracyEntry(const monitor::AccuracyKey& key,
                                  const monitor::AccuracySummary& s, const Series* series,
                                  int64_t now_s) {
  const auto v = ValidationOf(key);
  return {{"target", std::string(Name(key.target))},
          {"horizon_min", key.horizon_min},
          {"link", key.link},
          {"model_version", key.model_version},
          {"n", s.n},
          {"rmse", Num(s.rmse)},
          {"mae", Num(s.mae)},
          {"bias", Num(s.bias)},
          {"aqi_hit_rate", Num(s.hit_rate)},
          {"validation_rmse", v ? Num(v->rmse) : json(nullptr)},
          {"series", SeriesJson(series, "rmse", std::make_pair(now_s, s.rmse))}};
}

// ---------------------------------------------------------------------------

Monitor::Monitor(std::unique_ptr<Impl> impl, MonitoringConfig config)
    : config_(std::move(config)), impl_(std::move(impl)) {}

Monitor::~Monitor() { Stop(); }

Result<std::unique_ptr<Monitor>> Monitor::Open(MonitoringConfig config, const std::string& db_path,
                                               MonitorDeps deps, bool read_only) {
  if (!deps.store) return MakeError("monitor: no store");
  if (!deps.env) deps.env = Env::Default();
  auto impl = std::make_unique<Impl>(config, deps);
  impl->read_only = read_only;
  auto alarms = AlarmStore::Open(db_path, read_only);
  if (!alarms) return MakeError("monitor alarms: " + alarms.message());
  impl->alarms = std::move(*alarms);
  auto restored = impl->alarms->LoadForRestore(static_cast<int64_t>(config.alarms.max_closed));
  if (!restored) return MakeError("monitor alarms: " + restored.message());
  // Closed ones first (oldest first), then the open ones.
  std::sort(restored->begin(), restored->end(), [](const Alarm& a, const Alarm& b) {
    return std::make_tuple(a.open(), a.id) < std::make_tuple(b.open(), b.id);
  });
  for (const Alarm& a : *restored) impl->book.Restore(a);
  if (deps.metrics) impl->metrics = std::make_unique<MonitorMetrics>(deps.metrics->registry());
  return std::unique_ptr<Monitor>(new Monitor(std::move(impl), std::move(config)));
}

Status Monitor::Start() {
  int64_t now_s = impl_->deps.env->WallMs() / 1000;
  if (config_.clock == MonitoringConfig::Clock::kData) {
    // The newest window the store holds; the wall clock when it holds none.
    auto stations = impl_->deps.store->ListStations();
    if (!stations) return MakeError("store: " + stations.message());
    int64_t newest = 0;
    for (const StationRecord& r : *stations) newest = std::max(newest, r.last_window_end_s);
    if (newest > 0) now_s = newest;
  }
  if (Status st = RefreshReferences(now_s); !st) spdlog::warn("monitor: {}", st.message());
  if (Status st = Rebuild(now_s); !st) return st;
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Monitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<int64_t> Monitor::Now() const {
  if (config_.clock == MonitoringConfig::Clock::kWall) return impl_->deps.env->WallMs() / 1000;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->newest_reading_s == INT64_MIN) return std::nullopt;
  return impl_->newest_reading_s;
}

void Monitor::Loop() {
  // The registry is checked on the wall clock (models change in real time);
  // the passes follow the monitor's clock (monitoring.clock).
  int64_t last_refresh = impl_->deps.env->WallMs() / 1000;
  std::optional<int64_t> last_eval = Now();
  std::unique_lock<std::mutex> lock(thread_mu_);
  while (!stopping_) {
    thread_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const int64_t wall_s = impl_->deps.env->WallMs() / 1000;
    const std::optional<int64_t> now_s = Now();
    if (wall_s - last_refresh >= config_.reference_refresh_s) {
      last_refresh = wall_s;
      if (Status st = RefreshReferences(now_s.value_or(wall_s)); !st) {
        spdlog::warn("monitor: {}", st.message());
      }
    }
    // On the data clock, the first readings (none at start) get a pass at once.
    if (now_s && (!last_eval || *now_s - *last_eval >= config_.evaluate_interval_s)) {
      last_eval = now_s;
      Evaluate(*now_s);
    }
    lock.lock();
  }
}

void Monitor::OnCommitted(const WriteBatch& batch) {
  if (batch.readings.empty() && batch.predictions.empty()) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (const StoredReading& sr : batch.readings) {
    impl_->AddReading(impl_->State(sr.reading.station_id), sr);
  }
  for (const PredictionRecord& p : batch.predictions) {
    impl_->AddPrediction(impl_->State(p.station_id), p);
  }
}

Result<CommitResult> MonitoredStore::Commit(const WriteBatch& batch) {
  auto result = inner_->Commit(batch);
  if (result) {
    if (Monitor* m = monitor_.load()) m->OnCommitted(batch);
  }
  return result;
}

// The registry's rollout stages as gauges (docs/MONITORING.md, "Metrics"):
// versions per stage, and per (target, horizon, kind) the newest version in
// each stage. Archived versions are not listed (their number only grows).
void Monitor::Impl::PublishStages() {
  if (!metrics || !deps.registry) return;
  using Labels = MonitorMetrics::Labels;
  std::vector<std::pair<Labels, double>> counts, newest;
  std::map<Labels, int64_t> by_family;
  for (Stage stage : {Stage::kCandidate, Stage::kShadow, Stage::kCanary, Stage::kProduction}) {
    ModelFilter f;
    f.stage = stage;
    f.limit = 100000;
    auto list = deps.registry->List(f);
    if (!list) {
      spdlog::warn("monitor: registry stages: {}", list.message());
      return;
    }
    const std::string name(StageName(stage));
    counts.emplace_back(Labels{{"stage", name}}, static_cast<double>(list->size()));
    for (const ModelRecord& r : *list) {
      int64_t& v = by_family[Labels{{"target", r.family.target},
                                    {"horizon_min", std::to_string(r.family.horizon_min)},
                                    {"kind", r.family.kind},
                                    {"stage", name}}];
      v = std::max(v, r.version);
    }
  }
  for (const auto& [labels, v] : by_family) newest.emplace_back(labels, static_cast<double>(v));
  std::lock_guard<std::mutex> lock(mu);
  metrics->SetAll(metrics->model_versions_, counts);
  metrics->SetAll(metrics->model_stage_, newest);
}

Status Monitor::RefreshReferences(int64_t now_s) {
  Impl& m = *impl_;
  if (!m.deps.registry) return Status::Ok();
  m.PublishStages();
  ModelFilter f;
  f.stage = Stage::kProduction;
  auto list = m.deps.registry->List(f);
  if (!list) return MakeError("registry: " + list.message());
  // Prediction streams and the model each reference comes from.
  std::set<std::pair<int, int>> streams;
  std::set<int> targets;
  const ModelRecord* network = nullptr;
  std::map<std::string, const ModelRecord*> per_station;
  std::string state;
  for (const ModelRecord& r : *list) {
    const auto t = VariableFromName(r.family.target);
    if (!t) continue;
    streams.emplace(static_cast<int>(*t), r.family.horizon_min);
    targets.insert(static_cast<int>(*t));
    state += std::to_string(r.version) + ";";
    if (r.family.kind == "network" && (!network || r.version > network->version)) network = &r;
    if (r.family.kind == "station") {
      auto& cur = per_station[r.family.station];
      if (!cur || r.version > cur->version) cur = &r;
    }
  }
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (state == m.references_state) return Status::Ok();
  }
  auto load = [&](const ModelRecord& r) -> std::shared_ptr<const MonitoredReference> {
    auto bytes = m.deps.registry->ReadArtifact(r.version);
    if (!bytes) {
      spdlog::warn("monitor: model {}: {}", r.version, bytes.message());
      return nullptr;
    }
    auto envelope = predict::ReadModelFile(*bytes);
    if (!envelope) {
      spdlog::warn("monitor: model {}: {}", r.version, envelope.message());
      return nullptr;
    }
    if (!envelope->training.contains("reference_histograms")) return nullptr;
    auto set = monitor::ReferenceSet::FromJson(envelope->training["reference_histograms"]);
    if (!set) {
      spdlog::warn("monitor: model {} reference histograms refused: {}", r.version,
                   set.message());
      return nullptr;
    }
    auto ref = DeriveReference(*set, r.version, streams);
    if (m.config.calibrate_drift) m.Calibrate(*ref, envelope->training, r);
    if (m.config.calibrate_accuracy) m.CalibrateAccuracy(*ref, *bytes, envelope->training, r);
    return std::shared_ptr<const MonitoredReference>(std::move(ref));
  };
  std::shared_ptr<const MonitoredReference> network_ref = network ? load(*network) : nullptr;
  std::map<std::string, std::shared_ptr<const MonitoredReference>> station_refs;
  for (const auto& [station, rec] : per_station) {
    if (auto ref = load(*rec)) station_refs[station] = ref;
  }
  std::vector<std::string> changed;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.references_state = state;
    m.network_ref = network_ref;
    auto keep = [&](const MonitoredReference& ref) {
      monitor::ValidationFigures figures;
      figures.rmse_factor = ref.rmse_factor;
      figures.baseline_ratio = ref.baseline_ratio;
      figures.skill_factor = ref.skill_factor;
      m.calibrated_figures[ref.version] = figures;
    };
    for (const auto& [id, ref] : station_refs) keep(*ref);
    if (network_ref) keep(*network_ref);
    m.station_refs = std::move(station_refs);
    m.production_targets = targets;
    for (auto& [id, st] : m.stations) {
      auto before = st->ref;
      m.AttachReference(id, *st);
      if (st->ref != before && st->window) changed.push_back(id);
    }
  }
  spdlog::info("monitor: references from {} production models ({} station references)",
               list->size(), per_station.size());
  // New windows start empty: refill them from the store.
  for (const std::string& id : changed) {
    TimeRange range{now_s - m.DriftSpan(), now_s + 1};
    auto readings = m.deps.store->QueryReadings(id, range, 2 * m.DriftSpan() / 60);
    if (!readings) return MakeError("store: " + readings.message());
    std::lock_guard<std::mutex> lock(m.mu);
    StationState& st = m.State(id);
    if (!st.window) continue;
    for (const StoredReading& sr : *readings) st.window->AddReading(sr.reading);
  }
  return Status::Ok();
}

Status Monitor::Rebuild(int64_t now_s) {
  Impl& m = *impl_;
  auto stations = m.deps.store->ListStations();
  if (!stations) return MakeError("store: " + stations.message());
  const int64_t max_rows = 2 * m.DriftSpan() / 60;  // bounded even with 1-minute windows
  for (const StationRecord& rec : *stations) {
    const std::string& id = rec.info.id;
    if (rec.last_window_end_s && rec.last_window_end_s < now_s - m.DriftSpan()) continue;
    // Up to now: what the store holds of the drift window (and no later).
    auto readings =
        m.deps.store->QueryReadings(id, TimeRange{now_s - m.DriftSpan(), now_s + 1}, max_rows);
    if (!readings) return MakeError("store: " + readings.message());
    // Predictions issued within the join window (plus the longest horizon, a day).
    auto predictions = m.deps.store->QueryPredictions(
        id, TimeRange{now_s - m.config.join_lookback_s - 86400, now_s + 1}, max_rows * 8);
    if (!predictions) return MakeError("store: " + predictions.message());
    std::lock_guard<std::mutex> lock(m.mu);
    StationState& st = m.State(id);
    // Fed in time order; the drift series of the report are rebuilt on the
    // way (one point per series step, this station's window only).
    const int64_t step = m.config.series_step_s;
    const size_t points = static_cast<size_t>(m.config.series_points);
    int64_t boundary = INT64_MIN;
    for (const StoredReading& sr : *readings) {
      const int64_t t = sr.reading.window_end_s;
      if (boundary == INT64_MIN) boundary = (FloorDiv(t, step) + 1) * step;
      while (st.window && t >= boundary && boundary <= now_s) {
        for (const monitor::FeatureDrift& f : st.window->Evaluate(boundary, m.config.drift)) {
          if (f.status == monitor::DriftStatus::kInsufficient) continue;
          Series& series = st.psi_series[f.feature];
          if (series.empty() || series.back().first < boundary) {
            PushPoint(series, boundary, f.psi, points);
          }
        }
        boundary += step;
      }
      m.AddReading(st, sr);
    }
    for (const PredictionRecord& p : *predictions) m.AddPrediction(st, p);
  }
  std::lock_guard<std::mutex> lock(m.mu);
  spdlog::info("monitor: state rebuilt for {} stations", m.stations.size());
  return Status::Ok();
}

EvaluationSummary Monitor::Evaluate(int64_t now_s) {
  Impl& m = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  EvaluationSummary summary;
  summary.at_s = now_s;
  std::map<std::string, std::pair<double, double>> coords;
  if (auto list = m.deps.store->ListStations()) {
    for (const StationRecord& r : *list) coords[r.info.id] = {r.info.latitude, r.info.longitude};
  }
  std::lock_guard<std::mutex> lock(m.mu);
  ++m.counters.evaluations;
  m.last_evaluation_s = now_s;
  // Expiry: joins given up, caches trimmed.
  const int64_t horizon = now_s - m.config.join_lookback_s;
  for (auto& [id, st] : m.stations) {
    auto end = st->pending.lower_bound(horizon);
    m.counters.predictions_unmatched += static_cast<uint64_t>(std::distance(st->pending.begin(), end));
    st->pending.erase(st->pending.begin(), end);
    st->recent.erase(st->recent.begin(), st->recent.lower_bound(horizon));
    st->predictions_seen.erase(st->predictions_seen.begin(),
                               st->predictions_seen.lower_bound(
                                   std::make_tuple(horizon - 86400, 0, 0, std::string())));
  }
  m.tracker.Prune(now_s);

  // Drift per station, then per feature across the network.
  std::map<std::string, std::vector<monitor::StationDrift>> by_feature;
  for (auto& [id, st] : m.stations) {
    if (!st->window) continue;
    st->latest = st->window->Evaluate(now_s, m.config.drift);
    const auto& calibrated = st->window->thresholds();
    bool any = false;
    for (size_t i = 0; i < st->latest.size(); ++i) {
      monitor::FeatureDrift& f = st->latest[i];
      // A prediction stream has no null distribution in the readings, so its
      // thresholds are calibrated only when the reference brings them; on the
      // configured thresholds alone a model's own output (which follows the
      // weather) reads as drift at every station. Until then its figures are
      // reported but it is not judged, and so raises no alarm.
      if (f.status != monitor::DriftStatus::kInsufficient && f.feature.rfind(kPredPrefix, 0) == 0 &&
          (i >= calibrated.size() || !calibrated[i])) {
        f.status = monitor::DriftStatus::kInsufficient;
        f.detail = "prediction stream without calibrated thresholds: figures only, not judged";
      }
      monitor::StationDrift d;
      d.station_id = id;
      auto c = coords.find(id);
      d.lat = c != coords.end() ? c->second.first : NAN;
      d.lon = c != coords.end() ? c->second.second : NAN;
      d.evaluated = f.status != monitor::DriftStatus::kInsufficient;
      d.drifting = f.status == monitor::DriftStatus::kDrift;

      d.score = f.score;
      d.figures = f;
      if (st->ref) {
        auto null = st->ref->null_by_station.find(id);
        if (null != st->ref->null_by_station.end() && i < null->second.size()) {
          d.null = &null->second[i];
        }
      }
      any = any || d.evaluated;
      by_feature[f.feature].push_back(std::move(d));
    }
    if (any) ++summary.stations_evaluated;
  }
  std::vector<Alarm> changed;
  for (const auto& [feature, list] : by_feature) {
    const auto verdict = monitor::ClassifyDrift(list, m.config.classifier, now_s);
    const bool prediction = feature.rfind(kPredPrefix, 0) == 0;
    for (size_t i = 0; i < list.size() && i < verdict.stations.size(); ++i) {
      if (!list[i].drifting) continue;
      const monitor::StationVerdict& v = verdict.stations[i];
      spdlog::debug("monitor: {} at {} drifts: verdict {} (shift {:.3g}, neighbours {} of {} "
                    "drifting, their shift {:.3g}, z {:.3g}, moved {:.3g}, bound {:.3g})",
                    feature, list[i].station_id, monitor::VerdictName(v.verdict), v.shift,
                    v.drifting_neighbours, v.neighbours, v.neighbour_shift, v.relative_z,
                    v.neighbour_moved, v.relative_bound);
    }
    for (Alarm& a : monitor::UpdateDriftAlarms(m.book, feature, list, verdict, now_s, prediction)) {
      changed.push_back(std::move(a));
    }
  }
  // Accuracy against the validation figures.
  for (Alarm& a : m.tracker.Evaluate(
           now_s, [&](const monitor::AccuracyKey& k) { return m.ValidationOf(k); },
           m.config.accuracy, m.book)) {
    changed.push_back(std::move(a));
  }
  // Accuracy alarms whose key left the window (model replaced, station
  // silent) have nothing left to be bad about: they count as good.
  std::set<std::pair<std::string, std::string>> live_keys;
  for (const auto& k : m.tracker.Keys()) live_keys.emplace(k.station_id, k.Label());
  for (const Alarm& a : m.book.Open()) {
    if (a.kind != AlarmKind::kAccuracyDegraded || live_keys.count({a.subject, a.what})) continue;
    monitor::Observation good;
    good.kind = a.kind;
    good.subject = a.subject;
    good.what = a.what;
    good.good_reason = a.what + " at " + a.subject +
                       ": no predictions of it left in the accuracy window (model replaced or "
                       "station silent)";
    Alarm out;
    if (m.book.Observe(good, now_s, &out) != monitor::AlarmBook::Change::kNone) {
      changed.push_back(std::move(out));
    }
  }
  summary.changed = changed;

  // Persist what changed and the open alarms' latest figures.
  if (!m.read_only) {
    std::vector<Alarm> rows = m.book.Open();
    for (const Alarm& a : changed) {
      if (!a.open()) rows.push_back(a);
    }
    if (Status st = m.alarms->Upsert(rows); !st) {
      spdlog::warn("monitor: alarms not persisted: {}", st.message());
    }
  }
  for (const Alarm& a : changed) {
    if (a.open()) {
      spdlog::info("monitor: alarm {} raised {} {} {}: {}", a.id, monitor::AlarmKindName(a.kind),
                   a.subject, a.what, a.reason);
    } else {
      spdlog::info("monitor: alarm {} cleared {} {} {}: {} (raised for: {})", a.id,
                   monitor::AlarmKindName(a.kind), a.subject, a.what, a.clear_reason, a.reason);
    }
  }

  // Retraining: regional drift; accuracy degraded at several stations
  // without a sensor fault. Never for a sensor fault.
  std::set<std::string> faulty;
  for (const Alarm& a : m.book.Open()) {
    if (a.kind == AlarmKind::kDriftSensorFault) faulty.insert(a.subject);
  }
  for (const Alarm& a : changed) {
    if (!a.open()) continue;
    if (a.kind == AlarmKind::kDriftRegional && m.config.retrain_on_regional_drift) {
      m.RequestRetrain(a, m.TargetsOf(a.what), now_s, summary);
    }
    if (a.kind == AlarmKind::kAccuracyDegraded && m.config.retrain_on_accuracy &&
        !faulty.count(a.subject)) {
      const std::string target = a.what.substr(0, a.what.find('/'));
      std::set<std::string> degraded;
      for (const Alarm& o : m.book.Open()) {
        if (o.kind == AlarmKind::kAccuracyDegraded && !faulty.count(o.subject) &&
            o.what.substr(0, o.what.find('/')) == target) {
          degraded.insert(o.subject);
        }
      }
      const auto t = VariableFromName(target);
      if (t && degraded.size() >= static_cast<size_t>(m.config.retrain_accuracy_min_stations)) {
        m.RequestRetrain(a, {*t}, now_s, summary);
      }
    }
  }

  // Series points for the report.
  const int64_t step = m.config.series_step_s;
  if (m.last_series_s == INT64_MIN || FloorDiv(now_s, step) > FloorDiv(m.last_series_s, step)) {
    m.last_series_s = now_s;
    const size_t points = static_cast<size_t>(m.config.series_points);
    for (auto& [id, st] : m.stations) {
      for (const monitor::FeatureDrift& f : st->latest) {
        if (f.status != monitor::DriftStatus::kInsufficient) {
          PushPoint(st->psi_series[f.feature], now_s, f.psi, points);
        }
      }
    }
    std::map<PoolKey, Pool> pools;
    for (const auto& k : m.tracker.Keys()) {
      auto s = m.tracker.Summary(k, now_s);
      if (!s || s->n == 0) continue;
      PushPoint(m.accuracy_series[k], now_s, s->rmse, points);
      pools[{std::string(Name(k.target)), k.horizon_min, k.link}].Add(*s);
    }
    for (const auto& [k, p] : pools) PushPoint(m.pooled_series[k], now_s, p.rmse(), points);
    // Series of keys gone for a whole series span are dropped.
    const int64_t oldest = now_s - step * m.config.series_points;
    std::erase_if(m.accuracy_series, [&](const auto& kv) { return kv.second.back().first < oldest; });
    std::erase_if(m.pooled_series, [&](const auto& kv) { return kv.second.back().first < oldest; });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.Publish(now_s, seconds);
  return summary;
}

void Monitor::Impl::Publish(int64_t now_s, double seconds) {
  if (!metrics) return;
  MonitorMetrics& g = *metrics;
  using Labels = MonitorMetrics::Labels;
  std::array<int, monitor::kAlarmKindCount> active{};
  std::map<std::string, int> per_station_alarms;
  for (const Alarm& a : book.Open()) {
    ++active[static_cast<int>(a.kind)];
    if (a.subject != "network") ++per_station_alarms[a.subject];
  }
  for (int k = 0; k < monitor::kAlarmKindCount; ++k) g.active_by_kind_[k]->Set(active[k]);
  auto add = [](prometheus::Counter* c, uint64_t now, uint64_t& before) {
    if (now > before) c->Increment(static_cast<double>(now - before));
    before = now;
  };
  add(g.pairs_, counters.pairs_joined, published.pairs_joined);
  add(g.unmatched_, counters.predictions_unmatched, published.predictions_unmatched);
  add(g.excluded_, counters.values_excluded, published.values_excluded);
  add(g.evaluations_, counters.evaluations, published.evaluations);
  add(g.retrain_queued_, counters.retrain_queued, published.retrain_queued);
  add(g.retrain_refused_, counters.retrain_refused, published.retrain_refused);
  g.duration_->Set(seconds);
  g.last_->Set(static_cast<double>(now_s));
  size_t with_window = 0;
  for (const auto& [id, st] : stations) with_window += st->window ? 1 : 0;
  g.stations_->Set(static_cast<double>(with_window));

  // Accuracy pooled by (target, horizon, link).
  std::map<PoolKey, Pool> pools;
  for (const auto& k : tracker.Keys()) {
    auto s = tracker.Summary(k, now_s);
    if (!s || s->n == 0) continue;
    Pool& p = pools[{std::string(Name(k.target)), k.horizon_min, k.link}];
    p.Add(*s);
    if (!p.versions.count(k.model_version)) {
      p.versions.insert(k.model_version);
      if (auto v = ValidationOf(k)) {
        p.validation_sum += v->rmse;
        ++p.validation_n;
      }
    }
  }
  std::vector<std::pair<Labels, double>> rmse, mae, bias, hit, samples, validation_v, ratio;
  for (const auto& [k, p] : pools) {
    const Labels l = {{"target", std::get<0>(k)},
                      {"horizon_min", std::to_string(std::get<1>(k))},
                      {"link", std::get<2>(k)}};
    rmse.emplace_back(l, p.rmse());
    mae.emplace_back(l, p.mae());
    bias.emplace_back(l, p.bias());
    samples.emplace_back(l, static_cast<double>(p.n));
    if (p.category_n) hit.emplace_back(l, p.hit_rate());
    if (p.validation_n) {
      validation_v.emplace_back(l, p.validation());
      ratio.emplace_back(l, p.rmse() / p.validation());
    }
  }
  g.SetAll(g.rmse_, rmse);
  g.SetAll(g.mae_, mae);
  g.SetAll(g.bias_, bias);
  g.SetAll(g.hit_, hit);
  g.SetAll(g.samples_, samples);
  g.SetAll(g.validation_, validation_v);
  g.SetAll(g.ratio_, ratio);

  // Drift by feature; per-station scores for the capped station series.
  std::map<std::string, std::array<int, 3>> verdicts;
  std::map<std::string, std::pair<double, double>> maxima;  // psi, score
  std::vector<std::pair<double, std::string>> station_scores;
  for (const auto& [id, st] : stations) {
    double best = 0;
    bool evaluated = false;
    for (const monitor::FeatureDrift& f : st->latest) {
      auto& v = verdicts[f.feature];
      ++v[static_cast<int>(f.status)];
      if (f.status == monitor::DriftStatus::kInsufficient) continue;
      evaluated = true;
      auto& mx = maxima[f.feature];
      mx.first = std::max(mx.first, f.psi);
      mx.second = std::max(mx.second, f.score);
      best = std::max(best, f.score);
    }
    if (evaluated) station_scores.emplace_back(best, id);
  }
  std::vector<std::pair<Labels, double>> by_status, psi_max, score_max;
  for (const auto& [feature, v] : verdicts) {
    for (int s = 0; s < 3; ++s) {
      by_status.emplace_back(
          Labels{{"feature", feature},
                 {"status", std::string(monitor::DriftStatusName(static_cast<monitor::DriftStatus>(s)))}},
          v[s]);
    }
    auto mx = maxima.find(feature);
    if (mx != maxima.end()) {
      psi_max.emplace_back(Labels{{"feature", feature}}, mx->second.first);
      score_max.emplace_back(Labels{{"feature", feature}}, mx->second.second);
    }
  }
  g.SetAll(g.drift_stations_, by_status);
  g.SetAll(g.psi_max_, psi_max);
  g.SetAll(g.score_max_, score_max);

  // Capped per-station series: stations with open alarms (most first),
  // and the highest drift scores; the rest under "_other".
  const size_t cap = static_cast<size_t>(config.station_series_max);
  std::vector<std::pair<int, std::string>> by_alarms;
  for (const auto& [id, n] : per_station_alarms) by_alarms.emplace_back(n, id);
  std::sort(by_alarms.rbegin(), by_alarms.rend());
  std::vector<std::pair<Labels, double>> station_alarm_values;
  double other = 0;
  for (size_t i = 0; i < by_alarms.size(); ++i) {
    if (i < cap) station_alarm_values.emplace_back(Labels{{"station", by_alarms[i].second}}, by_alarms[i].first);
    else other += by_alarms[i].first;
  }
  if (by_alarms.size() > cap) station_alarm_values.emplace_back(Labels{{"station", "_other"}}, other);
  g.SetAll(g.station_alarms_, station_alarm_values);
  std::sort(station_scores.rbegin(), station_scores.rend());
  std::vector<std::pair<Labels, double>> station_score_values;
  double other_max = 0;
  for (size_t i = 0; i < station_scores.size(); ++i) {
    if (i < cap) station_score_values.emplace_back(Labels{{"station", station_scores[i].second}}, station_scores[i].first);
    else other_max = std::max(other_max, station_scores[i].first);
  }
  if (station_scores.size() > cap) station_score_values.emplace_back(Labels{{"station", "_other"}}, other_max);
  g.SetAll(g.station_score_, station_score_values);
}

void Monitor::TEST_SetReference(const monitor::ReferenceSet& reference,
                                const std::vector<std::pair<Variable, int>>& streams) {
  Impl& m = *impl_;
  std::set<std::pair<int, int>> s;
  std::lock_guard<std::mutex> lock(m.mu);
  m.production_targets.clear();
  for (const auto& [t, h] : streams) {
    s.emplace(static_cast<int>(t), h);
    m.production_targets.insert(static_cast<int>(t));
  }
  m.references_state = "test";
  m.network_ref = DeriveReference(reference, 1, s);
  m.station_refs.clear();
  for (auto& [id, st] : m.stations) m.AttachReference(id, *st);
}

// ---------------------------------------------------------------------------
// Views.

std::vector<Alarm> Monitor::OpenAlarms() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->book.Open();
}

MonitorCounters Monitor::counters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counters;
}

size_t Monitor::StationCount() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stations.size();
}

Result<json> Monitor::AlarmsJson(const std::optional<std::string>& station,
                                 std::optional<bool> active, int64_t limit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto rows = impl_->alarms->Query(station, active, INT64_MIN, limit);
  if (!rows) return rows.error();
  json list = json::array();
  for (const Alarm& a : *rows) list.push_back(monitor::AlarmToJson(a));
  return list;
}

json Monitor::AccuracyJson(const std::optional<std::string>& station, int64_t now_s) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  json list = json::array();
  for (const auto& k : m.tracker.Keys()) {
    if (station && k.station_id != *station) continue;
    auto s = m.tracker.Summary(k, now_s);
    if (!s) continue;
    auto series = m.accuracy_series.find(k);
    json e = m.AccuracyEntry(k, *s, series != m.accuracy_series.end() ? &series->second : nullptr,
                             now_s);
    e["station"] = k.station_id;
    list.push_back(std::move(e));
  }
  return list;
}

namespace {

// `at_s`: when st.latest was evaluated (its PSI ends the series).
json DriftEntries(const StationState& st, int64_t at_s) {
  json list = json::array();
  for (const monitor::FeatureDrift& f : st.latest) {
    auto series = st.psi_series.find(f.feature);
    std::optional<std::pair<int64_t, double>> now;
    if (f.status != monitor::DriftStatus::kInsufficient) now = std::make_pair(at_s, f.psi);
    list.push_back({{"feature", f.feature},
                    {"psi", Num(f.psi)},
                    {"ks", Num(f.ks)},
                    {"wasserstein", Num(f.wasserstein)},
                    {"js", Num(f.js)},
                    {"shift", Num(f.shift)},
                    {"score", Num(f.score)},
                    {"votes", f.votes},
                    {"window_count", f.window_count},
                    {"status", std::string(monitor::DriftStatusName(f.status))},
                    {"detail", f.detail},
                    {"series", SeriesJson(series != st.psi_series.end() ? &series->second : nullptr,
                                          "psi", now)}});
  }
  return list;
}

}  // namespace

json Monitor::DriftJson(const std::optional<std::string>& station) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  json list = json::array();
  for (const auto& [id, st] : m.stations) {
    if (station && id != *station) continue;
    list.push_back({{"station", id},
                    {"reference_version", st->ref ? json(st->ref->version) : json(nullptr)},
                    {"features", DriftEntries(*st, m.last_evaluation_s)}});
  }
  return list;
}

Result<json> Monitor::Report(const std::optional<std::string>& station, int64_t now_s) {
  Impl& m = *impl_;
  std::vector<std::string> ids;
  if (station) {
    auto rec = m.deps.store->GetStation(*station);
    if (!rec) return MakeError("store: " + rec.message());
    if (!*rec) return MakeError("unknown station " + *station);
    ids.push_back(*station);
  } else {
    auto list = m.deps.store->ListStations();
    if (!list) return MakeError("store: " + list.message());
    for (const StationRecord& r : *list) ids.push_back(r.info.id);
  }
  const int64_t from_s = now_s - m.DriftSpan();
  std::lock_guard<std::mutex> lock(m.mu);
  auto alarms = m.alarms->Query(station, std::nullopt, from_s, 100000);
  if (!alarms) return MakeError("alarms: " + alarms.message());
  std::map<std::string, json> by_station;
  json network_alarms = json::array();
  for (const Alarm& a : *alarms) {
    if (a.subject == "network" || !station) network_alarms.push_back(monitor::AlarmToJson(a));
    if (a.subject != "network") by_station[a.subject].push_back(monitor::AlarmToJson(a));
  }
  std::map<std::string, json> accuracy;
  std::map<PoolKey, Pool> pools;
  for (const auto& k : m.tracker.Keys()) {
    auto s = m.tracker.Summary(k, now_s);
    if (!s || s->n == 0) continue;
    Pool& p = pools[{std::string(Name(k.target)), k.horizon_min, k.link}];
    p.Add(*s);
    p.versions.insert(k.model_version);
    if (station && k.station_id != *station) continue;
    auto series = m.accuracy_series.find(k);
    accuracy[k.station_id].push_back(
        m.AccuracyEntry(k, *s, series != m.accuracy_series.end() ? &series->second : nullptr,
                        now_s));
  }
  json stations = json::array();
  for (const std::string& id : ids) {
    json health = nullptr;
    if (m.deps.health) {
      const int64_t open = m.deps.ledger ? m.deps.ledger->OpenGapCount(id) : 0;
      if (auto h = m.deps.health->Get(id, now_s * 1000, open)) {
        health = std::string(HealthStateName(h->state));
      }
    }
    auto st = m.stations.find(id);
    stations.push_back(
        {{"id", id},
         {"health", health},
         {"alarms", by_station.count(id) ? by_station[id] : json::array()},
         {"accuracy", accuracy.count(id) ? accuracy[id] : json::array()},
         {"drift", st != m.stations.end() ? DriftEntries(*st->second, m.last_evaluation_s)
                                          : json::array()}});
  }
  json pooled = json::array();
  for (const auto& [k, p] : pools) {
    auto series = m.pooled_series.find(k);
    const int64_t version = p.versions.size() == 1 ? *p.versions.begin() : 0;
    pooled.push_back({{"target", std::get<0>(k)},
                      {"horizon_min", std::get<1>(k)},
                      {"link", std::get<2>(k)},
                      {"model_version", version},
                      {"n", p.n},
                      {"rmse", Num(p.rmse())},
                      {"mae", Num(p.mae())},
                      {"bias", Num(p.bias())},
                      {"aqi_hit_rate", Num(p.hit_rate())},
                      {"validation_rmse", nullptr},
                      {"series", SeriesJson(series != m.pooled_series.end() ? &series->second
                                                                            : nullptr,
                                            "rmse", std::make_pair(now_s, p.rmse()))}});
    const auto target = VariableFromName(std::get<0>(k));
    if (version > 0 && target) {
      if (auto v = m.ValidationOf({"", *target, std::get<1>(k), std::get<2>(k), version})) {
        pooled.back()["validation_rmse"] = Num(v->rmse);
      }
    }
  }
  return json{{"generated", FormatUtc(now_s)},
              {"scope", station ? "station" : "network"},
              {"window", {{"from", FormatUtc(from_s)}, {"to", FormatUtc(now_s)}}},
              {"stations", stations},
              {"network", {{"alarms", network_alarms}, {"accuracy", pooled}}}};
}

}  // namespace sentinelle::collector
