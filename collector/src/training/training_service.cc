#include "sentinelle/collector/training_service.h"

#include <spdlog/spdlog.h>

namespace sentinelle::collector {

Result<std::unique_ptr<TrainingService>> TrainingService::Open(const CollectorConfig& config,
                                                               HistoryStore* store, Env* env,
                                                               RetainedPublisher publisher) {
  std::unique_ptr<TrainingService> s(new TrainingService());
  s->env_ = env;
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
  return s;
}

TrainingService::~TrainingService() { Stop(); }

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
