#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <thread>
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

// The rows one model trains and validates on: the time-ordered split of its
// stations' rows for (target, horizon), appended station after station, with
// each station's range of validation rows and the seasonal persistence
// forecast of every validation row.
struct FitRows {
  TrainingSet train, val;
  std::vector<double> val_persistence;
  struct Member {
    std::string station;
    size_t val_begin = 0, val_end = 0;
  };
  std::vector<Member> members;
  std::vector<std::string> seen;  // stations with at least one row
};

// Appends one station's rows straight from its shared feature rows: a row is
// labelled when the target is valid at t + horizon (as in
// BuildTrainingMatrix), then goes to train or validation as SplitByTime
// decides. Reads `history` and `f` only (safe from several threads).
void AppendStation(const std::string& station, const StationFeatures& f,
                   const std::vector<Reading>& history, Variable target, int horizon_min,
                   int64_t cutoff_s, FitRows& out) {
  std::unordered_map<int64_t, float> target_at;
  target_at.reserve(history.size());
  for (const Reading& r : history) {
    if (r.valid(target)) target_at.emplace(r.window_end_s, static_cast<float>(r.value(target)));
  }
  const int64_t ahead_s = int64_t{horizon_min} * 60;
  if (out.train.X.rows == 0) out.train.X.cols = f.X.cols;
  if (out.val.X.rows == 0) out.val.X.cols = f.X.cols;
  FitRows::Member member{station, out.val.X.rows, out.val.X.rows};
  const size_t train_before = out.train.X.rows;
  for (size_t i = 0; i < f.X.rows; ++i) {
    const int64_t t = f.window_end_s[i];
    auto it = target_at.find(t + ahead_s);
    if (it == target_at.end()) continue;
    TrainingSet* dst = nullptr;
    if (t + ahead_s < cutoff_s) dst = &out.train;
    else if (t >= cutoff_s) dst = &out.val;
    if (!dst) continue;
    dst->X.AppendRow(f.X.row(i), f.X.cols);
    dst->y.push_back(it->second);
    dst->window_end_s.push_back(t);
  }
  member.val_end = out.val.X.rows;
  if (member.val_end > member.val_begin) {
    const auto pers = PersistenceForecasts(history, target, horizon_min, cutoff_s);
    for (size_t i = member.val_begin; i < member.val_end; ++i) {
      auto it = pers.find(out.val.window_end_s[i]);
      out.val_persistence.push_back(it == pers.end() ? kMissingValue : it->second);
    }
  }
  if (out.train.X.rows > train_before || member.val_end > member.val_begin) {
    out.seen.push_back(station);
  }
  out.members.push_back(std::move(member));
}

// Runs fn(0 .. n-1) on up to `workers` threads (the caller's included),
// each index once, in increasing order of start; after fn returns false no
// further index starts.
void ParallelFor(size_t n, int workers, const std::function<bool(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&] {
    while (!stop.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      if (!fn(i)) stop.store(true);
    }
  };
  const int count = std::clamp(workers, 1, std::max(1, static_cast<int>(n)));
  std::vector<std::thread> threads;
  for (int w = 1; w < count; ++w) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
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
Result<monitor::ReferenceSet> ReferenceHistograms(const FeatureSpec& spec, const TrainingSet& train) {
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
  return builder.Build();
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

std::string PredictionReferenceName(Variable target, int horizon_min) {
  return "pred/" + std::string(Name(target)) + "/" + std::to_string(horizon_min);
}

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
  // Features once per station for every target and horizon, stations in
  // parallel (each thread sorts and reads its own station's history).
  std::map<std::string, StationFeatures> features;
  for (const std::string& st : stations) features[st];
  ParallelFor(stations.size(), config_.parallel_models, [&](size_t i) {
    features.at(stations[i]) = ComputeFeatures(history.at(stations[i]), spec);
    return true;
  });
  const uint64_t seed = request.seed.value_or(config_.seed);
  const std::string xgb_version = xgb::LibraryVersion();
  const int64_t trained_until_s = to_s - 1;
  const bool station_models = request.station_models && config_.station_models;

  // One job per model to train, in the order the models are returned:
  // per target and horizon the network model, then each station's. Jobs run
  // on `parallel_models` threads; each reads the shared history and feature
  // rows and builds its own rows, so results do not depend on the schedule.
  struct FitJob {
    Variable target;
    int horizon_min;
    ModelScope scope;
    std::string station;  // station scope
  };
  std::vector<FitJob> jobs;
  for (Variable target : targets) {
    for (int horizon : horizons) {
      if (request.network) jobs.push_back({target, horizon, ModelScope::kNetwork, ""});
      if (station_models) {
        for (const std::string& st : stations) jobs.push_back({target, horizon, ModelScope::kStation, st});
      }
    }
  }
  struct FitResult {
    Status status;
    std::vector<TrainedModel> models;
    std::vector<std::shared_ptr<predict::ModelFileRequest>> requests;  // one per model
    std::vector<monitor::ReferenceSet> inputs;                           // one per model
    std::optional<monitor::ReferenceFeature> prediction;  // the boosted model's pred/... entry
    std::string skipped;
  };
  std::vector<FitResult> results(jobs.size());
  std::mutex mu;  // progress callback and counter
  TrainProgress prog;
  prog.total = static_cast<int>(jobs.size());

  auto fit = [&](const FitJob& job, FitResult& res) -> Status {
    const Variable target = job.target;
    const int horizon = job.horizon_min;
    const ModelScope scope = job.scope;
    const std::string name = std::string(Name(target)) + "/" + std::to_string(horizon) + " " +
                             (scope == ModelScope::kNetwork ? std::string("network") : job.station);
    {
      std::lock_guard<std::mutex> lock(mu);
      prog.step = name;
      if (progress) progress(prog);
      ++prog.done;
    }
    if (cancel && cancel->load()) return MakeError("cancelled");
    FitRows rows;
    if (scope == ModelScope::kNetwork) {
      for (const std::string& st : stations) {
        AppendStation(st, features.at(st), history.at(st), target, horizon, cutoff_s, rows);
      }
    } else {
      AppendStation(job.station, features.at(job.station), history.at(job.station), target,
                    horizon, cutoff_s, rows);
    }
    TrainingSet& train = rows.train;
    TrainingSet& val = rows.val;
    const std::vector<double>& val_pers = rows.val_persistence;
    if (train.X.rows < static_cast<size_t>(config_.min_train_rows) ||
        val.X.rows < static_cast<size_t>(config_.min_validation_rows)) {
      res.skipped = name + ": " + std::to_string(train.X.rows) + " training and " +
                    std::to_string(val.X.rows) + " validation rows";
      return Status::Ok();
    }
    if (request.TEST_shuffle_train_labels) {
      std::mt19937_64 rng(seed);
      std::shuffle(train.y.begin(), train.y.end(), rng);
    }
    auto built = ReferenceHistograms(spec, train);
    if (!built) return MakeError(name + " reference histograms: " + built.message());
    const monitor::ReferenceSet inputs = std::move(*built);
    // Metrics per station from predictions of every validation row.
    auto per_station = [&](const std::vector<float>& predicted) {
      std::map<std::string, FitMetrics> out_metrics;
      for (const FitRows::Member& m : rows.members) {
        if (m.val_end == m.val_begin) continue;
        const auto b = static_cast<ptrdiff_t>(m.val_begin), e = static_cast<ptrdiff_t>(m.val_end);
        out_metrics[m.station] = ComputeFitMetrics(
            std::vector<float>(val.y.begin() + b, val.y.begin() + e),
            std::vector<float>(predicted.begin() + b, predicted.begin() + e),
            std::vector<double>(val_pers.begin() + b, val_pers.begin() + e));
      }
      return out_metrics;
    };
    auto base = [&](ModelKind kind) {
      TrainedModel tm;
      tm.kind = kind;
      tm.scope = scope;
      tm.station = job.station;
      tm.target = target;
      tm.horizon_min = horizon;
      tm.spec = spec;
      tm.train_rows = static_cast<int64_t>(train.X.rows);
      tm.validation_rows = static_cast<int64_t>(val.X.rows);
      tm.window_from_s = from_s;
      tm.window_to_s = to_s;
      tm.cutoff_s = cutoff_s;
      tm.stations = rows.seen;
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
    // The model file request; the reference histograms are filled in when
    // every model of the run is trained (see below).
    auto request_for = [&](const TrainedModel& tm, nlohmann::json training) {
      auto r = std::make_shared<predict::ModelFileRequest>();
      r->scope = tm.scope;
      r->station = tm.station;
      r->target = target;
      r->horizon_min = horizon;
      r->trained_until_s = trained_until_s;
      r->spec = spec;
      training["metrics"] = tm.overall.ToJson();
      training["window"] = {{"from", FormatUtc(from_s)}, {"to", FormatUtc(to_s)},
                            {"cutoff", FormatUtc(cutoff_s)}};
      training["train_rows"] = tm.train_rows;
      training["validation_rows"] = tm.validation_rows;
      training["stations"] = tm.stations;
      r->training = std::move(training);
      return r;
    };
    auto add = [&](TrainedModel tm, std::shared_ptr<predict::ModelFileRequest> req) {
      res.models.push_back(std::move(tm));
      res.requests.push_back(std::move(req));
      res.inputs.push_back(inputs);
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
    bool golden_failed = false;
    std::vector<predict::GoldenPair> golden =
        predict::MakeGoldenPairs(train.X, 8, [&](const float* x) {
          auto y = booster->PredictRow(x, train.X.cols);
          if (!y) golden_failed = true;
          return y ? *y : 0.0f;
        });
    if (golden_failed) return MakeError(name + ": reference prediction failed");
    // Reference of the model's own predictions on the validation window, at
    // their target times (the monitor's prediction drift stream).
    {
      monitor::ReferenceBuilder pred({PredictionReferenceName(target, horizon)});
      for (size_t i = 0; i < val.X.rows; ++i) {
        pred.AddValue(0, val.window_end_s[i] + int64_t{horizon} * 60, (*val_pred)[i]);
      }
      auto set = pred.Build();
      if (set && set->features.size() == 1) res.prediction = std::move(set->features[0]);
    }
    {
      TrainedModel tm = base(ModelKind::kXgboost);
      tm.rounds = trained->rounds;
      tm.xgboost_version = xgb_version;
      tm.hyperparameters = XgbParamsJson(config_.xgb);
      tm.hyperparameters["seed"] = seed;
      tm.overall = ComputeFitMetrics(val.y, *val_pred, val_pers);
      tm.per_station = per_station(*val_pred);
      gate(tm);
      tm.booster_sha256 = Sha256Hex(trained->bytes);
      nlohmann::json training = {{"rows", train.X.rows},
                                 {"rounds", trained->rounds},
                                 {"validation_rmse", trained->validation_rmse},
                                 {"seed", seed},
                                 {"params", tm.hyperparameters},
                                 {"xgboost_version", xgb_version}};
      auto req = request_for(tm, training);
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
      add(std::move(tm), std::move(req));
    }

    // Linear fallback on the same rows.
    if (request.linear) {
      auto ridge = predict::FitRidge(train.X, train.y, config_.linear_lambda);
      if (!ridge) return MakeError(name + " linear: " + ridge.message());
      auto model = std::make_shared<const predict::LinearModel>(std::move(*ridge));
      auto f = [model](const float* x) { return static_cast<float>(model->Predict(x)); };
      TrainedModel tm = base(ModelKind::kLinear);
      tm.hyperparameters = {{"lambda", config_.linear_lambda}};
      const std::vector<float> predicted = PredictRows(f, val.X);
      tm.overall = ComputeFitMetrics(val.y, predicted, val_pers);
      tm.per_station = per_station(predicted);
      gate(tm);
      const std::string weights = model->ToJson().dump();
      tm.booster_sha256 = Sha256Hex(weights);
      auto pairs = std::make_shared<const std::vector<predict::GoldenPair>>(
          predict::MakeGoldenPairs(train.X, 8, f));
      auto req = request_for(tm, {{"rows", train.X.rows}, {"lambda", config_.linear_lambda}});
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
      add(std::move(tm), std::move(req));
    }
    return Status::Ok();
  };

  ParallelFor(jobs.size(), config_.parallel_models, [&](size_t i) {
    try {
      results[i].status = fit(jobs[i], results[i]);
    } catch (const std::exception& e) {
      results[i].status = MakeError(std::string("training: ") + e.what());
    }
    return static_cast<bool>(results[i].status);
  });
  // The first failure in job order (the same one a sequential run reports).
  for (const FitResult& r : results) {
    if (!r.status) return r.status.error();
  }

  // Reference histograms: each model's training inputs, plus the prediction
  // references of every boosted model of the same scope (network, or that
  // station) in this run, so the one reference the monitor takes for a
  // station (docs/MONITORING.md) covers each target and horizon trained.
  std::map<std::string, std::vector<const monitor::ReferenceFeature*>> predictions;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (results[i].prediction) predictions[jobs[i].station].push_back(&*results[i].prediction);
  }
  std::vector<TrainedModel> out;
  for (size_t i = 0; i < jobs.size(); ++i) {
    FitResult& r = results[i];
    if (!r.skipped.empty() && skipped) skipped->push_back(r.skipped);
    for (size_t k = 0; k < r.models.size(); ++k) {
      monitor::ReferenceSet set = std::move(r.inputs[k]);
      for (const monitor::ReferenceFeature* f : predictions[jobs[i].station]) {
        set.features.push_back(*f);
      }
      r.models[k].reference = set.ToJson();
      r.requests[k]->training["reference_histograms"] = r.models[k].reference;
      out.push_back(std::move(r.models[k]));
    }
  }
  (void)env_;
  return out;
}

}  // namespace sentinelle::collector
