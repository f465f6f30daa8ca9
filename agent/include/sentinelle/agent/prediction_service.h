// On-station prediction: the fallback chain fed by the engine's committed
// readings (docs/MODELS.md). For each new window it predicts every configured
// target and horizon, stores the predictions in its own SQLite file,
// publishes them on {p}/stations/{id}/predictions, and joins earlier
// predictions with the window to keep rolling error figures (metrics
// sentinelle_agent_prediction_*), online or not.
//
// Models come from `prediction.model_dir` (*.json model files): a background
// thread rescans it every reload_interval_ms and hot-swaps new or changed
// files; a file that fails to load leaves the previous model in place; a
// removed file unloads its model. Reload() does the same on demand.
//
// Own SQLite file (prediction.db_path, default "<store.path>.predictions.db")
// with its own schema version: the station's recent history (warms features
// and the hour-of-day profile at start-up), predictions (kept
// retain_predictions_s) with their outcome once joined.
//
// Thread-safe: OnReading runs on the engine's worker thread; Reload and
// ModelInfo may run on any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/predict/accuracy.h"
#include "sentinelle/predict/chain.h"
#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace prometheus {
class Registry;
}

namespace sentinelle::agent {

class Engine;
struct AgentConfig;

struct PredictionConfig {
  bool enabled = true;
  std::string model_dir;  // empty: no models, persistence only
  std::string db_path;
  predict::ChainConfig chain;
  int64_t reload_interval_ms = 5000;  // 0: no background rescans
  int history_windows = predict::kMaxHistorySteps;
  int64_t retain_predictions_s = 7 * 86400;
  size_t accuracy_window = 288;

  // From the agent config's `prediction` object; throws ConfigError naming
  // the key on any invalid or unknown setting.
  static PredictionConfig FromAgentConfig(const AgentConfig& agent);
};

class PredictionService {
 public:
  using Publisher = std::function<Status(std::string payload)>;

  // Opens (creating/migrating) the database, warms the chain from the stored
  // history, loads the model directory. `registry` may be null (no metrics).
  static Result<std::unique_ptr<PredictionService>> Create(PredictionConfig config, std::string station_id,
                                                           std::shared_ptr<prometheus::Registry> registry,
                                                           Publisher publisher);
  ~PredictionService();  // stops the rescan thread

  // Registers with the engine (reading observer, model info, publisher must
  // already point at engine.PublishPredictions) and starts rescans. Call
  // before engine.Start().
  void Attach(Engine& engine);
  void StartReloads();

  // Engine observer: one committed reading.
  void OnReading(const Reading& reading);
  // Rescans model_dir now. Returns how many files were (re)installed.
  int Reload();
  std::vector<ModelVersionInfo> ModelInfo() const;

  const predict::FallbackChain& chain() const { return *chain_; }
  // Snapshot of the accuracy figures (tests, status).
  std::vector<predict::AccuracyTracker::Entry> Accuracy() const;
  const std::string& db_path() const { return config_.db_path; }

 private:
  struct Impl;
  PredictionService(PredictionConfig config, std::string station_id);

  PredictionConfig config_;
  std::string station_id_;
  std::unique_ptr<predict::FallbackChain> chain_;
  std::unique_ptr<Impl> impl_;

  std::mutex reload_mu_;  // serialises Reload
  std::map<std::string, std::string> files_;  // path -> "size:mtime" last seen (reload_mu_)
  std::map<std::string, predict::SlotKey> slot_of_;  // path -> slot it installed (reload_mu_)

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread reloader_;
};

}  // namespace sentinelle::agent
