// Engine: wires the agent's stages (input -> aggregator -> store -> MQTT
// publisher) and is the one owner of retries, backoff and drops.
//
// Threads: an input thread (when input.kind is not "none") and one worker
// thread that closes windows by the system clock, retries failed commits,
// manages the broker connection (backoff with full jitter), publishes the
// outbox in order, handles acks and commands, and calls reading observers.
// paho's callback thread only queues messages for the worker.
//
// Guarantees: a closed window is committed to SQLite (with its seq) before
// it can be published; it leaves the outbox only on the collector's ack; on
// every (re)connect all unconfirmed readings are replayed in seq order.
//
// Ack timeout: with readings sent but no ack progress for mqtt.ack_timeout_ms
// every unconfirmed reading is replayed. The n-th replay in a row without
// progress comes after a random wait in [d/2, d], d = min(ack_timeout_max_ms,
// ack_timeout_ms * 2^n), never less than ack_timeout_ms; any progress (an ack
// that confirms something) starts over at ack_timeout_ms. A collector that is
// down for hours thus costs a few replays an hour, not one per timeout.
//
// Public methods are thread-safe unless noted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sentinelle/agent/aggregator.h"
#include "sentinelle/agent/config.h"
#include "sentinelle/agent/input.h"
#include "sentinelle/agent/metrics.h"
#include "sentinelle/agent/mqtt_client.h"
#include "sentinelle/agent/store.h"
#include "sentinelle/codec.h"
#include "sentinelle/env.h"
#include "sentinelle/topics.h"

namespace sentinelle::agent {

// clock.source = "input": wall time is the latest timestamp seen on the
// sensor input (samples and clock ticks); unset (0) before the first line.
// Intervals and sleeps use the real monotonic clock. Thread-safe.
class InputClockEnv final : public Env {
 public:
  int64_t WallMs() override { return latest_ms_.load(); }
  int64_t MonotonicMs() override { return RealMonotonicMs(); }
  void SleepMs(int64_t ms) override;
  bool WallClockSynced() override { return latest_ms_.load() > 0; }
  // Moves the clock forward to ts_ms (never backward).
  void Observe(int64_t ts_ms);

 private:
  std::atomic<int64_t> latest_ms_{0};
};

class Engine {
 public:
  using ReadingObserver = std::function<void(const Reading&)>;
  using ModelInfoProvider = std::function<std::vector<ModelVersionInfo>()>;
  using CommandObserver = std::function<void(const Command&)>;
  using ManifestObserver =
      std::function<void(const std::string& topic, const std::string& payload)>;

  // Opens the store and prepares the stages; starts nothing. `env` (not
  // owned, must outlive the engine) overrides the clock for tests; by default
  // clock.source picks SystemEnv or an InputClockEnv. Errors: store cannot be
  // opened/migrated, input socket cannot be bound, MQTT URI unusable.
  static Result<std::unique_ptr<Engine>> Create(AgentConfig config, Env* env = nullptr);
  ~Engine();  // Stop()

  // Starts the metrics endpoint (when configured), the input and worker
  // threads and the first connection attempt.
  Status Start();
  // Graceful stop: stops the input, lets the worker drain the outbox for up
  // to mqtt.shutdown_flush_ms while connected, publishes the retained
  // "offline" status, disconnects and joins the threads. Idempotent.
  void Stop();
  // True once Stop() was called or the input reached EOF with exit_on_eof.
  bool stop_requested() const { return stop_requested_.load(); }

  // Feeds one sensor line as if it came from the input (tests, in-process
  // firmware). Thread-safe; serialised with the input thread.
  void HandleLine(std::string_view line);

  // --- Extension points (on-station prediction) ---
  // Called in commit order, once per newly closed window, after it is
  // committed to SQLite, on the worker thread (never under an engine lock, so
  // an observer may call PublishPredictions). Register before Start().
  void AddReadingObserver(ReadingObserver observer);
  // Fills the `models` list of status messages. Called on the worker thread
  // without engine locks, at most once a second; the answer is cached.
  void SetModelInfoProvider(ModelInfoProvider provider);
  // Receives every valid command (backfill/resync are also handled here;
  // rollback is only logged and forwarded). Register before Start().
  void AddCommandObserver(CommandObserver observer);
  // Receives every message on the model manifest topics the engine
  // subscribes to (Topics::StationManifestFilters: production and rollout
  // topics of the network, linear and own station scopes), raw and
  // unvalidated, empty payloads of cleared topics included (the
  // observer decodes and verifies), on the worker thread without engine
  // locks. It must not block: the model updater only queues. Register
  // before Start().
  void AddManifestObserver(ManifestObserver observer);
  // Publishes `payload` (a prediction batch, encoded by the caller) on
  // {p}/stations/{id}/predictions at QoS 1 when connected. When offline it is
  // dropped, counted (drops_total{reason="predictions_offline"}) and an error
  // is returned: the prediction code keeps its own local copy.
  Status PublishPredictions(std::string payload);

  const AgentConfig& config() const { return config_; }
  const std::string& store_path() const { return config_.store.path; }
  Env* env() const { return env_; }
  std::shared_ptr<prometheus::Registry> registry() const { return metrics_.registry(); }
  Metrics& metrics() { return metrics_; }
  const std::string& boot_id() const { return boot_id_; }
  int input_port() const { return input_ ? input_->port() : 0; }
  int metrics_port() const { return metrics_port_; }

  struct Snapshot {
    int64_t last_seq = 0;
    int64_t unconfirmed = 0;
    int64_t rows = 0;
    int64_t bytes = 0;
    size_t open_windows = 0;
    size_t pending_commits = 0;
    bool connected = false;
  };
  Snapshot GetSnapshot();

  // Test hook: caps the store's database size (PRAGMA max_page_count) so
  // commits fail like on a full disk; 0 lifts the cap. Thread-safe.
  Status TEST_SetStoreMaxPageCount(int64_t pages);

 private:
  struct Incoming {
    std::string topic;
    std::string payload;
  };
  struct SentBatch {
    int64_t first_seq;
    int64_t last_seq;
    int64_t sent_mono_ms;
  };

  Engine(AgentConfig config, Env* env, std::unique_ptr<Env> owned_env, std::string boot_id);

  void WorkerLoop();
  void InputLoop();
  // All below run with mu_ held.
  void CloseAndCommitLocked(int64_t now_ms);
  void CommitPendingLocked();
  bool ClockTrustedLocked();
  TimeQuality TimeQualityLocked();
  void ManageConnectionLocked(int64_t now_mono_ms);
  void PumpLocked(int64_t now_mono_ms);
  bool PublishRowsLocked(const std::vector<StoredReading>& rows, size_t count, bool replay,
                         int64_t now_mono_ms);
  void HandleIncomingLocked(const Incoming& msg, int64_t now_mono_ms,
                            std::vector<Command>& commands);
  void OnLinkEventLocked(bool up, const std::string& cause, int64_t now_mono_ms);
  void ScheduleReconnectLocked(int64_t now_mono_ms);
  // Random delay in [d/2, d] (equal jitter).
  int64_t JitterLocked(int64_t d);
  void ResetAckBackoffLocked();
  void PublishStatusLocked(bool online);
  std::string StatusPayloadLocked(bool online, bool will);
  void UpdateGaugesLocked();
  void RefreshModelInfo();
  void RejectLine(std::string_view reason, const std::string& detail);

  AgentConfig config_;
  std::unique_ptr<Env> owned_env_;
  Env* env_;
  InputClockEnv* input_clock_ = nullptr;  // set when clock.source = "input"
  std::string boot_id_;
  Topics topics_;
  Metrics metrics_;
  int metrics_port_ = 0;

  std::mutex mu_;  // guards everything below up to the next comment
  std::unique_ptr<Store> store_;
  std::unique_ptr<Aggregator> aggregator_;
  std::deque<Reading> pending_commits_;
  std::deque<Reading> observer_queue_;
  int64_t gap_skipped_seen_ = 0;
  StoreCounters store_counters_seen_;
  // Publisher state.
  bool link_up_ = false;             // worker's view of the connection
  bool connecting_ = false;
  int64_t next_attempt_mono_ms_ = 0;
  int64_t backoff_ms_ = 0;
  uint64_t failed_writes_seen_ = 0;  // MqttClient counters already in the metrics
  uint64_t client_resets_seen_ = 0;
  int attempts_ = 0;
  int64_t send_cursor_ = 0;          // highest seq sent since the last (re)start of replay
  int64_t live_floor_seq_ = 0;       // readings at or below were committed before this connect
  int64_t max_sent_seq_ = 0;         // highest seq ever sent by this process
  int64_t last_progress_mono_ms_ = 0;  // last ack progress (or start of waiting)
  int64_t ack_wait_ms_ = 0;          // current wait for ack progress before a replay
  int ack_timeouts_in_row_ = 0;      // replays since the last ack progress
  int64_t publish_failure_logged_mono_ms_ = 0;
  int64_t publish_failures_unlogged_ = 0;
  int64_t next_commit_retry_mono_ms_ = 0;
  bool ever_connected_ = false;
  int64_t last_status_mono_ms_ = 0;
  std::deque<SeqRange> backfills_;
  std::deque<SentBatch> sent_batches_;
  ModelInfoProvider model_info_;
  std::vector<ModelVersionInfo> cached_models_;
  int64_t models_refreshed_mono_ms_ = 0;
  bool models_refreshed_ = false;
  std::vector<ReadingObserver> observers_;
  std::vector<CommandObserver> command_observers_;
  std::vector<ManifestObserver> manifest_observers_;
  std::deque<Incoming> manifest_queue_;
  uint64_t rng_state_;

  std::mutex in_mu_;  // guards the two below; never held with mu_ taken after it
  std::deque<Incoming> incoming_;
  std::deque<std::pair<bool, std::string>> link_events_;

  std::condition_variable_any wake_;
  std::mutex wake_mu_;
  bool wake_flag_ = false;
  void Wake();

  std::unique_ptr<MqttClient> mqtt_;
  std::unique_ptr<Input> input_;
  std::thread input_thread_;
  std::thread worker_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> flushing_{false};
  int64_t log_budget_reset_mono_ms_ = 0;
  int log_budget_ = 0;
  std::mutex log_mu_;
};

}  // namespace sentinelle::agent
