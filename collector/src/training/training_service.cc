#include "sentinelle/collector/training_service.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "sentinelle/collector/rollout_gate.h"
#include "sentinelle/predict/prediction_codec.h"

namespace sentinelle::collector {

Result<std::unique_ptr<TrainingService>> TrainingService::Open(const CollectorConfig& config,
                                                               HistoryStore* store, Env* env,
                                                               RetainedPublisher publisher) {
  std::unique_ptr<TrainingService> s(new TrainingService());
  s->env_ = env;
  s->store_ = store;
  s->topics_ = std::make_unique<Topics>(config.mqtt.topic_prefix);
  const ModelsConfig mc = ResolveModelsPaths(config.models, config.db_path);
  s->models_config_ = mc;
  auto registry = ModelRegistry::Open(mc.dir);
  if (!registry) return registry.error();
  s->registry_ = std::move(*registry);
  auto key = LoadOrCreateSigningKey(mc.signing_key, mc.public_key);
  if (!key) return MakeError("signing key: " + key.message());
  spdlog::info("model signing key {} (public key for agents: {})", mc.signing_key, mc.public_key);
  s->distributor_ = std::make_unique<Distributor>(s->registry_.get(), std::move(*key), mc,
                                                  config.mqtt.topic_prefix, std::move(publisher));
  s->trainer_ = std::make_unique<Trainer>(config.training, store, env);
  s->jobs_ = std::make_unique<TrainingJobs>(s->trainer_.get(), s->registry_.get(), env,
                                            config.training);
  s->api_ = std::make_unique<RegistryApi>(s->registry_.get(), s->distributor_.get(), s->jobs_.get(),
                                          mc, env);
  TrainingService* self = s.get();
  s->api_->SetLiveMeasure([self](const ModelRecord& record) -> Result<LiveComparison> {
    self->FlushShadowAnswers();
    return MeasureShadow(record, *self->registry_, *self->store_);
  });
  return s;
}

TrainingService::~TrainingService() { Stop(); }

namespace {
constexpr size_t kMaxBufferedShadowAnswers = 100000;
}  // namespace

void TrainingService::OnStationMessage(std::string_view topic, std::string_view payload,
                                       int64_t arrival_ms) {
  // Only prediction batches with a shadow part; the ingest pipeline decodes
  // and stores the rest of the message on its own.
  if (payload.find("\"shadow\"") == std::string_view::npos) return;
  auto parsed = topics_->ParseStation(topic);
  if (!parsed || parsed->channel != StationChannel::kPredictions) return;
  auto batch = predict::DecodePredictionBatch(payload, parsed->station_id);
  if (!batch || batch->shadow.empty()) return;  // the pipeline counts the rejection
  std::vector<ShadowPrediction> rows;
  for (const predict::Prediction& p : batch->shadow) {
    // Registry versions are decimal integers; anything else is not ours.
    char* end = nullptr;
    const long long v = std::strtoll(p.model_version.c_str(), &end, 10);
    if (p.model_version.empty() || *end != '\0' || v <= 0) continue;
    rows.push_back({v, batch->station_id, p.from_window_end_s, p.value, arrival_ms});
  }
  std::lock_guard lock(shadow_mu_);
  for (ShadowPrediction& r : rows) shadow_buffer_.push_back(std::move(r));
  if (shadow_buffer_.size() > kMaxBufferedShadowAnswers) {
    const size_t drop = shadow_buffer_.size() - kMaxBufferedShadowAnswers;
    shadow_buffer_.erase(shadow_buffer_.begin(), shadow_buffer_.begin() + static_cast<ptrdiff_t>(drop));
    shadow_dropped_ += static_cast<int64_t>(drop);
  }
}

void TrainingService::FlushShadowAnswers() {
  std::vector<ShadowPrediction> rows;
  {
    std::lock_guard lock(shadow_mu_);
    rows.swap(shadow_buffer_);
  }
  if (rows.empty()) return;
  if (Status st = registry_->AddShadowPredictions(rows); !st) {
    spdlog::warn("shadow answers: {} not stored: {}", rows.size(), st.message());
  }
}

std::vector<int64_t> TrainingService::CheckShadows() {
  FlushShadowAnswers();
  std::vector<int64_t> decided;
  ModelFilter f;
  f.stage = Stage::kShadow;
  auto list = registry_->List(f);
  if (!list) {
    spdlog::warn("accuracy gate: {}", list.message());
    return decided;
  }
  for (const ModelRecord& r : *list) {
    auto g = api_->EvaluateShadow(r.version, "accuracy-gate");
    if (!g) {
      spdlog::warn("accuracy gate, version {}: {}", r.version, g.message());
      continue;
    }
    if (g->decision.verdict == RolloutVerdict::kWait) continue;
    decided.push_back(r.version);
    spdlog::info("accuracy gate, version {} ({}): {} — {}", r.version, r.family.Label(),
                 RolloutVerdictName(g->decision.verdict), g->decision.reason);
  }
  return decided;
}

void TrainingService::AnnounceAll() {
  const int64_t now_s = env_->WallMs() / 1000;
  for (Stage stage : {Stage::kProduction, Stage::kCanary, Stage::kShadow}) {
    ModelFilter f;
    f.stage = stage;
    auto list = registry_->List(f);
    if (!list) {
      spdlog::warn("announce: {}", list.message());
      return;
    }
    for (const ModelRecord& r : *list) {
      if (auto m = distributor_->Announce(r.version, now_s); !m) {
        spdlog::warn("announce version {}: {}", r.version, m.message());
      }
    }
  }
  last_announce_s_ = now_s;
}

std::string TrainingService::AnnouncedState() {
  std::string state;
  for (Stage stage : {Stage::kProduction, Stage::kCanary, Stage::kShadow}) {
    ModelFilter f;
    f.stage = stage;
    auto list = registry_->List(f);
    if (!list) return last_state_;
    for (const ModelRecord& r : *list) {
      state += std::to_string(r.version) + ":" + std::string(StageName(r.stage)) + ":" +
               nlohmann::json(r.rollout_stations).dump() + ";";
    }
  }
  return state;
}

void TrainingService::Start() {
  AnnounceAll();
  last_state_ = AnnouncedState();
  // Changes made outside this process (the CLI on the same registry) are
  // announced within a few seconds; manifests are re-signed before expiry.
  jobs_->SetIdleHook([this](int64_t now_s) {
    if (models_config_.rollout_check_interval_s > 0 &&
        now_s - last_gate_s_ >= models_config_.rollout_check_interval_s) {
      last_gate_s_ = now_s;
      CheckShadows();
    }
    if (now_s - last_check_s_ < 5) return;
    last_check_s_ = now_s;
    const std::string state = AnnouncedState();
    if (state != last_state_ || now_s - last_announce_s_ >= models_config_.manifest_ttl_s / 2) {
      AnnounceAll();
      last_state_ = state;
    }
  });
  jobs_->Start();
}

void TrainingService::Stop() {
  if (jobs_) jobs_->Stop();
}

}  // namespace sentinelle::collector
