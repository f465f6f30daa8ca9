#include "sentinelle/agent/model_updater.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "sentinelle/agent/config.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/config.h"
#include "sentinelle/crypto.h"
#include "sentinelle/fetch.h"
#include "sentinelle/json_util.h"
#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/topics.h"

namespace sentinelle::agent {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxOutcomes = 64;
constexpr int kLogBudgetPer10s = 10;
constexpr int kStateSchema = 1;
constexpr const char* kRefusalNames[kRefusalCount] = {
    "malformed",    "bad_signature",     "wrong_topic",          "out_of_scope",
    "expired",      "older_version",     "download_failed",      "checksum_mismatch",
    "foreign_feature_spec", "golden_mismatch", "install_failed"};

// Topic -> (target, horizon, kind, station) for the three manifest scopes.
struct TopicSlot {
  std::string target;
  int horizon_min = 0;
  std::string kind;
  std::string station;  // station scope only
  bool rollout = false;  // the scope's staged-rollout topic (".../rollout/manifest")
};

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

std::optional<TopicSlot> ParseManifestTopic(std::string_view prefix, std::string_view topic) {
  if (topic.size() <= prefix.size() + 1 || topic.substr(0, prefix.size()) != prefix ||
      topic[prefix.size()] != '/') {
    return std::nullopt;
  }
  auto parts = Split(topic.substr(prefix.size() + 1));
  if (parts.size() < 4 || parts[0] != "models" || parts.back() != "manifest") return std::nullopt;
  TopicSlot t;
  if (parts.size() >= 5 && parts[parts.size() - 2] == "rollout") {
    t.rollout = true;
    parts.erase(parts.end() - 2);
  }
  t.target = parts[1];
  try {
    size_t used = 0;
    t.horizon_min = std::stoi(parts[2], &used);
    if (used != parts[2].size() || t.horizon_min <= 0) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (parts.size() == 4) t.kind = "network";
  else if (parts.size() == 5 && parts[3] == "linear") t.kind = "linear";
  else if (parts.size() == 6 && parts[3] == "stations") t.kind = "station", t.station = parts[4];
  else return std::nullopt;
  return t;
}

bool KindMatches(const predict::ModelEnvelope& e, const std::string& kind) {
  if (kind == "linear") return e.kind == predict::ModelKind::kLinear;
  return e.kind == predict::ModelKind::kXgboost && predict::ModelScopeName(e.scope) == kind;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

std::string_view RefusalName(Refusal r) { return kRefusalNames[static_cast<int>(r)]; }

UpdaterConfig UpdaterConfig::FromAgentConfig(const AgentConfig& agent) {
  UpdaterConfig c;
  if (agent.updater.is_null() || agent.updater.empty()) return c;
  ConfigReader r(agent.updater, "agent config, updater");
  auto bad = [&](const std::string& key, const std::string& what) {
    throw ConfigError("updater." + key + " " + what);
  };
  c.enabled = r.Get<bool>("enabled", true);
  c.public_key_file = r.Get<std::string>("public_key_file", "");
  c.model_dir = r.Get<std::string>("model_dir", "");
  if (c.model_dir.empty() && agent.prediction.is_object() && agent.prediction.contains("model_dir") &&
      agent.prediction["model_dir"].is_string()) {
    c.model_dir = agent.prediction["model_dir"].get<std::string>();
  }
  if (agent.prediction.is_object() && agent.prediction.contains("model_dir") &&
      agent.prediction["model_dir"].is_string() &&
      agent.prediction["model_dir"].get<std::string>() != c.model_dir) {
    bad("model_dir", "must equal prediction.model_dir (the prediction service loads from there)");
  }
  c.state_file = r.Get<std::string>("state_file", "");
  c.download_token = r.Get<std::string>("download_token", "");
  c.ca_file = r.Get<std::string>("ca_file", "");
  c.max_bytes = r.Get<int64_t>("max_bytes", c.max_bytes);
  c.connect_timeout_ms = r.Get<int>("connect_timeout_ms", c.connect_timeout_ms);
  c.total_timeout_ms = r.Get<int>("total_timeout_ms", c.total_timeout_ms);
  c.stall_timeout_ms = r.Get<int>("stall_timeout_ms", c.stall_timeout_ms);
  c.download_attempts = r.Get<int>("download_attempts", c.download_attempts);
  c.retry_delay_ms = r.Get<int64_t>("retry_delay_ms", c.retry_delay_ms);
  c.rollout_grace_ms = r.Get<int64_t>("rollout_grace_ms", c.rollout_grace_ms);
  r.RejectUnknown();
  if (!c.enabled) return c;
  if (c.public_key_file.empty()) bad("public_key_file", "is required");
  if (c.model_dir.empty()) bad("model_dir", "is required (or prediction.model_dir)");
  if (c.state_file.empty()) c.state_file = c.model_dir + "/.updater-state";
  if (c.max_bytes < 1024 || c.max_bytes > (int64_t{1} << 32)) bad("max_bytes", "must be between 1024 and 4 GiB");
  if (c.connect_timeout_ms < 100 || c.connect_timeout_ms > 600000) bad("connect_timeout_ms", "must be between 100 and 600000");
  if (c.total_timeout_ms < 100 || c.total_timeout_ms > 86400000) bad("total_timeout_ms", "must be between 100 and 86400000");
  if (c.stall_timeout_ms < 100 || c.stall_timeout_ms > 86400000) bad("stall_timeout_ms", "must be between 100 and 86400000");
  if (c.download_attempts < 1 || c.download_attempts > 100) bad("download_attempts", "must be between 1 and 100");
  if (c.retry_delay_ms < 0 || c.retry_delay_ms > 86400000) bad("retry_delay_ms", "must be between 0 and 86400000");
  if (c.rollout_grace_ms < 100 || c.rollout_grace_ms > 3600000) bad("rollout_grace_ms", "must be between 100 and 3600000");
  return c;
}

// Metrics live behind this so the header needs no prometheus includes.
struct ModelUpdater::Impl {
  std::shared_ptr<prometheus::Registry> registry;
  std::array<prometheus::Counter*, kRefusalCount> refused{};
  prometheus::Family<prometheus::Counter>* results = nullptr;
};

ModelUpdater::ModelUpdater(UpdaterConfig config, std::string station_id, std::string topic_prefix,
                           Env* env, InstallHook hook)
    : config_(std::move(config)),
      station_id_(std::move(station_id)),
      prefix_(std::move(topic_prefix)),
      env_(env),
      hook_(std::move(hook)),
      metrics_(std::make_unique<Impl>()) {}

Result<std::unique_ptr<ModelUpdater>> ModelUpdater::Create(
    UpdaterConfig config, std::string station_id, std::string topic_prefix, Env* env,
    std::shared_ptr<prometheus::Registry> registry, InstallHook hook) {
  if (env == nullptr) env = Env::Default();
  if (config.state_file.empty()) config.state_file = config.model_dir + "/.updater-state";
  std::unique_ptr<ModelUpdater> u(new ModelUpdater(std::move(config), std::move(station_id),
                                                   std::move(topic_prefix), env, std::move(hook)));
  const UpdaterConfig& c = u->config_;
  auto key = ReadKeyFile(c.public_key_file);
  if (!key) return MakeError("updater: public key " + c.public_key_file + ": " + key.message());
  if (key->size() != 32) return MakeError("updater: public key " + c.public_key_file + " is not 32 bytes");
  u->public_key_ = *key;
  std::error_code ec;
  fs::create_directories(c.model_dir + "/.download", ec);
  if (ec) return MakeError("updater: cannot create " + c.model_dir + ": " + ec.message());

  if (Exists(c.state_file)) {
    auto bytes = ReadFile(c.state_file, 1 << 20);
    if (!bytes) return MakeError("updater: state " + c.state_file + ": " + bytes.message());
    auto j = ParseJsonLimited(*bytes, 1 << 20, 8);
    if (!j) return MakeError("updater: state " + c.state_file + ": " + j.message());
    try {
      if (j->at("schema").get<int>() != kStateSchema) return MakeError("updater: state: unknown schema");
      for (const auto& s : j->at("slots")) {
        SlotState st;
        st.target = s.at("target").get<std::string>();
        st.horizon_min = s.at("horizon_min").get<int>();
        st.kind = s.at("kind").get<std::string>();
        st.active_version = s.at("active_version").get<int64_t>();
        st.active_sha256 = s.at("active_sha256").get<std::string>();
        st.previous_version = s.at("previous_version").get<int64_t>();
        st.previous_sha256 = s.at("previous_sha256").get<std::string>();
        st.highest_version = s.at("highest_version").get<int64_t>();
        st.shadow_version = s.at("shadow_version").get<int64_t>();
        st.shadow_sha256 = s.at("shadow_sha256").get<std::string>();
        // Absent from state files written before staged rollouts had their topic.
        st.canary_version = s.value("canary_version", int64_t{0});
        st.highest_sha256 = s.value("highest_sha256", std::string());
        u->slots_[u->SlotKeyName(st.target, st.horizon_min, st.kind)] = std::move(st);
      }
    } catch (const std::exception& e) {
      return MakeError("updater: state " + c.state_file + " is corrupt: " + e.what());
    }
  }

  Impl& m = *u->metrics_;
  m.registry = std::move(registry);
  if (m.registry) {
    try {
      auto& refused = prometheus::BuildCounter()
                          .Name("sentinelle_agent_model_updates_refused_total")
                          .Help("Model manifests or bundles refused by the updater, by reason")
                          .Register(*m.registry);
      for (int i = 0; i < kRefusalCount; ++i) m.refused[i] = &refused.Add({{"reason", kRefusalNames[i]}});
      m.results = &prometheus::BuildCounter()
                       .Name("sentinelle_agent_model_updates_total")
                       .Help("Model updates applied, by result (installed, shadow, unchanged, "
                             "rolled_back, rollout_ended)")
                       .Register(*m.registry);
    } catch (const std::exception& e) {
      return MakeError(std::string("updater: metrics: ") + e.what());
    }
  }
  return u;
}

ModelUpdater::~ModelUpdater() { Stop(); }

void ModelUpdater::Attach(Engine& engine) {
  engine.AddManifestObserver(
      [this](const std::string& topic, const std::string& payload) { OnManifest(topic, payload); });
  engine.AddCommandObserver([this](const Command& c) { OnCommand(c); });
}

void ModelUpdater::Start() {
  std::lock_guard lock(mu_);
  if (worker_.joinable() || stopping_) return;
  worker_ = std::thread([this] { Run(); });
}

void ModelUpdater::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void ModelUpdater::OnManifest(const std::string& topic, const std::string& payload) {
  if (payload.empty()) {
    // A cleared retained topic: only a rollout topic's clearing means
    // something (the staged rollout ended); a production topic keeps what
    // the station runs.
    const auto ts = ParseManifestTopic(prefix_, topic);
    if (!ts || !ts->rollout) return;
  }
  {
    std::lock_guard lock(mu_);
    Job& j = pending_[topic];  // supersedes a queued manifest on the same topic
    j = Job{};
    j.topic = topic;
    j.received_mono_ms = RealMonotonicMs();
    j.payload = payload.size() > kMaxManifestBytes ? payload.substr(0, kMaxManifestBytes + 1) : payload;
    // Bounded by the number of manifest topics the engine subscribes to.
    if (pending_.size() > 256) pending_.erase(pending_.begin());
  }
  cv_.notify_all();
}

void ModelUpdater::OnCommand(const Command& command) {
  if (command.name != "rollback") return;
  {
    std::lock_guard lock(mu_);
    if (commands_.size() >= 16) commands_.pop_front();
    Job j;
    j.is_command = true;
    j.command = command;
    commands_.push_back(std::move(j));
  }
  cv_.notify_all();
}

void ModelUpdater::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t now = RealMonotonicMs();
    std::optional<Job> job;
    int64_t wait_ms = 1000;
    if (!commands_.empty()) {
      job = std::move(commands_.front());
      commands_.pop_front();
    } else {
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->second.not_before_mono_ms <= now) {
          job = std::move(it->second);
          pending_.erase(it);
          break;
        }
        wait_ms = std::min(wait_ms, it->second.not_before_mono_ms - now);
      }
    }
    if (!job) {
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)));
      continue;
    }
    lock.unlock();
    try {
      Process(std::move(*job));
    } catch (const std::exception& e) {
      spdlog::error("updater: unexpected error: {}", e.what());
    }
    lock.lock();
  }
}

void ModelUpdater::Process(Job job) {
  if (job.is_command) ProcessRollback(job.command);
  else ProcessManifest(std::move(job));
}

std::string ModelUpdater::SlotKeyName(const std::string& target, int horizon_min,
                                      const std::string& kind) const {
  return target + "/" + std::to_string(horizon_min) + "/" + kind;
}

std::string ModelUpdater::ModelPath(std::string_view target, int horizon_min,
                                    std::string_view kind) const {
  return config_.model_dir + "/" + std::string(target) + "_" + std::to_string(horizon_min) + "_" +
         std::string(kind) + ".json";
}

void ModelUpdater::Refuse(Refusal r, const std::string& topic, int64_t version,
                          const std::string& detail) {
  {
    std::lock_guard lock(mu_);
    ++refused_[static_cast<int>(r)];
  }
  if (metrics_->refused[static_cast<int>(r)]) metrics_->refused[static_cast<int>(r)]->Increment();
  Record({topic, version, std::string(RefusalName(r)), detail});
  std::lock_guard lock(log_mu_);
  const int64_t now = RealMonotonicMs();
  if (now - log_window_mono_ms_ >= 10000) {
    if (log_count_ > kLogBudgetPer10s) {
      spdlog::warn("updater: {} more refusals not logged", log_count_ - kLogBudgetPer10s);
    }
    log_window_mono_ms_ = now;
    log_count_ = 0;
  }
  if (++log_count_ <= kLogBudgetPer10s) {
    spdlog::warn("updater: refused {} version {} ({}): {}", topic, version, RefusalName(r),
                 detail.substr(0, 300));
  }
}

void ModelUpdater::Record(UpdateOutcome outcome) {
  if (metrics_->results && outcome.result.size() > 0 &&
      (outcome.result == "installed" || outcome.result == "shadow" ||
       outcome.result == "unchanged" || outcome.result == "rolled_back" ||
       outcome.result == "rollout_ended")) {
    metrics_->results->Add({{"result", outcome.result}}).Increment();
  }
  std::lock_guard lock(mu_);
  outcomes_.push_back(std::move(outcome));
  while (outcomes_.size() > kMaxOutcomes) outcomes_.pop_front();
}

Status ModelUpdater::SaveStateLocked() {
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& [key, s] : slots_) {
    slots.push_back({{"target", s.target},
                     {"horizon_min", s.horizon_min},
                     {"kind", s.kind},
                     {"active_version", s.active_version},
                     {"active_sha256", s.active_sha256},
                     {"previous_version", s.previous_version},
                     {"previous_sha256", s.previous_sha256},
                     {"highest_version", s.highest_version},
                     {"shadow_version", s.shadow_version},
                     {"shadow_sha256", s.shadow_sha256},
                     {"canary_version", s.canary_version},
                     {"highest_sha256", s.highest_sha256}});
  }
  const nlohmann::json j = {{"schema", kStateSchema}, {"slots", slots}};
  return WriteFileAtomic(config_.state_file, j.dump());
}

void ModelUpdater::ProcessManifest(Job job) {
  const std::string& topic = job.topic;
  if (job.payload.empty()) {
    // The rollout topic was cleared: the rollout ended (promotion, rollback
    // or archive); production was announced before the clearing.
    const auto ts = ParseManifestTopic(prefix_, topic);
    if (!ts || !ts->rollout || (!ts->station.empty() && ts->station != station_id_)) return;
    const std::string key = SlotKeyName(ts->target, ts->horizon_min, ts->kind);
    SlotState slot;
    {
      std::lock_guard lock(mu_);
      rollout_seen_.erase(key);
      auto it = slots_.find(key);
      if (it == slots_.end()) return;
      slot = it->second;
    }
    if (slot.shadow_version == 0 && slot.canary_version == 0) return;
    return EndRollout(key, slot, topic, "rollout topic cleared");
  }
  // 1. Size and strict decode.
  if (job.payload.size() > kMaxManifestBytes) {
    return Refuse(Refusal::kMalformed, topic, 0, "manifest larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  }
  auto decoded = DecodeManifest(job.payload);
  if (!decoded) return Refuse(Refusal::kMalformed, topic, 0, decoded.message());
  const Manifest& m = *decoded;
  // 2. Signature before anything in the manifest is believed.
  if (!VerifyManifest(m, public_key_)) {
    return Refuse(Refusal::kBadSignature, topic, m.version, "signature does not verify with the configured key");
  }
  const bool shadow = m.stage == "shadow";
  const bool canary = m.stage == "canary";
  const bool staged = shadow || canary;
  // 3. The topic says which slot the message may speak for; a rollout topic
  // carries only shadow and canary manifests.
  const auto ts = ParseManifestTopic(prefix_, topic);
  if (!ts || ts->target != m.target || ts->horizon_min != m.horizon_min || ts->kind != m.kind ||
      (!ts->station.empty() && ts->station != station_id_) || (ts->rollout && !staged)) {
    return Refuse(Refusal::kWrongTopic, topic, m.version,
                  "manifest for " + m.target + "/" + std::to_string(m.horizon_min) + "/" + m.kind +
                      " stage " + m.stage + " on this topic");
  }
  const std::string key = SlotKeyName(m.target, m.horizon_min, m.kind);
  SlotState slot;
  {
    std::lock_guard lock(mu_);
    if (auto it = slots_.find(key); it != slots_.end()) slot = it->second;
  }
  slot.target = m.target;
  slot.horizon_min = m.horizon_min;
  slot.kind = m.kind;
  // 4. Scope. A rollout that leaves this station out ends whatever was
  // staged here before.
  if (!m.InScope(station_id_)) {
    if (staged && (slot.shadow_version != 0 || slot.canary_version != 0)) {
      EndRollout(key, slot, topic,
                 "the rollout of version " + std::to_string(m.version) + " leaves this station out");
    }
    return Refuse(Refusal::kOutOfScope, topic, m.version, "station not in the rollout scope");
  }
  // 5. Expiry.
  const int64_t now_s = env_->WallMs() / 1000;
  if (m.expires_s <= now_s) {
    return Refuse(Refusal::kExpired, topic, m.version,
                  "expired at " + FormatUtc(m.expires_s) + ", now " + FormatUtc(now_s));
  }
  if (staged) {
    std::lock_guard lock(mu_);
    int64_t& seen = rollout_seen_[key];
    seen = std::max(seen, job.received_mono_ms);
  } else {
    std::lock_guard lock(mu_);
    production_[key] = Received{topic, job.payload, job.received_mono_ms};
  }
  // Staged rollouts and production (docs/PROTOCOL.md, "Topics per scope").
  if (!staged && (slot.canary_version != 0 || slot.shadow_version != 0)) {
    const int64_t staged_version = slot.canary_version != 0 ? slot.canary_version : slot.shadow_version;
    if (m.version < staged_version) {
      // Production older than the staged model: the collector re-announces
      // production before the rollout, so the rollout still runs if its
      // manifest follows; an agent that was offline when it was cleared
      // sees none within the grace period.
      bool ended = false;
      if (!job.recheck) {
        Job again = job;
        again.recheck = true;
        again.attempts = 0;
        again.not_before_mono_ms = RealMonotonicMs() + config_.rollout_grace_ms;
        {
          std::lock_guard lock(mu_);
          pending_.try_emplace(topic, std::move(again));  // a newer manifest, if any, wins
        }
        cv_.notify_all();
      } else {
        const std::string rollout_topic =
            Topics(prefix_).ScopedManifest(m.target, m.horizon_min, m.kind, station_id_, true);
        std::lock_guard lock(mu_);
        auto seen = rollout_seen_.find(key);
        ended = (seen == rollout_seen_.end() || seen->second < job.received_mono_ms) &&
                pending_.count(rollout_topic) == 0;
      }
      if (ended) {
        if (slot.shadow_version != 0) DropShadow(key, slot);
        if (slot.canary_version != 0) {
          spdlog::info("updater: canary version {} of {} is no longer announced: back to production {}",
                       slot.canary_version, key, m.version);
          Record({topic, slot.canary_version, "rollout_ended", "no rollout manifest after production"});
          slot.canary_version = 0;
          SaveSlot(key, slot);
        }
      } else if (slot.canary_version != 0) {
        return Record({topic, m.version, "deferred",
                       "canary version " + std::to_string(slot.canary_version) + " runs here"});
      }
    } else if (slot.canary_version != 0) {
      // The canary was promoted (same version) or replaced by a newer one.
      slot.canary_version = 0;
      SaveSlot(key, slot);
    }
  }
  // A canary of another version replaces a staged shadow; a newer production
  // version supersedes it (the same version promotes it, below).
  if (slot.shadow_version != 0 && slot.shadow_version != m.version &&
      (canary || (!staged && m.version > slot.shadow_version))) {
    DropShadow(key, slot);
  }
  // A shadow announced while another canary runs here: the canary ended.
  if (shadow && slot.canary_version != 0 && slot.canary_version != m.version) {
    EndRollout(key, slot, topic, "version " + std::to_string(m.version) + " went into shadow");
  }
  // 6. Anti-rollback.
  if (!shadow && m.version == slot.active_version && m.artifact_sha256 == slot.active_sha256) {
    const int64_t canary_version = canary ? m.version : 0;
    if (slot.canary_version != canary_version) {
      slot.canary_version = canary_version;
      SaveSlot(key, slot);
    }
    return Record({topic, m.version, "unchanged", "already active"});
  }
  if (shadow && m.version == slot.shadow_version && m.artifact_sha256 == slot.shadow_sha256) {
    return Record({topic, m.version, "unchanged", "already in shadow"});
  }
  // The newest artifact this station ever ran may be taken again (a canary
  // re-announced after the agent went back to production while offline).
  const bool newest_again = m.version == slot.highest_version && !slot.highest_sha256.empty() &&
                            m.artifact_sha256 == slot.highest_sha256;
  if (m.version <= slot.highest_version && !m.rollback && !newest_again) {
    return Refuse(Refusal::kOlderVersion, topic, m.version,
                  "version " + std::to_string(m.version) + " is not above " +
                      std::to_string(slot.highest_version) + " and the manifest allows no rollback");
  }
  if (shadow && m.version <= slot.active_version) {
    return Refuse(Refusal::kOlderVersion, topic, m.version, "a shadow model must be newer than the active one");
  }
  // 7. A feature specification this build cannot compute is refused before
  // spending the link on the download.
  auto manifest_spec = predict::FeatureSpec::FromJson(m.feature_spec);
  if (!manifest_spec) return Refuse(Refusal::kForeignFeatureSpec, topic, m.version, manifest_spec.message());

  // 8. Download (or take the staged shadow file of the same version).
  const std::string path = ModelPath(m.target, m.horizon_min, m.kind);
  std::string bytes;
  bool from_shadow = false;
  if (!shadow && slot.shadow_version == m.version && slot.shadow_sha256 == m.artifact_sha256) {
    auto shadow_file = ReadFile(path + ".shadow", config_.max_bytes);
    if (shadow_file && Sha256Hex(*shadow_file) == m.artifact_sha256) {
      bytes = std::move(*shadow_file);
      from_shadow = true;
    }
  }
  if (!from_shadow) {
    if (m.artifact_size <= 0 || m.artifact_size > config_.max_bytes) {
      return Refuse(Refusal::kDownloadFailed, topic, m.version,
                    "artifact size " + std::to_string(m.artifact_size) + " outside 1.." +
                        std::to_string(config_.max_bytes));
    }
    if (m.artifact_url.rfind("http://", 0) != 0 && m.artifact_url.rfind("https://", 0) != 0) {
      return Refuse(Refusal::kDownloadFailed, topic, m.version, "artifact URL is not http(s)");
    }
    const std::string dest = config_.model_dir + "/.download/" + m.target + "_" +
                             std::to_string(m.horizon_min) + "_" + m.kind + "." +
                             m.artifact_sha256.substr(0, 16) + ".bundle";
    FetchOptions fo;
    fo.max_bytes = m.artifact_size;
    fo.connect_timeout_ms = config_.connect_timeout_ms;
    fo.total_timeout_ms = config_.total_timeout_ms;
    fo.stall_timeout_ms = config_.stall_timeout_ms;
    fo.bearer_token = config_.download_token;
    fo.ca_file = config_.ca_file;
    RemoveQuietly(dest);  // a complete file from an earlier, refused attempt is not trusted
    auto fetched = FetchToFile(m.artifact_url, dest, fo);
    if (!fetched) {
      ++job.attempts;
      if (job.attempts < config_.download_attempts) {
        spdlog::warn("updater: download of version {} failed (attempt {} of {}), retrying: {}",
                     m.version, job.attempts, config_.download_attempts, fetched.message());
        job.not_before_mono_ms = RealMonotonicMs() + config_.retry_delay_ms;
        std::lock_guard lock(mu_);
        pending_.try_emplace(topic, std::move(job));  // a newer manifest, if any, wins
        return;
      }
      RemoveQuietly(dest + ".part");
      return Refuse(Refusal::kDownloadFailed, topic, m.version, fetched.message());
    }
    auto read = ReadFile(dest, m.artifact_size + 1);
    RemoveQuietly(dest);
    if (!read) return Refuse(Refusal::kDownloadFailed, topic, m.version, read.message());
    bytes = std::move(*read);
  }
  // 9. Size and checksum: the signed manifest covers the artifact through them.
  if (static_cast<int64_t>(bytes.size()) != m.artifact_size) {
    return Refuse(Refusal::kChecksumMismatch, topic, m.version,
                  "size " + std::to_string(bytes.size()) + " != " + std::to_string(m.artifact_size));
  }
  const std::string sha = Sha256Hex(bytes);
  if (sha != m.artifact_sha256) {
    return Refuse(Refusal::kChecksumMismatch, topic, m.version, "sha256 " + sha + " != manifest");
  }
  // 10. Envelope: same feature specification, same slot and version.
  auto raw = ParseJsonLimited(bytes, predict::kMaxModelFileBytes, 64);
  if (!raw || !raw->is_object() || !raw->contains("feature_spec")) {
    return Refuse(Refusal::kMalformed, topic, m.version, "model file is not a model envelope");
  }
  auto file_spec = predict::FeatureSpec::FromJson((*raw)["feature_spec"]);
  if (!file_spec) return Refuse(Refusal::kForeignFeatureSpec, topic, m.version, "model file: " + file_spec.message());
  if (!(*file_spec == *manifest_spec)) {
    return Refuse(Refusal::kForeignFeatureSpec, topic, m.version,
                  "model file's feature spec differs from the manifest's");
  }
  auto envelope = predict::ReadModelFile(bytes);
  if (!envelope) return Refuse(Refusal::kMalformed, topic, m.version, envelope.message());
  const predict::ModelEnvelope& e = *envelope;
  if (std::string(Name(e.target)) != m.target || e.horizon_min != m.horizon_min ||
      !KindMatches(e, m.kind) || e.version != std::to_string(m.version)) {
    return Refuse(Refusal::kMalformed, topic, m.version,
                  "model file is " + std::string(Name(e.target)) + "/" +
                      std::to_string(e.horizon_min) + " version " + e.version + ", not the manifest's");
  }
  if (e.scope == predict::ModelScope::kStation && e.station != station_id_) {
    return Refuse(Refusal::kOutOfScope, topic, m.version, "model trained for station " + e.station);
  }
  // 11. Booster and golden pairs.
  predict::LoadOptions lo;
  lo.station_id = station_id_;
  auto loaded = predict::LoadModel(bytes, lo);
  if (!loaded) {
    const bool golden = loaded.message().rfind("self-test", 0) == 0;
    return Refuse(golden ? Refusal::kGoldenMismatch : Refusal::kMalformed, topic, m.version,
                  loaded.message());
  }

  // 12. Install.
  ModelHandover h;
  h.target = m.target;
  h.horizon_min = m.horizon_min;
  h.kind = m.kind;
  h.version = m.version;
  h.sha256 = sha;
  if (shadow) {
    h.path = path + ".shadow";
    h.shadow = true;
    if (auto st = WriteFileAtomic(h.path, bytes); !st) {
      return Refuse(Refusal::kInstallFailed, topic, m.version, st.message());
    }
    if (hook_) {
      if (auto st = hook_(h); !st) {
        RemoveQuietly(h.path);
        return Refuse(Refusal::kInstallFailed, topic, m.version, "shadow refused: " + st.message());
      }
    }
    slot.shadow_version = m.version;
    slot.shadow_sha256 = sha;
  } else {
    h.path = path;
    std::optional<std::string> previous;
    if (Exists(path)) {
      auto cur = ReadFile(path, predict::kMaxModelFileBytes);
      if (!cur) return Refuse(Refusal::kInstallFailed, topic, m.version, "current file: " + cur.message());
      if (auto st = WriteFileAtomic(path + ".prev", *cur); !st) {
        return Refuse(Refusal::kInstallFailed, topic, m.version, "keeping the previous file: " + st.message());
      }
      previous = std::move(*cur);
    }
    if (auto st = WriteFileAtomic(path, bytes); !st) {
      return Refuse(Refusal::kInstallFailed, topic, m.version, st.message());
    }
    Status taken = hook_ ? hook_(h) : Status::Ok();
    if (!taken) {
      // Put the previous model back where the prediction service looks.
      ModelHandover back = h;
      back.restore = true;
      back.version = slot.active_version;
      back.sha256 = slot.active_sha256;
      if (previous) {
        if (auto st = WriteFileAtomic(path, *previous); !st) {
          spdlog::error("updater: restoring {} failed: {}", path, st.message());
        } else if (hook_) {
          if (auto st2 = hook_(back); !st2) spdlog::error("updater: restored model refused: {}", st2.message());
        }
      } else {
        RemoveQuietly(path);
      }
      return Refuse(Refusal::kInstallFailed, topic, m.version, "prediction service refused: " + taken.message());
    }
    if (previous) {
      slot.previous_version = slot.active_version;
      slot.previous_sha256 = slot.active_sha256;
    } else {
      slot.previous_version = 0;
      slot.previous_sha256.clear();
    }
    slot.active_version = m.version;
    slot.active_sha256 = sha;
    slot.canary_version = canary ? m.version : 0;
    if (m.version >= slot.highest_version) {
      slot.highest_version = m.version;
      slot.highest_sha256 = sha;
    }
    if (slot.shadow_version != 0 && slot.shadow_version <= m.version) {
      // Promoted (or superseded): the prediction service stops running it
      // in shadow (a withdrawn shadow, version 0, makes it rescan).
      RemoveQuietly(path + ".shadow");
      slot.shadow_version = 0;
      slot.shadow_sha256.clear();
      if (hook_) {
        ModelHandover gone;
        gone.target = m.target;
        gone.horizon_min = m.horizon_min;
        gone.kind = m.kind;
        gone.shadow = true;
        if (auto st = hook_(gone); !st) spdlog::warn("updater: shadow of {} after promotion: {}", key, st.message());
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    slots_[key] = slot;
    if (auto st = SaveStateLocked(); !st) {
      spdlog::error("updater: state file {} not written: {}", config_.state_file, st.message());
    }
  }
  spdlog::info("updater: {} {} version {} ({}, stage {}{})", shadow ? "staged in shadow" : "installed",
               key, m.version, sha.substr(0, 12), m.stage, m.rollback ? ", signed rollback" : "");
  Record({topic, m.version, shadow ? "shadow" : "installed", m.stage});
}

void ModelUpdater::SaveSlot(const std::string& key, const SlotState& slot) {
  std::lock_guard lock(mu_);
  slots_[key] = slot;
  if (auto st = SaveStateLocked(); !st) {
    spdlog::error("updater: state file {} not written: {}", config_.state_file, st.message());
  }
}

void ModelUpdater::EndRollout(const std::string& key, SlotState& slot, const std::string& topic,
                              const std::string& why) {
  if (slot.shadow_version != 0) {
    const int64_t v = slot.shadow_version;
    DropShadow(key, slot);
    Record({topic, v, "rollout_ended", why + ": shadow withdrawn"});
  }
  if (slot.canary_version == 0) return;
  const int64_t canary = slot.canary_version;
  slot.canary_version = 0;
  std::optional<Received> back;
  {
    std::lock_guard lock(mu_);
    if (auto it = production_.find(key); it != production_.end()) back = it->second;
  }
  if (back) {
    // Back to the production manifest (signed with the rollback permission
    // while a newer version was announced), through every check again.
    SaveSlot(key, slot);
    Job j;
    j.topic = back->topic;
    j.payload = back->payload;
    j.received_mono_ms = back->received_mono_ms;
    {
      std::lock_guard lock(mu_);
      pending_.try_emplace(back->topic, std::move(j));  // a newer one, if queued, wins
    }
    cv_.notify_all();
    spdlog::info("updater: canary version {} of {} ended ({}): back to production", canary, key, why);
    return Record({topic, canary, "rollout_ended", why + ": back to production"});
  }
  // Nothing in production to go back to: stop answering with the canary.
  RemoveQuietly(ModelPath(slot.target, slot.horizon_min, slot.kind));
  slot.active_version = 0;
  slot.active_sha256.clear();
  SaveSlot(key, slot);
  if (hook_) {
    ModelHandover h;
    h.target = slot.target;
    h.horizon_min = slot.horizon_min;
    h.kind = slot.kind;  // version 0: removed
    if (auto st = hook_(h); !st) spdlog::warn("updater: removing canary {}: {}", key, st.message());
  }
  spdlog::warn("updater: canary version {} of {} ended ({}) with no production model: removed", canary,
               key, why);
  Record({topic, canary, "rollout_ended", why + ": no production model, canary removed"});
}

void ModelUpdater::DropShadow(const std::string& key, SlotState& slot) {
  const int64_t dropped = slot.shadow_version;
  RemoveQuietly(ModelPath(slot.target, slot.horizon_min, slot.kind) + ".shadow");
  slot.shadow_version = 0;
  slot.shadow_sha256.clear();
  {
    std::lock_guard lock(mu_);
    slots_[key] = slot;
    if (auto st = SaveStateLocked(); !st) {
      spdlog::error("updater: state file {} not written: {}", config_.state_file, st.message());
    }
  }
  if (hook_) {
    ModelHandover h;
    h.target = slot.target;
    h.horizon_min = slot.horizon_min;
    h.kind = slot.kind;
    h.shadow = true;  // version 0: withdrawn
    if (auto st = hook_(h); !st) spdlog::warn("updater: withdrawing shadow {}: {}", key, st.message());
  }
  spdlog::info("updater: shadow version {} of {} withdrawn", dropped, key);
}

void ModelUpdater::ProcessRollback(const Command& c) {
  const std::string topic = "command:rollback";
  std::vector<SlotState> candidates;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, s] : slots_) {
      if (s.target == c.target && s.horizon_min == c.horizon_min && s.previous_version != 0) {
        candidates.push_back(s);
      }
    }
  }
  if (candidates.empty()) {
    spdlog::warn("updater: rollback {} / {} min: no previous model kept", c.target, c.horizon_min);
    return Record({topic, 0, "ignored", "no previous model for " + c.target + "/" + std::to_string(c.horizon_min)});
  }
  for (SlotState slot : candidates) {
    const std::string path = ModelPath(slot.target, slot.horizon_min, slot.kind);
    auto prev = ReadFile(path + ".prev", predict::kMaxModelFileBytes);
    if (!prev || Sha256Hex(*prev) != slot.previous_sha256) {
      Refuse(Refusal::kInstallFailed, topic, slot.previous_version,
             "previous file missing or altered: " + (prev ? std::string("sha256 differs") : prev.message()));
      continue;
    }
    predict::LoadOptions lo;
    lo.station_id = station_id_;
    if (auto loaded = predict::LoadModel(*prev, lo); !loaded) {
      Refuse(Refusal::kGoldenMismatch, topic, slot.previous_version, "previous file: " + loaded.message());
      continue;
    }
    auto cur = ReadFile(path, predict::kMaxModelFileBytes);
    if (auto st = WriteFileAtomic(path, *prev); !st) {
      Refuse(Refusal::kInstallFailed, topic, slot.previous_version, st.message());
      continue;
    }
    ModelHandover h;
    h.target = slot.target;
    h.horizon_min = slot.horizon_min;
    h.kind = slot.kind;
    h.version = slot.previous_version;
    h.sha256 = slot.previous_sha256;
    h.path = path;
    h.restore = true;
    if (hook_) {
      if (auto st = hook_(h); !st) {
        if (cur) (void)WriteFileAtomic(path, *cur);
        Refuse(Refusal::kInstallFailed, topic, slot.previous_version, "prediction service refused: " + st.message());
        continue;
      }
    }
    // The rolled-back version stays the anti-rollback floor: its retained
    // manifest is not taken again (not even as the newest artifact run).
    RemoveQuietly(path + ".prev");
    const int64_t from = slot.active_version;
    slot.active_version = slot.previous_version;
    slot.active_sha256 = slot.previous_sha256;
    slot.highest_sha256.clear();
    slot.canary_version = 0;
    slot.previous_version = 0;
    slot.previous_sha256.clear();
    {
      std::lock_guard lock(mu_);
      slots_[SlotKeyName(slot.target, slot.horizon_min, slot.kind)] = slot;
      if (auto st = SaveStateLocked(); !st) {
        spdlog::error("updater: state file {} not written: {}", config_.state_file, st.message());
      }
    }
    spdlog::warn("updater: rolled back {}/{}/{} from version {} to {} (command {})", slot.target,
                 slot.horizon_min, slot.kind, from, slot.active_version, c.id);
    Record({topic, slot.active_version, "rolled_back", "from " + std::to_string(from)});
  }
}

std::vector<ModelVersionInfo> ModelUpdater::ModelInfo() const {
  std::lock_guard lock(mu_);
  std::vector<ModelVersionInfo> out;
  for (const auto& [key, s] : slots_) {
    if (s.active_version > 0) out.push_back({s.target, s.horizon_min, s.kind, std::to_string(s.active_version)});
    if (s.shadow_version > 0) {
      out.push_back({s.target, s.horizon_min, s.kind + "-shadow", std::to_string(s.shadow_version)});
    }
  }
  return out;
}

std::vector<SlotState> ModelUpdater::Slots() const {
  std::lock_guard lock(mu_);
  std::vector<SlotState> out;
  for (const auto& [key, s] : slots_) out.push_back(s);
  return out;
}

std::vector<UpdateOutcome> ModelUpdater::Outcomes() const {
  std::lock_guard lock(mu_);
  return {outcomes_.begin(), outcomes_.end()};
}

int64_t ModelUpdater::RefusedCount(Refusal r) const {
  std::lock_guard lock(mu_);
  return refused_[static_cast<int>(r)];
}

}  // namespace sentinelle::agent
