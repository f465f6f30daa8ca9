#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <unordered_map>

#include "sentinelle/collector/training.h"
#include "sentinelle/crypto.h"
#include "sentinelle/monitor/histogram.h"
#include "sentinelle/predict/linear_model.h"
#include "sentinelle/predict/persistence.h"
#include "sentinelle/xgboost/xgb_booster.h"

namespace sentinelle::collector {

using predict::DenseMatrix;
using predict::FeatureSpec;
using predict::ModelKind;
using predict::ModelScope;
using predict::TrainingSet;

nlohmann::json FitMetrics::ToJson() const {
  return {{"rows", rows},
          {"rmse", rmse},
          {"mae", mae},
          {"r2", r2},
          {"persistence_rows", persistence_rows},
          {"persistence_rmse", persistence_rmse},
          {"model_rmse_on_persistence_rows", model_rmse_on_persistence_rows},
          {"skill", skill}};
}

FitMetrics ComputeFitMetrics(const std::vector<float>& actual, const std::vector<float>& predicted,
                             const std::vector<double>& persistence) {
  FitMetrics m;
  const size_t n = std::min(actual.size(), predicted.size());
  if (n == 0) return m;
  double se = 0, ae = 0, sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(predicted[i]) - actual[i];
    se += e * e;
    ae += std::abs(e);
    sum += actual[i];
  }
  const double mean = sum / static_cast<double>(n);
  double ss_tot = 0;
  for (size_t i = 0; i < n; ++i) ss_tot += (actual[i] - mean) * (actual[i] - mean);
  m.rows = static_cast<int64_t>(n);
  m.rmse = std::sqrt(se / static_cast<double>(n));
  m.mae = ae / static_cast<double>(n);
  m.r2 = ss_tot > 0 ? 1.0 - se / ss_tot : 0.0;
  double pse = 0, mse = 0;
  int64_t pn = 0;
  for (size_t i = 0; i < n && i < persistence.size(); ++i) {
    if (std::isnan(persistence[i])) continue;
    const double pe = persistence[i] - actual[i];
    const double e = static_cast<double>(predicted[i]) - actual[i];
    pse += pe * pe;
    mse += e * e;
    ++pn;
  }
  m.persistence_rows = pn;
  if (pn > 0) {
    m.persistence_rmse = std::sqrt(pse / static_cast<double>(pn));
    m.model_rmse_on_persistence_rows = std::sqrt(mse / static_cast<double>(pn));
    m.skill = m.persistence_rmse > 0 ? 1.0 - m.model_rmse_on_persistence_rows / m.persistence_rmse
                                     : 0.0;
  }
  return m;
}

std::map<int64_t, double> PersistenceForecasts(const std::vector<Reading>& history,
                                               Variable target, int horizon_min, int64_t from_s) {
  std::vector<const Reading*> sorted;
  sorted.reserve(history.size());
  for (const Reading& r : history) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Reading* a, const Reading* b) {
    return a->window_end_s < b->window_end_s;
  });
  predict::SeasonalProfile profile;
  std::map<int64_t, double> out;
  double last = kMissingValue;
  int64_t last_time = 0;
  for (const Reading* r : sorted) {
    profile.Add(*r);
    if (r->valid(target)) {
      last = r->value(target);
      last_time = r->window_end_s;
    }
    if (r->window_end_s < from_s) continue;
    predict::PersistenceInputs in;
    in.last_value = last;
    in.last_time_s = last_time;
    in.now_s = r->window_end_s;
    in.target_time_s = r->window_end_s + int64_t{horizon_min} * 60;
    out[r->window_end_s] = predict::SeasonalPersistence(profile, target, in);
  }
  return out;
}

namespace {

// One station's rows for one target/horizon, split at the cutoff.
struct StationRows {
  std::string station;
  TrainingSet train;
  TrainingSet val;
  std::vector<double> val_persistence;
};

// Feature rows of every window of one station, computed once and shared by
// all targets and horizons (the features do not depend on them): the same
// FeatureBuilder pass as predict::BuildTrainingMatrix, which only differs in
// keeping the rows whose label exists.
struct StationFeatures {
  DenseMatrix X;
  std::vector<int64_t> window_end_s;
};

StationFeatures ComputeFeatures(std::vector<Reading>& history, const FeatureSpec& spec) {
  std::stable_sort(history.begin(), history.end(), [](const Reading& a, const Reading& b) {
    return a.window_end_s < b.window_end_s;
  });
  predict::FeatureBuilder builder(spec);
  StationFeatures f;
  f.X = DenseMatrix(0, builder.Width());
  f.X.data.reserve(history.size() * builder.Width());
  f.window_end_s.reserve(history.size());
  std::vector<float> row(builder.Width());
  for (const Reading& r : history) {
    if (builder.Push(r) != predict::FeatureBuilder::PushResult::kAccepted) continue;
    builder.Compute(row.data());
    f.X.AppendRow(row.data(), row.size());
    f.window_end_s.push_back(r.window_end_s);
  }
  return f;
}

// The time-ordered split of one station's rows for (target, horizon),
// straight from the shared feature rows: a row is labelled when the target
// is valid at t + horizon (as in BuildTrainingMatrix), then goes to train or
// validation as SplitByTime decides.
void SplitLabelled(const StationFeatures& f, const std::vector<Reading>& history, Variable target,
                   int horizon_min, int64_t cutoff_s, TrainingSet& train, TrainingSet& val) {
  std::unordered_map<int64_t, float> target_at;
  target_at.reserve(history.size());
  for (const Reading& r : history) {
    if (r.valid(target)) target_at.emplace(r.window_end_s, static_cast<float>(r.value(target)));
  }
  const int64_t ahead_s = int64_t{horizon_min} * 60;
  train.X = DenseMatrix(0, f.X.cols);
  val.X = DenseMatrix(0, f.X.cols);
  for (size_t i = 0; i < f.X.rows; ++i) {
    const int64_t t = f.window_end_s[i];
    auto it = target_at.find(t + ahead_s);
    if (it == target_at.end()) continue;
    TrainingSet* dst = nullptr;
    if (t + ahead_s < cutoff_s) dst = &train;
    else if (t >= cutoff_s) dst = &val;
    if (!dst) continue;
    dst->X.AppendRow(f.X.row(i), f.X.cols);
    dst->y.push_back(it->second);
    dst->window_end_s.push_back(t);
  }
}

void AppendRows(TrainingSet& dst, const TrainingSet& src) {
  if (src.X.rows == 0) return;
  if (dst.X.rows == 0) dst.X.cols = src.X.cols;
  dst.X.data.insert(dst.X.data.end(), src.X.data.begin(), src.X.data.end());
  dst.X.rows += src.X.rows;
  dst.y.insert(dst.y.end(), src.y.begin(), src.y.end());
  dst.window_end_s.insert(dst.window_end_s.end(), src.window_end_s.begin(),
                          src.window_end_s.end());
}

}  // namespace

void SplitByTime(const TrainingSet& all, int64_t cutoff_s, int horizon_min, TrainingSet& train,
                 TrainingSet& val) {
  train.X = DenseMatrix(0, all.X.cols);
  val.X = DenseMatrix(0, all.X.cols);
  for (size_t i = 0; i < all.X.rows; ++i) {
    const int64_t t = all.window_end_s[i];
    TrainingSet* dst = nullptr;
    if (t + int64_t{horizon_min} * 60 < cutoff_s) dst = &train;
    else if (t >= cutoff_s) dst = &val;
    if (!dst) continue;
    dst->X.data.insert(dst->X.data.end(), all.X.row(i), all.X.row(i) + all.X.cols);
    ++dst->X.rows;
    dst->y.push_back(all.y[i]);
    dst->window_end_s.push_back(t);
  }
}

namespace {

std::vector<float> PredictRows(const std::function<float(const float*)>& f, const DenseMatrix& X) {
  std::vector<float> out(X.rows);
  for (size_t i = 0; i < X.rows; ++i) out[i] = f(X.row(i));
  return out;
}

// Reference histograms of the training inputs for the drift monitor
// (monitor::ReferenceSet, docs/MONITORING.md "Reference histograms"): one
// entry per feature of the specification, context bands from each row's
// window end. At most ~50,000 evenly spaced rows feed the quantiles, which
// bounds memory on a year of network rows without moving the edges much.
Result<nlohmann::json> ReferenceHistograms(const FeatureSpec& spec, const TrainingSet& train) {
  const std::vector<std::string> names = spec.Names();
  const size_t stride = std::max<size_t>(1, train.X.rows / 50000);
  // Features never present in the training rows have no reference (the
  // monitor treats an absent feature as not monitored).
  std::vector<size_t> present;
  std::vector<std::string> present_names;
  for (size_t c = 0; c < train.X.cols && c < names.size(); ++c) {
    for (size_t r = 0; r < train.X.rows; r += stride) {
      if (!std::isnan(train.X.row(r)[c])) {
        present.push_back(c);
        present_names.push_back(names[c]);
        break;
      }
    }
  }
  if (present.empty()) return MakeError("no feature has a value");
  monitor::ReferenceBuilder builder(present_names);
  std::vector<double> row(present.size());
  for (size_t r = 0; r < train.X.rows; r += stride) {
    const float* x = train.X.row(r);
    for (size_t k = 0; k < present.size(); ++k) row[k] = x[present[k]];
    builder.AddRow(train.window_end_s[r], row);
  }
  auto set = builder.Build();
  if (!set) return set.error();
  return set->ToJson();
}

nlohmann::json XgbParamsJson(const XgbTrainingParams& p) {
  return {{"objective", "reg:squarederror"}, {"tree_method", p.tree_method},
          {"max_depth", p.max_depth},         {"eta", p.eta},
          {"num_rounds", p.num_rounds},       {"early_stopping_rounds", p.early_stopping_rounds},
          {"subsample", p.subsample},         {"colsample_bytree", p.colsample_bytree},
          {"min_child_weight", p.min_child_weight}, {"lambda", p.lambda},
          {"nthread", p.nthread}, {"max_bin", p.max_bin}};
}

}  // namespace

Trainer::Trainer(TrainingConfig config, HistoryStore* store, Env* env)
    : config_(std::move(config)), store_(store), env_(env) {}

Result<std::vector<TrainedModel>> Trainer::Run(const TrainRequest& request,
                                               const ProgressFn& progress,
                                               const std::atomic<bool>* cancel,
                                               std::vector<std::string>* skipped) {
  const std::vector<Variable> targets = request.targets.empty() ? config_.targets : request.targets;
  const std::vector<int> horizons =
      request.horizons_min.empty() ? config_.horizons_min : request.horizons_min;
  if (targets.empty() || horizons.empty()) return MakeError("no target or horizon to train");

  // Stations and the data window.
  std::vector<std::string> stations = request.stations;
  int64_t newest = 0;
  {
    auto listed = store_->ListStations();
    if (!listed) return MakeError("store: " + listed.message());
    for (const StationRecord& rec : *listed) {
      const bool wanted = request.stations.empty() ||
                          std::find(stations.begin(), stations.end(), rec.info.id) != stations.end();
      if (!wanted) continue;
      if (request.stations.empty() && rec.reading_count > 0) stations.push_back(rec.info.id);
      newest = std::max(newest, rec.last_window_end_s);
    }
  }
  std::sort(stations.begin(), stations.end());
  stations.erase(std::unique(stations.begin(), stations.end()), stations.end());
  if (stations.empty()) return MakeError("no station with stored readings");
  const int64_t to_s = request.to_s ? *request.to_s : newest + 1;
  int64_t from_s = to_s - int64_t{config_.history_days} * 86400;

  std::map<std::string, std::vector<Reading>> history;
  int64_t first = INT64_MAX;
  int interval_s = 300;
  for (const std::string& st : stations) {
    auto rows = store_->QueryReadings(st, TimeRange{from_s, to_s}, INT64_MAX);
    if (!rows) return MakeError("store: " + rows.message());
    auto& h = history[st];
    h.reserve(rows->size());
    for (StoredReading& sr : *rows) h.push_back(std::move(sr.reading));
    if (!h.empty()) {
      first = std::min(first, h.front().window_end_s);
      interval_s = h.back().interval_s;
    }
  }
  if (first == INT64_MAX) return MakeError("no readings in the data window");
  from_s = std::max(from_s, first);
  const int64_t cutoff_s =
      from_s + static_cast<int64_t>((1.0 - config_.validation_fraction) *
                                    static_cast<double>(to_s - from_s));
  const FeatureSpec spec = FeatureSpec::ForTargets(targets, interval_s);
  if (Status st = spec.Validate(); !st) return MakeError("feature spec: " + st.message());
  for (int horizon : horizons) {
    if (auto steps = predict::HorizonSteps(spec.interval_s, horizon); !steps) {
      return MakeError("horizon " + std::to_string(horizon) + ": " + steps.message());
    }
  }
  // Features once per station for every target and horizon.
  std::map<std::string, StationFeatures> features;
  for (const std::string& st : stations) features[st] = ComputeFeatures(history[st], spec);
  const uint64_t seed = request.seed.value_or(config_.seed);
  const std::string xgb_version = xgb::LibraryVersion();
  const int64_t trained_until_s = to_s - 1;
  const bool station_models = request.station_models && config_.station_models;

  TrainProgress prog;
  prog.total = static_cast<int>(targets.size() * horizons.size() *
                                ((request.network ? 1 : 0) + (station_models ? stations.size() : 0)));
  std::vector<TrainedModel> out;
  auto note_skip = [&](const std::string& what) {
    if (skipped) skipped->push_back(what);
  };

  for (Variable target : targets) {
    for (int horizon : horizons) {
      const std::string label = std::string(Name(target)) + "/" + std::to_string(horizon);
      std::vector<StationRows> rows;
      for (const std::string& st : stations) {
        StationRows sr;
        sr.station = st;
        SplitLabelled(features[st], history[st], target, horizon, cutoff_s, sr.train, sr.val);
        const auto pers = PersistenceForecasts(history[st], target, horizon, cutoff_s);
        sr.val_persistence.reserve(sr.val.X.rows);
        for (int64_t t : sr.val.window_end_s) {
          auto it = pers.find(t);
          sr.val_persistence.push_back(it == pers.end() ? kMissingValue : it->second);
        }
        rows.push_back(std::move(sr));
      }

      // Trains one boosted model and its linear fallback on the rows of `members`.
      auto fit = [&](ModelScope scope, const std::vector<const StationRows*>& members) -> Status {
        if (cancel && cancel->load()) return MakeError("cancelled");
        const std::string name =
            label + " " + (scope == ModelScope::kNetwork ? std::string("network") : members[0]->station);
        prog.step = name;
        if (progress) progress(prog);
        TrainingSet train, val;
        std::vector<double> val_pers;
        std::vector<std::string> seen;
        for (const StationRows* m : members) {
          AppendRows(train, m->train);
          AppendRows(val, m->val);
          val_pers.insert(val_pers.end(), m->val_persistence.begin(), m->val_persistence.end());
          if (m->train.X.rows + m->val.X.rows > 0) seen.push_back(m->station);
        }
        ++prog.done;
        if (train.X.rows < static_cast<size_t>(config_.min_train_rows) ||
            val.X.rows < static_cast<size_t>(config_.min_validation_rows)) {
          note_skip(name + ": " + std::to_string(train.X.rows) + " training and " +
                    std::to_string(val.X.rows) + " validation rows");
          return Status::Ok();
        }
        if (request.TEST_shuffle_train_labels) {
          std::mt19937_64 rng(seed);
          std::shuffle(train.y.begin(), train.y.end(), rng);
        }
        auto built = ReferenceHistograms(spec, train);
        if (!built) return MakeError(name + " reference histograms: " + built.message());
        nlohmann::json reference = std::move(*built);
        auto per_station = [&](const std::function<std::vector<float>(const DenseMatrix&)>& f) {
          std::map<std::string, FitMetrics> res;
          for (const StationRows* m : members) {
            if (m->val.X.rows == 0) continue;
            res[m->station] = ComputeFitMetrics(m->val.y, f(m->val.X), m->val_persistence);
          }
          return res;
        };
        auto base = [&](ModelKind kind) {
          TrainedModel tm;
          tm.kind = kind;
          tm.scope = scope;
          tm.station = scope == ModelScope::kStation ? members[0]->station : "";
          tm.target = target;
          tm.horizon_min = horizon;
          tm.spec = spec;
          tm.train_rows = static_cast<int64_t>(train.X.rows);
          tm.validation_rows = static_cast<int64_t>(val.X.rows);
          tm.window_from_s = from_s;
          tm.window_to_s = to_s;
          tm.cutoff_s = cutoff_s;
          tm.stations = seen;
          tm.reference = reference;
          return tm;
        };
        auto gate = [&](TrainedModel& tm) {
          tm.gate_passed = tm.overall.persistence_rows > 0 && tm.overall.skill > config_.min_skill;
          char buf[200];
          std::snprintf(buf, sizeof buf, "skill %.4f vs seasonal persistence (RMSE %.4g vs %.4g) %s %.4f",
                        tm.overall.skill, tm.overall.model_rmse_on_persistence_rows,
                        tm.overall.persistence_rmse, tm.gate_passed ? ">" : "<=", config_.min_skill);
          tm.gate_reason = tm.overall.persistence_rows > 0 ? buf : "persistence never answered";
        };
        auto request_for = [&](const TrainedModel& tm, nlohmann::json training) {
          predict::ModelFileRequest r;
          r.scope = tm.scope;
          r.station = tm.station;
          r.target = target;
          r.horizon_min = horizon;
          r.trained_until_s = trained_until_s;
          r.spec = spec;
          training["metrics"] = tm.overall.ToJson();
          training["window"] = {{"from", FormatUtc(from_s)}, {"to", FormatUtc(to_s)},
                                {"cutoff", FormatUtc(cutoff_s)}};
          training["train_rows"] = tm.train_rows;
          training["validation_rows"] = tm.validation_rows;
          training["stations"] = tm.stations;
          training["reference_histograms"] = tm.reference;
          r.training = std::move(training);
          return r;
        };

        // Boosted model.
        xgb::TrainParams p;
        p.tree_method = config_.xgb.tree_method;
        p.max_depth = config_.xgb.max_depth;
        p.eta = config_.xgb.eta;
        p.num_rounds = config_.xgb.num_rounds;
        p.subsample = config_.xgb.subsample;
        p.colsample_bytree = config_.xgb.colsample_bytree;
        p.min_child_weight = config_.xgb.min_child_weight;
        p.lambda = config_.xgb.lambda;
        p.nthread = config_.xgb.nthread;
        p.max_bin = config_.xgb.max_bin;
        auto trained = xgb::TrainXgb(p, train.X, train.y, &val.X, &val.y,
                                     config_.xgb.early_stopping_rounds, seed,
                                     predict::XgbEncoding::kUbjson);
        if (!trained) return MakeError(name + ": " + trained.message());
        auto booster = xgb::Booster::Load(trained->bytes);
        if (!booster) return MakeError(name + ": " + booster.message());
        auto val_pred = booster->PredictDense(val.X.data.data(), val.X.rows, val.X.cols);
        if (!val_pred) return MakeError(name + ": " + val_pred.message());
        std::vector<predict::GoldenPair> golden;
        bool golden_failed = false;
        golden = predict::MakeGoldenPairs(train.X, 8, [&](const float* x) {
          auto y = booster->PredictRow(x, train.X.cols);
          if (!y) golden_failed = true;
          return y ? *y : 0.0f;
        });
        if (golden_failed) return MakeError(name + ": reference prediction failed");
        {
          TrainedModel tm = base(ModelKind::kXgboost);
          tm.rounds = trained->rounds;
          tm.xgboost_version = xgb_version;
          tm.hyperparameters = XgbParamsJson(config_.xgb);
          tm.hyperparameters["seed"] = seed;
          tm.overall = ComputeFitMetrics(val.y, *val_pred, val_pers);
          tm.per_station = per_station([&](const DenseMatrix& X) {
            auto y = booster->PredictDense(X.data.data(), X.rows, X.cols);
            return y ? std::move(*y) : std::vector<float>(X.rows, NAN);
          });
          gate(tm);
          tm.booster_sha256 = Sha256Hex(trained->bytes);
          nlohmann::json training = {{"rows", train.X.rows},
                                     {"rounds", trained->rounds},
                                     {"validation_rmse", trained->validation_rmse},
                                     {"seed", seed},
                                     {"params", tm.hyperparameters},
                                     {"xgboost_version", xgb_version}};
          auto req = std::make_shared<predict::ModelFileRequest>(request_for(tm, training));
          auto bytes = std::make_shared<const std::string>(std::move(trained->bytes));
          auto pairs = std::make_shared<const std::vector<predict::GoldenPair>>(std::move(golden));
          tm.write = [req, bytes, pairs](const std::string& version,
                                         int64_t created_at_s) -> Result<std::string> {
            predict::ModelFileRequest r = *req;
            r.version = version;
            r.created_at_s = created_at_s;
            predict::ModelEnvelope e = predict::EnvelopeFor(r);
            e.kind = ModelKind::kXgboost;
            e.encoding = std::string(predict::XgbEncodingName(predict::XgbEncoding::kUbjson));
            e.booster = *bytes;
            e.self_test = *pairs;
            return predict::WriteModelFile(e);
          };
          out.push_back(std::move(tm));
        }

        // Linear fallback on the same rows.
        if (request.linear) {
          auto ridge = predict::FitRidge(train.X, train.y, config_.linear_lambda);
          if (!ridge) return MakeError(name + " linear: " + ridge.message());
          auto model = std::make_shared<const predict::LinearModel>(std::move(*ridge));
          auto f = [model](const float* x) { return static_cast<float>(model->Predict(x)); };
          TrainedModel tm = base(ModelKind::kLinear);
          tm.hyperparameters = {{"lambda", config_.linear_lambda}};
          tm.overall = ComputeFitMetrics(val.y, PredictRows(f, val.X), val_pers);
          tm.per_station = per_station([&](const DenseMatrix& X) { return PredictRows(f, X); });
          gate(tm);
          const std::string weights = model->ToJson().dump();
          tm.booster_sha256 = Sha256Hex(weights);
          auto pairs = std::make_shared<const std::vector<predict::GoldenPair>>(
              predict::MakeGoldenPairs(train.X, 8, f));
          auto req = std::make_shared<predict::ModelFileRequest>(
              request_for(tm, {{"rows", train.X.rows}, {"lambda", config_.linear_lambda}}));
          tm.write = [req, weights, pairs](const std::string& version,
                                           int64_t created_at_s) -> Result<std::string> {
            predict::ModelFileRequest r = *req;
            r.version = version;
            r.created_at_s = created_at_s;
            predict::ModelEnvelope e = predict::EnvelopeFor(r);
            e.kind = ModelKind::kLinear;
            e.encoding = "linear";
            e.booster = weights;
            e.self_test = *pairs;
            return predict::WriteModelFile(e);
          };
          out.push_back(std::move(tm));
        }
        return Status::Ok();
      };

      if (request.network) {
        std::vector<const StationRows*> all;
        for (const auto& r : rows) all.push_back(&r);
        if (Status st = fit(ModelScope::kNetwork, all); !st) return st.error();
      }
      if (station_models) {
        for (const auto& r : rows) {
          if (Status st = fit(ModelScope::kStation, {&r}); !st) return st.error();
        }
      }
    }
  }
  (void)env_;
  return out;
}

}  // namespace sentinelle::collector
