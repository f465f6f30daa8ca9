#include "sentinelle/collector/distribution.h"

#include <sys/stat.h>

#include <filesystem>

#include "sentinelle/topics.h"

namespace sentinelle::collector {

Result<Ed25519KeyPair> LoadOrCreateSigningKey(const std::string& private_path,
                                              const std::string& public_path) {
  std::error_code ec;
  const bool have_private = std::filesystem::exists(private_path, ec);
  const bool have_public = std::filesystem::exists(public_path, ec);
  if (!have_private && !have_public) {
    for (const std::string& p : {private_path, public_path}) {
      const auto parent = std::filesystem::path(p).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec) return MakeError("cannot create " + parent.string() + ": " + ec.message());
    }
    auto pair = GenerateEd25519KeyPair();
    if (!pair) return pair.error();
    if (Status st = WriteKeyFile(private_path, pair->private_key, true); !st) return st.error();
    if (Status st = WriteKeyFile(public_path, pair->public_key, false); !st) return st.error();
    return pair;
  }
  if (!have_private) {
    return MakeError("public key " + public_path + " exists but the private key " + private_path +
                     " does not: restore it or remove both to create a new pair");
  }
  struct stat st {};
  if (::stat(private_path.c_str(), &st) != 0) return MakeError("cannot stat " + private_path);
  if ((st.st_mode & 077) != 0) {
    return MakeError("private key " + private_path + " is readable by others (chmod 600 it)");
  }
  auto priv = ReadKeyFile(private_path);
  if (!priv) return MakeError(private_path + ": " + priv.message());
  auto pub = Ed25519PublicFromPrivate(*priv);
  if (!pub) return MakeError(private_path + ": " + pub.message());
  if (!have_public) {
    // The public key is derived data: re-export it.
    if (Status s = WriteKeyFile(public_path, *pub, false); !s) return s.error();
  } else {
    auto stored = ReadKeyFile(public_path);
    if (!stored) return MakeError(public_path + ": " + stored.message());
    if (*stored != *pub) {
      return MakeError(public_path + " does not belong to the private key " + private_path);
    }
  }
  return Ed25519KeyPair{*priv, *pub};
}

std::string ManifestTopic(const std::string& prefix, const ModelFamily& family, bool rollout) {
  return Topics(prefix).ScopedManifest(family.target, family.horizon_min, family.kind,
                                       family.station, rollout);
}

Result<Manifest> BuildManifest(const ModelRecord& record, const ManifestOptions& options,
                               int64_t now_s, const std::string& private_key) {
  Manifest m;
  m.target = record.family.target;
  m.horizon_min = record.family.horizon_min;
  m.kind = record.family.kind;
  m.version = record.version;
  switch (record.stage) {
    case Stage::kShadow: m.stage = "shadow"; break;
    case Stage::kCanary: m.stage = "canary"; break;
    case Stage::kProduction: m.stage = "production"; break;
    default:
      return MakeError("version " + std::to_string(record.version) + " is " +
                       std::string(StageName(record.stage)) + ": not announced");
  }
  if (record.family.kind == "station") {
    m.stations = {record.family.station};
  } else if (record.stage != Stage::kProduction) {
    m.stations = record.rollout_stations;
  }
  m.created_s = now_s;
  m.expires_s = now_s + options.ttl_s;
  m.rollback = options.rollback;
  std::string base = options.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  m.artifact_url = base + "/api/v1/models/" + std::to_string(record.version) + "/artifact";
  if (record.artifact_sha256.size() != 64) return MakeError("version has no artifact");
  m.artifact_sha256 = record.artifact_sha256;
  m.artifact_size = record.artifact_size;
  m.xgboost_version = record.xgboost_version;
  m.feature_spec = record.lineage.value("feature_spec", nlohmann::json::object());
  if (Status st = SignManifest(m, private_key); !st) return st.error();
  return m;
}

Distributor::Distributor(ModelRegistry* registry, Ed25519KeyPair key, ModelsConfig config,
                         std::string topic_prefix, RetainedPublisher publisher)
    : registry_(registry),
      key_(std::move(key)),
      config_(std::move(config)),
      prefix_(std::move(topic_prefix)),
      publisher_(std::move(publisher)) {}

Result<Manifest> Distributor::Announce(int64_t version, int64_t now_s, bool rollback) {
  auto rec = registry_->Get(version);
  if (!rec) return rec.error();
  if (!*rec) return MakeError("unknown version " + std::to_string(version));
  auto newer = registry_->NewerEverAnnounced((*rec)->family, version);
  if (!newer) return newer.error();
  ManifestOptions o;
  o.public_url = config_.public_url;
  o.ttl_s = config_.manifest_ttl_s;
  o.rollback = rollback || *newer;
  auto m = BuildManifest(**rec, o, now_s, key_.private_key);
  if (!m) return m.error();
  const bool staged = (*rec)->stage != Stage::kProduction;
  const std::string topic = ManifestTopic(prefix_, (*rec)->family, staged);
  {
    std::lock_guard<std::mutex> lock(mu_);
    latest_[version] = *m;
    if (staged) rollout_announced_[topic] = true;
  }
  if (publisher_) publisher_(topic, EncodeManifest(*m));
  if (!staged) {
    // Production first, then the rollout topic, every time: an agent that
    // sees the rollout end already has the production manifest to go back
    // to, and an agent running a staged model sees it still announced
    // right after production (docs/PROTOCOL.md, "Topics per scope").
    auto current = registry_->Staged((*rec)->family);
    if (!current) return current.error();
    if (!*current) {
      ClearRollout((*rec)->family);
    } else if (auto again = Announce((*current)->version, now_s); !again) {
      return MakeError("production announced, rollout " + std::to_string((*current)->version) +
                       " not: " + again.message());
    }
  }
  Notify((*rec)->family);
  return m;
}

Status Distributor::SyncRollout(const ModelFamily& family, int64_t now_s) {
  auto current = registry_->Staged(family);
  if (!current) return current.error();
  if (*current) {
    auto m = Announce((*current)->version, now_s);
    if (!m) return m.error();
    return Status::Ok();
  }
  ClearRollout(family);
  Notify(family);
  return Status::Ok();
}

void Distributor::ClearRollout(const ModelFamily& family) {
  const std::string topic = ManifestTopic(prefix_, family, true);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rollout_announced_.find(topic);
    if (it != rollout_announced_.end() && !it->second) return;  // cleared by us already
    rollout_announced_[topic] = false;
  }
  if (publisher_) publisher_(topic, "");
}

void Distributor::Withdraw(const ModelFamily& family) {
  if (publisher_) publisher_(ManifestTopic(prefix_, family), "");
  ClearRollout(family);
  Notify(family);
}

void Distributor::SetObserver(FamilyObserver observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = std::move(observer);
}

void Distributor::Notify(const ModelFamily& family) {
  FamilyObserver observer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observer = observer_;
  }
  if (observer) observer(family);
}

std::optional<Manifest> Distributor::LatestManifest(int64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = latest_.find(version);
  if (it == latest_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sentinelle::collector
