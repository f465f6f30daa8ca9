#include "sentinelle/agent/prediction_service.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <sys/stat.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sentinelle/agent/config.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/config.h"
#include "sentinelle/predict/prediction_codec.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::agent {

using predict::LinkKind;
using predict::Prediction;

namespace {

const std::vector<std::string> kMigrations = {
    // v1
    "CREATE TABLE history(window_end_s INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
    " vals BLOB NOT NULL, qc BLOB NOT NULL);"
    "CREATE TABLE predictions(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,"
    " window_end_s INTEGER NOT NULL, target TEXT NOT NULL, horizon_min INTEGER NOT NULL,"
    " target_time_s INTEGER NOT NULL, value REAL, link TEXT, model_version TEXT, model_sha256 TEXT,"
    " skipped TEXT NOT NULL, missing_inputs TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0,"
    " actual REAL);"
    "CREATE INDEX predictions_target_time ON predictions(target_time_s);",
    // v2: answers of shadow models (stage "shadow") next to the station's own
    "ALTER TABLE predictions ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0;",
};

constexpr const char* kInsertHistory =
    "INSERT OR REPLACE INTO history(window_end_s, seq, vals, qc) VALUES(?1, ?2, ?3, ?4)";
constexpr const char* kTrimHistory =
    "DELETE FROM history WHERE window_end_s <= (SELECT window_end_s FROM history"
    " ORDER BY window_end_s DESC LIMIT 1 OFFSET ?1)";
constexpr const char* kSelectHistory =
    "SELECT window_end_s, seq, vals, qc FROM history ORDER BY window_end_s";
constexpr const char* kInsertPrediction =
    "INSERT INTO predictions(seq, window_end_s, target, horizon_min, target_time_s, value, link,"
    " model_version, model_sha256, skipped, missing_inputs, shadow)"
    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)";
constexpr const char* kMarkPublished = "UPDATE predictions SET published = 1 WHERE seq = ?1";
constexpr const char* kSetActual =
    "UPDATE predictions SET actual = ?1 WHERE target_time_s = ?2 AND target = ?3 AND actual IS NULL";
constexpr const char* kSelectPending =
    "SELECT target, horizon_min, target_time_s, value, link FROM predictions"
    " WHERE target_time_s > ?1 AND value IS NOT NULL AND shadow = 0";
constexpr const char* kTrimPredictions = "DELETE FROM predictions WHERE window_end_s < ?1";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

PredictionConfig PredictionConfig::FromAgentConfig(const AgentConfig& agent) {
  ConfigReader r(agent.prediction, "prediction");
  PredictionConfig c;
  c.enabled = r.Get<bool>("enabled", true);
  c.model_dir = r.Get<std::string>("model_dir", "");
  c.db_path = r.Get<std::string>("db_path", agent.store.path + ".predictions.db");
  std::vector<std::string> targets = r.Get<std::vector<std::string>>("targets", {"pm25", "pm10", "no2", "o3"});
  c.chain.targets.clear();
  for (const auto& t : targets) {
    auto v = VariableFromName(t);
    if (!v) throw ConfigError("prediction.targets: unknown variable '" + t + "'");
    c.chain.targets.push_back(*v);
  }
  c.chain.horizons_min = r.Get<std::vector<int>>("horizons_min", {5, 60});
  c.chain.interval_s = agent.aggregation.interval_s;
  c.chain.max_missing_fraction = r.Get<double>("max_missing_fraction", c.chain.max_missing_fraction);
  c.chain.max_missing_fraction_linear =
      r.Get<double>("max_missing_fraction_linear", c.chain.max_missing_fraction_linear);
  c.chain.max_model_age_s = r.Get<int64_t>("max_model_age_s", c.chain.max_model_age_s);
  c.chain.persistence_tau_min = r.Get<double>("persistence_tau_min", c.chain.persistence_tau_min);
  c.reload_interval_ms = r.Get<int64_t>("reload_interval_ms", c.reload_interval_ms);
  c.history_windows = r.Get<int>("history_windows", c.history_windows);
  c.retain_predictions_s = r.Get<int64_t>("retain_predictions_s", c.retain_predictions_s);
  c.accuracy_window = static_cast<size_t>(r.Get<int>("accuracy_window", 288));
  r.RejectUnknown();
  if (Status st = c.chain.Validate(); !st) throw ConfigError("prediction: " + st.message());
  if (c.reload_interval_ms < 0 || c.history_windows < 1 || c.history_windows > 100000 ||
      c.retain_predictions_s < 3600 || c.accuracy_window < 1) {
    throw ConfigError("prediction: reload_interval_ms, history_windows, retain_predictions_s or "
                      "accuracy_window out of range");
  }
  return c;
}

struct PredictionService::Impl {
  std::unique_ptr<Db> db;
  Publisher publisher;
  std::shared_ptr<prometheus::Registry> registry;
  mutable std::mutex mu;  // guards tracker and the statements
  predict::AccuracyTracker tracker;
  int64_t readings_since_trim = 0;
  // Metrics (null without a registry).
  prometheus::Family<prometheus::Counter>* answered = nullptr;
  prometheus::Family<prometheus::Counter>* skipped = nullptr;
  prometheus::Family<prometheus::Counter>* loads = nullptr;
  prometheus::Family<prometheus::Counter>* joined = nullptr;
  prometheus::Family<prometheus::Gauge>* mae = nullptr;
  prometheus::Family<prometheus::Gauge>* rmse = nullptr;
  prometheus::Family<prometheus::Gauge>* bias = nullptr;
  prometheus::Counter* unlabelled = nullptr;
  prometheus::Counter* store_errors = nullptr;
  prometheus::Counter* publish_failures = nullptr;

  explicit Impl(size_t window) : tracker(predict::AccuracyConfig{window, 20000}) {}

  void CountLoad(const char* result) {
    if (loads) loads->Add({{"result", result}}).Increment();
  }
  void CountStoreError(const std::string& what) {
    if (store_errors) store_errors->Increment();
    spdlog::warn("prediction: store: {}", what);
  }
};

PredictionService::PredictionService(PredictionConfig config, std::string station_id)
    : config_(std::move(config)), station_id_(std::move(station_id)) {}

PredictionService::~PredictionService() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (reloader_.joinable()) reloader_.join();
}

Result<std::unique_ptr<PredictionService>> PredictionService::Create(
    PredictionConfig config, std::string station_id, std::shared_ptr<prometheus::Registry> registry,
    Publisher publisher) {
  std::unique_ptr<PredictionService> s(new PredictionService(std::move(config), std::move(station_id)));
  try {
    s->chain_ = std::make_unique<predict::FallbackChain>(s->station_id_, s->config_.chain);
  } catch (const std::exception& e) {
    return MakeError(std::string("prediction: ") + e.what());
  }
  s->impl_ = std::make_unique<Impl>(s->config_.accuracy_window);
  Impl& im = *s->impl_;
  im.publisher = std::move(publisher);
  im.registry = registry;
  if (registry) {
    try {
      im.answered = &prometheus::BuildCounter()
                         .Name("sentinelle_agent_predictions_total")
                         .Help("Predictions made, by the chain link that answered (none = no answer)")
                         .Register(*registry);
      im.skipped = &prometheus::BuildCounter()
                        .Name("sentinelle_agent_prediction_skips_total")
                        .Help("Chain links skipped, by link and reason")
                        .Register(*registry);
      im.loads = &prometheus::BuildCounter()
                      .Name("sentinelle_agent_model_loads_total")
                      .Help("Model files offered to the chain, by result (installed, refused)")
                      .Register(*registry);
      im.joined = &prometheus::BuildCounter()
                       .Name("sentinelle_agent_prediction_joined_total")
                       .Help("Predictions joined with the reading they predicted")
                       .Register(*registry);
      im.mae = &prometheus::BuildGauge()
                    .Name("sentinelle_agent_prediction_mae")
                    .Help("Rolling mean absolute error over the last joins, in the target's unit")
                    .Register(*registry);
      im.rmse = &prometheus::BuildGauge()
                     .Name("sentinelle_agent_prediction_rmse")
                     .Help("Rolling root mean square error over the last joins")
                     .Register(*registry);
      im.bias = &prometheus::BuildGauge()
                     .Name("sentinelle_agent_prediction_bias")
                     .Help("Rolling mean of prediction minus actual")
                     .Register(*registry);
      im.unlabelled = &prometheus::BuildCounter()
                           .Name("sentinelle_agent_prediction_unlabelled_total")
                           .Help("Predictions whose target window brought no valid value")
                           .Register(*registry)
                           .Add({});
      auto& errors = prometheus::BuildCounter()
                         .Name("sentinelle_agent_prediction_errors_total")
                         .Help("Prediction bookkeeping failures, by kind (store, publish)")
                         .Register(*registry);
      im.store_errors = &errors.Add({{"kind", "store"}});
      im.publish_failures = &errors.Add({{"kind", "publish"}});
    } catch (const std::exception& e) {
      return MakeError(std::string("prediction metrics: ") + e.what());
    }
  }
  // Predictions are derived data: WAL with synchronous=NORMAL never corrupts
  // and may lose only the last commits on power loss, without an fsync per
  // window on the station's SD card.
  DbOptions options;
  options.synchronous = "NORMAL";
  auto db = Db::Open(s->config_.db_path, options);
  if (!db) return MakeError("prediction store: " + db.message());
  im.db = std::move(db.value());
  if (Status st = im.db->Migrate(kMigrations); !st) return MakeError("prediction store: " + st.message());

  // Warm features and the seasonal profile from the station's own history.
  auto sel = im.db->Prepare(kSelectHistory);
  if (!sel) return MakeError("prediction store: " + sel.message());
  int64_t last_end = 0;
  size_t warmed = 0;
  while (true) {
    auto step = sel->Step();
    if (!step) return MakeError("prediction store: " + step.message());
    if (!*step) break;
    Reading r;
    r.station_id = s->station_id_;
    r.window_end_s = sel->ColumnInt(0);
    r.seq = sel->ColumnInt(1);
    r.interval_s = s->config_.chain.interval_s;
    const std::string vals = sel->ColumnText(2), qc = sel->ColumnText(3);
    if (vals.size() != sizeof(double) * kVariableCount || qc.size() != kVariableCount) continue;
    std::memcpy(r.values.data(), vals.data(), vals.size());
    for (int v = 0; v < kVariableCount; ++v) {
      const auto f = static_cast<uint8_t>(qc[v]);
      r.qc[v] = f < kQcFlagCount ? static_cast<QcFlag>(f) : QcFlag::kInvalid;
    }
    s->chain_->Warm(r);
    last_end = r.window_end_s;
    ++warmed;
  }
  // Predictions still waiting for their target window survive restarts.
  auto pending = im.db->Prepare(kSelectPending);
  if (!pending) return MakeError("prediction store: " + pending.message());
  pending->Bind(1, last_end);
  std::vector<Prediction> waiting;
  while (true) {
    auto step = pending->Step();
    if (!step) return MakeError("prediction store: " + step.message());
    if (!*step) break;
    auto target = VariableFromName(pending->ColumnText(0));
    auto link = predict::LinkKindFromName(pending->ColumnText(4));
    if (!target || !link) continue;
    Prediction p;
    p.target = *target;
    p.horizon_min = static_cast<int>(pending->ColumnInt(1));
    p.target_time_s = pending->ColumnInt(2);
    p.value = pending->ColumnDouble(3);
    p.link = *link;
    waiting.push_back(p);
  }
  im.tracker.AddPredictions(waiting);
  spdlog::info("prediction: warmed with {} stored windows, {} predictions awaiting their window", warmed,
               waiting.size());
  s->Reload();
  return s;
}

void PredictionService::Attach(Engine& engine) {
  engine.AddReadingObserver([this](const Reading& r) { OnReading(r); });
  engine.SetModelInfoProvider([this] { return ModelInfo(); });
  StartReloads();
}

void PredictionService::StartReloads() {
  if (config_.reload_interval_ms <= 0 || config_.model_dir.empty() || reloader_.joinable()) return;
  reloader_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(config_.reload_interval_ms),
                              [this] { return stopping_; })) {
      lock.unlock();
      Reload();
      lock.lock();
    }
  });
}

int PredictionService::Reload() {
  if (config_.model_dir.empty()) return 0;
  std::lock_guard lock(reload_mu_);
  namespace fs = std::filesystem;
  std::error_code ec;
  std::map<std::string, std::string> seen;
  int installed = 0;
  for (fs::directory_iterator it(config_.model_dir, ec), end; !ec && it != end; it.increment(ec)) {
    // {name}.json answers; {name}.json.shadow (staged by the updater for
    // stage "shadow") runs next to it without answering.
    const std::string path = it->path().string();
    const bool shadow = it->path().extension() == ".shadow" && it->path().stem().extension() == ".json";
    if (!it->is_regular_file(ec) || (it->path().extension() != ".json" && !shadow)) continue;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    const std::string stamp = std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                              std::to_string(st.st_mtim.tv_nsec);
    seen[path] = stamp;
    auto old = files_.find(path);
    if (old != files_.end() && old->second == stamp) continue;
    auto r = shadow ? chain_->InstallShadow(Slurp(path)) : chain_->Install(Slurp(path));
    if (r) {
      slot_of_[path] = *r;
      ++installed;
      impl_->CountLoad(shadow ? "shadow" : "installed");
      spdlog::info("prediction: installed {}{} ({} {}/{} min)", path, shadow ? " in shadow" : "",
                   predict::LinkKindName(r->link), Name(r->target), r->horizon_min);
    } else {
      impl_->CountLoad("refused");
      spdlog::warn("prediction: refused {}: {}", path, r.message());
    }
  }
  if (ec) spdlog::warn("prediction: cannot scan {}: {}", config_.model_dir, ec.message());
  // A file that disappeared unloads the model it had installed.
  for (const auto& [path, stamp] : files_) {
    if (seen.count(path)) continue;
    auto slot = slot_of_.find(path);
    if (slot == slot_of_.end()) continue;
    auto is_shadow = [](const std::string& p) { return p.size() > 7 && p.compare(p.size() - 7, 7, ".shadow") == 0; };
    bool still_provided = false;
    for (const auto& [other, key] : slot_of_) {
      still_provided |= other != path && seen.count(other) && key == slot->second && is_shadow(other) == is_shadow(path);
    }
    if (!still_provided) {
      if (is_shadow(path)) chain_->RemoveShadow(slot->second);
      else chain_->Remove(slot->second);
      spdlog::info("prediction: {} removed, model unloaded", path);
    }
    slot_of_.erase(slot);
  }
  files_ = std::move(seen);
  // Model parsing leaves freed pages behind (a large temporary JSON tree);
  // hand them back so the station's resident memory stays small.
  if (installed > 0) malloc_trim(0);
  return installed;
}

std::vector<ModelVersionInfo> PredictionService::ModelInfo() const {
  std::vector<ModelVersionInfo> out;
  for (const auto& m : chain_->Models()) {
    out.push_back({std::string(Name(m.target)), m.horizon_min, std::string(predict::LinkKindName(m.link)),
                   m.version});
  }
  for (const auto& m : chain_->ShadowModels()) {
    out.push_back({std::string(Name(m.target)), m.horizon_min,
                   std::string(predict::LinkKindName(m.link)) + "-shadow", m.version});
  }
  return out;
}

std::vector<predict::AccuracyTracker::Entry> PredictionService::Accuracy() const {
  std::lock_guard lock(impl_->mu);
  return impl_->tracker.All();
}

void PredictionService::OnReading(const Reading& reading) {
  if (!config_.enabled) return;
  Impl& im = *impl_;
  std::vector<Prediction> predictions, shadow;
  try {
    predictions = chain_->Observe(reading, &shadow);
  } catch (const std::exception& e) {
    // Programmer errors only; the chain reports runtime failures as values.
    spdlog::error("prediction: chain failed: {}", e.what());
    return;
  }
  std::lock_guard lock(im.mu);
  // Edge accuracy first: this window labels the predictions made for it.
  for (const auto& j : im.tracker.Observe(reading)) {
    if (im.joined) {
      const prometheus::Labels labels{{"target", std::string(Name(j.target))},
                                      {"horizon_min", std::to_string(j.horizon_min)},
                                      {"link", std::string(predict::LinkKindName(j.link))}};
      im.joined->Add(labels).Increment();
      if (auto st = im.tracker.Stats(j.target, j.horizon_min, j.link)) {
        im.mae->Add(labels).Set(st->mae);
        im.rmse->Add(labels).Set(st->rmse);
        im.bias->Add(labels).Set(st->bias);
      }
    }
    auto upd = im.db->Prepare(kSetActual);
    if (upd) {
      upd->Bind(1, j.actual).Bind(2, j.target_time_s).Bind(3, Name(j.target));
      if (Status st = upd->Run(); !st) im.CountStoreError(st.message());
    }
  }
  if (im.unlabelled) {
    const double delta = static_cast<double>(im.tracker.unlabelled_total()) - im.unlabelled->Value();
    if (delta > 0) im.unlabelled->Increment(delta);
  }
  im.tracker.AddPredictions(predictions);

  // Store the history and the predictions in one transaction.
  {
    Transaction tx(*im.db);
    if (!tx.begun()) {
      im.CountStoreError(tx.begin_status().message());
    } else {
      auto hist = im.db->Prepare(kInsertHistory);
      auto ins = im.db->Prepare(kInsertPrediction);
      Status st = hist ? Status::Ok() : Status(hist.error());
      if (st && !ins) st = ins.error();
      if (st) {
        std::string qc(kVariableCount, '\0');
        for (int v = 0; v < kVariableCount; ++v) qc[v] = static_cast<char>(reading.qc[v]);
        st = hist->Bind(1, reading.window_end_s)
                 .Bind(2, reading.seq)
                 .BindBlob(3, std::string_view(reinterpret_cast<const char*>(reading.values.data()),
                                               sizeof(double) * kVariableCount))
                 .BindBlob(4, qc)
                 .Run();
      }
      auto insert = [&](const Prediction& p, bool is_shadow) {
        if (!st) return;
        nlohmann::json skipped = nlohmann::json::array(), missing = nlohmann::json::array();
        for (const auto& s : p.skipped) {
          skipped.push_back({predict::LinkKindName(s.link), predict::SkipReasonName(s.reason)});
        }
        for (Variable v : p.missing_inputs) missing.push_back(Name(v));
        ins->Reset();
        ins->Bind(1, p.from_seq).Bind(2, p.from_window_end_s).Bind(3, Name(p.target));
        ins->Bind(4, static_cast<int64_t>(p.horizon_min)).Bind(5, p.target_time_s).Bind(6, p.value);
        if (p.answered()) ins->Bind(7, predict::LinkKindName(p.link));
        else ins->BindNull(7);
        if (p.model_version.empty()) ins->BindNull(8).BindNull(9);
        else ins->Bind(8, p.model_version).Bind(9, p.model_sha256);
        ins->Bind(10, skipped.dump()).Bind(11, missing.dump()).Bind(12, int64_t{is_shadow ? 1 : 0});
        st = ins->Run();
      };
      for (const Prediction& p : predictions) insert(p, false);
      for (const Prediction& p : shadow) insert(p, true);
      if (st) st = tx.Commit();
      if (!st) im.CountStoreError(st.message());
    }
  }
  if (++im.readings_since_trim >= 12) {
    im.readings_since_trim = 0;
    auto trim = im.db->Prepare(kTrimHistory);
    if (trim) {
      trim->Bind(1, static_cast<int64_t>(config_.history_windows));
      if (Status st = trim->Run(); !st) im.CountStoreError(st.message());
    }
    auto old = im.db->Prepare(kTrimPredictions);
    if (old) {
      old->Bind(1, reading.window_end_s - config_.retain_predictions_s);
      if (Status st = old->Run(); !st) im.CountStoreError(st.message());
    }
  }

  for (const Prediction& p : predictions) {
    if (!im.answered) break;
    im.answered->Add({{"link", p.answered() ? std::string(predict::LinkKindName(p.link)) : "none"}}).Increment();
    for (const auto& s : p.skipped) {
      im.skipped
          ->Add({{"link", std::string(predict::LinkKindName(s.link))},
                 {"reason", std::string(predict::SkipReasonName(s.reason))}})
          .Increment();
    }
  }
  if (predictions.empty() || !im.publisher) return;
  predict::PredictionBatch batch = predict::MakePredictionBatch(predictions);
  batch.shadow = std::move(shadow);
  Status published = im.publisher(predict::EncodePredictionBatch(batch));
  if (published) {
    auto mark = im.db->Prepare(kMarkPublished);
    if (mark) {
      mark->Bind(1, reading.seq);
      if (Status st = mark->Run(); !st) im.CountStoreError(st.message());
    }
  } else if (im.publish_failures) {
    im.publish_failures->Increment();
  }
}

}  // namespace sentinelle::agent
