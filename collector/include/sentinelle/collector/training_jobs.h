// Training jobs: one worker thread runs queued training requests one at a
// time and registers what they produce; triggers are on demand (API, CLI),
// the schedule (training.schedule_interval_s, weekly by default) and
// monitoring alarms, with a per-target cooldown (training.alarm_cooldown_s)
// so a burst of alarms cannot start a retraining storm (docs/MODELS.md,
// "Triggers").
//
// Training never blocks ingest: it runs on its own thread at a lower CPU
// priority (nice 10), reads history through the store's reader connections
// (WAL readers never wait for the writer) and writes only to the registry's
// own database.
//
// Job records are persisted in the registry database (table `jobs`, the
// latest 200 are loaded at Start()): a restart still lists past jobs, and a
// job that was queued or running when the collector stopped without
// finishing it (crash, kill -9, power loss) is marked failed with the reason
// "interrupted". What jobs produced is in the registry with the job id in
// its lineage. The schedule and cooldown clocks are kept in the registry so
// a restart does not retrain at once.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/env.h"

namespace sentinelle::collector {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed };
std::string_view JobStateName(JobState s);

struct JobStatus {
  std::string id;
  JobState state = JobState::kQueued;
  TriggerInfo trigger;
  nlohmann::json request;        // targets, horizons, stations
  TrainProgress progress;
  int64_t created_s = 0, started_s = 0, finished_s = 0;
  std::string message;           // failure reason, or a summary
  std::vector<int64_t> versions; // registered versions
  std::vector<std::string> skipped;
  nlohmann::json ToJson() const;
  // The inverse of ToJson (the persisted form). Errors: not that shape.
  static Result<JobStatus> FromJson(const nlohmann::json& j);
};

class TrainingJobs {
 public:
  // Called after a job registered its models (e.g. to announce or log).
  using OnDone = std::function<void(const JobStatus&)>;

  // All pointers borrowed; they must outlive this object.
  TrainingJobs(Trainer* trainer, ModelRegistry* registry, Env* env, TrainingConfig config,
               OnDone on_done = {});
  ~TrainingJobs();  // Stop()

  // Loads the persisted jobs (marking interrupted ones failed), then starts
  // the worker (which also drives the schedule once per second).
  void Start();
  // Cancels the running job between two models, drops queued ones, joins.
  void Stop();

  // Queues a job. Errors: the queue is full (training.max_queued_jobs).
  Result<std::string> Submit(const TrainRequest& request, TriggerInfo trigger);
  // A monitoring alarm (drift or accuracy) for `target`: queues a retrain of
  // that target unless one ran or was queued for it within the cooldown, or
  // one is queued or running. The error says why it was refused.
  Result<std::string> OnAlarm(Variable target, const std::string& alarm, int64_t now_s);
  // Queues the scheduled full retrain when due. Returns its id when queued.
  std::optional<std::string> Tick(int64_t now_s);

  // Called by the worker about once per second while idle, and between two
  // jobs (accuracy gate, manifest refresh).
  // Set before Start().
  void SetIdleHook(std::function<void(int64_t now_s)> hook) { idle_hook_ = std::move(hook); }

  std::optional<JobStatus> Get(const std::string& id) const;
  std::vector<JobStatus> List() const;
  int64_t alarms_refused() const { return alarms_refused_.load(); }

 private:
  struct Job {
    JobStatus status;
    TrainRequest request;
  };
  void Loop();
  void RunJob(const std::string& id);
  Result<std::string> Enqueue(const TrainRequest& request, TriggerInfo trigger, int64_t now_s);
  // Writes a job's record to the registry (failures are logged: the job
  // itself goes on).
  void Persist(const JobStatus& status);
  void LoadPersisted();

  Trainer* trainer_;
  ModelRegistry* registry_;
  Env* env_;
  TrainingConfig config_;
  OnDone on_done_;
  std::function<void(int64_t)> idle_hook_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;             // newest last, bounded
  std::deque<std::string> queue_;    // ids waiting
  bool stopping_ = false;
  bool started_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> alarms_refused_{0};
  int64_t next_id_ = 1;
  std::thread worker_;
};

}  // namespace sentinelle::collector
