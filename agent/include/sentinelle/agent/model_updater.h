// ModelUpdater: installs signed models announced on the retained manifest
// topics (docs/PROTOCOL.md, "Model manifest"; docs/MODELS.md, "Updater").
//
// Fed raw manifest messages (topic + payload) by the engine; every check
// runs on the updater's own worker thread, never on the engine's. Order:
//   1. size limit and strict decode                 -> malformed
//   2. Ed25519 signature with the configured key    -> bad_signature
//   3. target/horizon/kind equal the topic's        -> wrong_topic
//   4. InScope(station)                             -> out_of_scope
//   5. expiry against the Env wall clock            -> expired
//   6. anti-rollback: version above the highest ever installed for
//      (target, horizon, kind) unless the signed manifest says rollback;
//      the same version as the active one is a silent no-op ("unchanged",
//      retained manifests are re-delivered on every reconnect) -> older_version
//   7. manifest feature spec computable by this build -> foreign_feature_spec
//   8. download (FetchToFile: cap = manifest size, resume, timeouts, bearer
//      token), retried download_attempts times  -> download_failed
//   9. size and SHA-256 equal the manifest's      -> checksum_mismatch
//  10. ReadModelFile; envelope target/horizon/kind/version equal the
//      manifest's (else malformed); envelope feature spec computable and
//      equal to the manifest's                   -> foreign_feature_spec
//  11. LoadModel: booster parses, golden pairs reproduce -> golden_mismatch
//  12. atomic install: {model_dir}/{target}_{h}_{kind}.json (write, fsync,
//      rename), the previous file kept as ....json.prev; then the install
//      hook (the prediction service) takes it; if it refuses, the previous
//      file is restored and handed back                -> install_failed
// State ({target,horizon,kind} -> active version, previous version, highest
// version ever installed, shadow version) lives in `state_file`, rewritten
// atomically after every change, so a restart cannot be tricked into an
// older version.
//
// Every refusal increments sentinelle_agent_model_updates_refused_total{reason}
// and logs one line (rate-limited); the model that was running stays.
//
// Two retained topics per scope (docs/PROTOCOL.md, "Topics per scope"): the
// production manifest, and the staged rollout (".../rollout/manifest": the
// family's current shadow or canary, for the stations it lists).
// Stage "shadow": a model in scope is verified the same way and staged as
// {target}_{h}_{kind}.json.shadow; the hook is called with shadow = true.
// Stage "canary": installed as the active model like a production one, and
// remembered as a canary (SlotState::canary_version).
// A later canary/production manifest for a staged shadow's version takes
// the staged file without downloading it again.
// The rollout ends for this station when its rollout topic is cleared (empty
// retained payload), announces a version whose scope leaves it out, or (for
// an agent that was offline when it was cleared) when a production manifest
// is not followed by a rollout manifest within `rollout_grace_ms`: the
// shadow is withdrawn (hook with version 0) and a canary gives way to the
// last production manifest received (signed with the rollback permission),
// or, when nothing is in production, is removed (hook with version 0).
// A production manifest older than the running canary does not replace it
// while the rollout still announces it; a production manifest of the staged
// version (promotion) or newer ends the staging.
// Compatibility: a shadow or canary manifest on the production topic (a
// collector that announced everything on one topic) is handled the same
// way; a production manifest on a rollout topic is refused (wrong_topic).
//
// A newer manifest on the same topic supersedes one still queued. Commands
// named "rollback" restore the .prev file of (target, horizon_min) for every
// kind that has one.
//
// Thread-safe: OnManifest/OnCommand only queue; queries take a short lock.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/env.h"
#include "sentinelle/manifest.h"
#include "sentinelle/result.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
}  // namespace prometheus

namespace sentinelle::agent {

class Engine;
struct AgentConfig;

struct UpdaterConfig {
  bool enabled = false;            // true when the `updater` object is present
  std::string public_key_file;     // the collector's Ed25519 public key (hex line)
  std::string model_dir;           // where model files are installed
  std::string state_file;          // default {model_dir}/.updater-state
  std::string download_token;      // viewer bearer token for the artifact endpoint
  std::string ca_file;             // CA bundle for an https artifact URL
  int64_t max_bytes = 64LL << 20;  // hard cap on an artifact, whatever the manifest says
  int connect_timeout_ms = 5000;
  int total_timeout_ms = 120000;
  int stall_timeout_ms = 30000;
  int download_attempts = 3;       // per manifest, resuming the partial file
  int64_t retry_delay_ms = 10000;  // between attempts (real time)
  int64_t rollout_grace_ms = 10000;  // wait for a rollout manifest after a production one

  // From the agent config's `updater` object; throws ConfigError naming the
  // key on any invalid or unknown setting. enabled = false when absent.
  static UpdaterConfig FromAgentConfig(const AgentConfig& agent);
};

enum class Refusal {
  kMalformed = 0,
  kBadSignature,
  kWrongTopic,
  kOutOfScope,
  kExpired,
  kOlderVersion,
  kDownloadFailed,
  kChecksumMismatch,
  kForeignFeatureSpec,
  kGoldenMismatch,
  kInstallFailed,
};
inline constexpr int kRefusalCount = 11;
std::string_view RefusalName(Refusal r);

// What the install hook receives: a verified file already in place.
struct ModelHandover {
  std::string target;
  int horizon_min = 0;
  std::string kind;      // "station" | "network" | "linear"
  int64_t version = 0;
  std::string path;      // the installed file
  std::string sha256;    // of the file
  bool shadow = false;   // staged next to the active model, not the answer;
                         // with version 0: the staged shadow was withdrawn
                         // (not shadow, version 0: a canary removed)
  bool restore = false;  // a previous file handed back (refusal or rollback)
};
// Returns an error when the model cannot be taken (the updater then restores
// the previous file and calls the hook again with restore = true). Runs on
// the updater's thread.
using InstallHook = std::function<Status(const ModelHandover&)>;

class PredictionService;

// The hook for the agent's prediction service: rescans its model directory
// (PredictionService::Reload) and succeeds only when the chain then runs the
// handed-over version in that slot; for a shadow model, that the chain runs
// it in the slot's shadow (kind "{kind}-shadow"), and for a withdrawn shadow
// (shadow with version 0) or a removed canary (version 0) only the rescan.
// `service` may be null (no prediction: always Ok).
InstallHook MakePredictionServiceHook(PredictionService* service);

struct SlotState {
  std::string target;
  int horizon_min = 0;
  std::string kind;
  int64_t active_version = 0;   // 0: nothing installed by the updater
  std::string active_sha256;
  int64_t previous_version = 0; // the .prev file's version, 0 when none
  std::string previous_sha256;
  int64_t highest_version = 0;  // anti-rollback floor
  int64_t shadow_version = 0;
  std::string shadow_sha256;
  int64_t canary_version = 0;   // the active version came from a canary announcement
  std::string highest_sha256;   // artifact of highest_version (may be taken again)
};

// One processed message or command, newest last (bounded history).
struct UpdateOutcome {
  std::string topic;             // or "command:rollback"
  int64_t version = 0;
  std::string result;            // "installed", "shadow", "unchanged", "rolled_back",
                                 // "ignored" or a RefusalName
  std::string detail;
};

class ModelUpdater {
 public:
  // Reads the public key and the state file, creates model_dir. `env` (not
  // owned) supplies the wall clock for expiry; `registry` may be null.
  // Errors: unreadable key, corrupt state file, model_dir not creatable.
  static Result<std::unique_ptr<ModelUpdater>> Create(UpdaterConfig config, std::string station_id,
                                                      std::string topic_prefix, Env* env,
                                                      std::shared_ptr<prometheus::Registry> registry,
                                                      InstallHook hook);
  ~ModelUpdater();  // Stop()

  // Registers the manifest and command observers. Call before engine.Start().
  void Attach(Engine& engine);
  void Start();
  // Stops the worker after the step in progress (a download in progress runs
  // until it ends or its total_timeout_ms). Idempotent.
  void Stop();

  // Queue one manifest message (any thread, never blocks on I/O). An empty
  // payload (a cleared retained topic) is ignored.
  void OnManifest(const std::string& topic, const std::string& payload);
  // Queues a rollback command; other commands are ignored.
  void OnCommand(const Command& command);

  // Active and shadow versions for the status message ("kind" of a shadow
  // entry is "{kind}-shadow").
  std::vector<ModelVersionInfo> ModelInfo() const;
  // Status `models` for an agent running a prediction service: what its
  // chain runs, plus the updater's shadow entries (no service: ModelInfo()).
  std::vector<ModelVersionInfo> StatusModels(const PredictionService* service) const;
  std::vector<SlotState> Slots() const;
  std::vector<UpdateOutcome> Outcomes() const;
  // Refusals counted since start, by reason.
  int64_t RefusedCount(Refusal r) const;
  // The file path of a slot's active model.
  std::string ModelPath(std::string_view target, int horizon_min, std::string_view kind) const;

 private:
  struct Job {
    std::string topic;
    std::string payload;
    Command command;
    bool is_command = false;
    int attempts = 0;
    int64_t not_before_mono_ms = 0;
    int64_t received_mono_ms = 0;
    bool recheck = false;  // a production manifest waiting to see the rollout go on
  };
  // The last production manifest received for a slot (the way back when a
  // canary ends).
  struct Received {
    std::string topic;
    std::string payload;
    int64_t received_mono_ms = 0;
  };
  struct Impl;

  ModelUpdater(UpdaterConfig config, std::string station_id, std::string topic_prefix, Env* env,
               InstallHook hook);
  void Run();
  void Process(Job job);
  void ProcessManifest(Job job);
  void ProcessRollback(const Command& c);
  // Removes the staged shadow of a slot and tells the hook (version 0).
  void DropShadow(const std::string& key, SlotState& slot);
  // The rollout of a slot ended for this station (`why`): withdraws the
  // shadow; a canary gives way to the last production manifest (queued) or,
  // when there is none, is removed.
  void EndRollout(const std::string& key, SlotState& slot, const std::string& topic,
                  const std::string& why);
  void SaveSlot(const std::string& key, const SlotState& slot);
  void Refuse(Refusal r, const std::string& topic, int64_t version, const std::string& detail);
  void Record(UpdateOutcome outcome);
  Status SaveStateLocked();
  std::string SlotKeyName(const std::string& target, int horizon_min, const std::string& kind) const;

  UpdaterConfig config_;
  std::string station_id_;
  std::string prefix_;
  Env* env_;
  InstallHook hook_;
  std::string public_key_;
  std::unique_ptr<Impl> metrics_;

  mutable std::mutex mu_;  // guards everything below up to the next comment
  std::map<std::string, SlotState> slots_;  // by "target/h/kind"
  std::deque<UpdateOutcome> outcomes_;
  std::array<int64_t, kRefusalCount> refused_{};
  std::map<std::string, Job> pending_;      // by topic: the newest unprocessed manifest
  std::map<std::string, Received> production_;    // by slot key
  std::map<std::string, int64_t> rollout_seen_;   // by slot key: receipt of the last rollout manifest
  std::deque<Job> commands_;
  bool stopping_ = false;
  std::condition_variable cv_;

  std::mutex log_mu_;
  int64_t log_window_mono_ms_ = 0;
  int log_count_ = 0;

  std::thread worker_;
};

}  // namespace sentinelle::agent
