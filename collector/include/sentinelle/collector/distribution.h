// Model distribution on the collector: the Ed25519 signing key, signed
// manifests for registry versions, and their announcement on the retained
// manifest topics (docs/PROTOCOL.md, "Model manifest"; docs/MODELS.md,
// "Bundle").
//
// A bundle is the model file (the artifact, predict/model_file.h: booster,
// feature specification, golden input/output pairs and the reference
// histograms in "training") plus a signed manifest naming its version,
// sha256, size, feature specification, XGBoost version, stage, rollout
// stations and expiry. The signature covers the manifest; the manifest
// covers the artifact through its sha256.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training_config.h"
#include "sentinelle/crypto.h"
#include "sentinelle/manifest.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

// Loads the key pair, or creates it when neither file exists (first start):
// private key mode 0600, public key 0644. Errors: only one of the two files
// exists, a file is unreadable or malformed, the public key does not match
// the private one, the private key file is readable by group or others.
Result<Ed25519KeyPair> LoadOrCreateSigningKey(const std::string& private_path,
                                              const std::string& public_path);

// Retained manifest topics (docs/PROTOCOL.md, "Topics per scope"), two per
// scope: production, and the staged rollout (the family's current shadow or
// canary) on ".../rollout/manifest" so that a staged announcement never
// replaces the production one:
//   network: {p}/models/{target}/{horizon}[/rollout]/manifest
//   linear:  {p}/models/{target}/{horizon}/linear[/rollout]/manifest
//   station: {p}/models/{target}/{horizon}/stations/{id}[/rollout]/manifest
std::string ManifestTopic(const std::string& prefix, const ModelFamily& family,
                          bool rollout = false);

struct ManifestOptions {
  std::string public_url;        // artifact URL base
  int64_t ttl_s = 30 * 86400;
  bool rollback = false;         // signed permission to go back to an older version
};

// The signed manifest of a registry version at its current stage. Error for
// a stage that is not announced (candidate, archived) or a missing artifact.
Result<Manifest> BuildManifest(const ModelRecord& record, const ManifestOptions& options,
                               int64_t now_s, const std::string& private_key);

// Publishes retained messages (the MQTT link in production).
using RetainedPublisher = std::function<void(const std::string& topic, const std::string& payload)>;

// Announces registry versions and remembers the latest manifest of each
// version (served by GET /api/v1/models/{version}/manifest). Thread-safe.
class Distributor {
 public:
  // registry is borrowed; publisher may be empty (nothing announced).
  Distributor(ModelRegistry* registry, Ed25519KeyPair key, ModelsConfig config,
              std::string topic_prefix, RetainedPublisher publisher);

  // Signs and publishes the version's manifest: a production version on the
  // family's production topic, a shadow or canary version on its rollout
  // topic. The manifest carries the rollback permission when `rollback` is
  // set or a newer version of the family was ever announced (so
  // re-announcing after a restart keeps it). Announcing a production version
  // is always followed by the rollout topic: the family's staged version
  // announced again, or the topic cleared when there is none (its rollout
  // ended by promotion or rollback).
  Result<Manifest> Announce(int64_t version, int64_t now_s, bool rollback = false);
  // Makes the rollout topic match the registry: the family's staged version
  // announced, or the topic cleared when there is none.
  Status SyncRollout(const ModelFamily& family, int64_t now_s);
  // Clears both retained manifests of the family (empty retained payloads),
  // e.g. when a canary with no production model behind it is rolled back.
  void Withdraw(const ModelFamily& family);
  std::optional<Manifest> LatestManifest(int64_t version) const;
  const std::string& public_key() const { return key_.public_key; }
  // Called after every announcement and withdrawal with the family concerned
  // (outside the distributor's lock; the collector keeps the versions station
  // health expects with it).
  using FamilyObserver = std::function<void(const ModelFamily& family)>;
  void SetObserver(FamilyObserver observer);

 private:
  void Notify(const ModelFamily& family);
  // Publishes an empty retained payload on the rollout topic unless this
  // process already cleared it and announced nothing there since.
  void ClearRollout(const ModelFamily& family);
  ModelRegistry* registry_;
  Ed25519KeyPair key_;
  ModelsConfig config_;
  std::string prefix_;
  RetainedPublisher publisher_;
  mutable std::mutex mu_;
  std::map<int64_t, Manifest> latest_;
  std::map<std::string, bool> rollout_announced_;  // rollout topic -> holds a manifest
  FamilyObserver observer_;  // guarded by mu_
};

}  // namespace sentinelle::collector
