#include "sentinelle/collector/training_jobs.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace sentinelle::collector {

namespace {
constexpr size_t kMaxJobsKept = 200;
constexpr const char* kScheduleClock = "schedule.last_s";
constexpr const char* kJobCounter = "jobs.last_id";

std::string AlarmClock(Variable target) { return "alarm." + std::string(Name(target)); }

nlohmann::json RequestJson(const TrainRequest& r) {
  std::vector<std::string> targets;
  for (Variable v : r.targets) targets.emplace_back(Name(v));
  return {{"targets", targets},
          {"horizons_min", r.horizons_min},
          {"stations", r.stations},
          {"network", r.network},
          {"station_models", r.station_models},
          {"linear", r.linear}};
}
}  // namespace

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
  }
  return "queued";
}

nlohmann::json JobStatus::ToJson() const {
  auto t = [](int64_t s) { return s ? nlohmann::json(FormatUtc(s)) : nlohmann::json(nullptr); };
  return {{"id", id},
          {"state", JobStateName(state)},
          {"trigger", {{"kind", trigger.kind}, {"by", trigger.by}}},
          {"request", request},
          {"progress", {{"done", progress.done}, {"total", progress.total}, {"step", progress.step}}},
          {"created", t(created_s)},
          {"started", t(started_s)},
          {"finished", t(finished_s)},
          {"message", message},
          {"versions", versions},
          {"skipped", skipped}};
}

Result<JobStatus> JobStatus::FromJson(const nlohmann::json& j) {
  try {
    JobStatus s;
    s.id = j.at("id").get<std::string>();
    const std::string state = j.at("state").get<std::string>();
    bool known = false;
    for (JobState st : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed}) {
      if (JobStateName(st) == state) {
        s.state = st;
        known = true;
      }
    }
    if (!known) return MakeError("job " + s.id + ": unknown state '" + state + "'");
    s.trigger.kind = j.at("trigger").at("kind").get<std::string>();
    s.trigger.by = j.at("trigger").at("by").get<std::string>();
    s.trigger.job_id = s.id;
    s.request = j.at("request");
    s.progress.done = j.at("progress").at("done").get<int>();
    s.progress.total = j.at("progress").at("total").get<int>();
    s.progress.step = j.at("progress").at("step").get<std::string>();
    auto t = [&](const char* key) -> int64_t {
      const auto& v = j.at(key);
      if (v.is_null()) return 0;
      return ParseUtc(v.get<std::string>()).value_or(0);
    };
    s.created_s = t("created");
    s.started_s = t("started");
    s.finished_s = t("finished");
    s.message = j.at("message").get<std::string>();
    s.versions = j.at("versions").get<std::vector<int64_t>>();
    s.skipped = j.at("skipped").get<std::vector<std::string>>();
    return s;
  } catch (const std::exception& e) {
    return MakeError(std::string("job record: ") + e.what());
  }
}

TrainingJobs::TrainingJobs(Trainer* trainer, ModelRegistry* registry, Env* env,
                           TrainingConfig config, OnDone on_done)
    : trainer_(trainer),
      registry_(registry),
      env_(env),
      config_(std::move(config)),
      on_done_(std::move(on_done)) {}

TrainingJobs::~TrainingJobs() { Stop(); }

void TrainingJobs::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
  }
  LoadPersisted();
  std::lock_guard<std::mutex> lock(mu_);
  worker_ = std::thread([this] { Loop(); });
}

void TrainingJobs::Persist(const JobStatus& status) {
  if (Status st = registry_->SaveJob(status.id, status.created_s, status.ToJson()); !st) {
    spdlog::warn("training job {}: record not saved: {}", status.id, st.message());
  }
}

void TrainingJobs::LoadPersisted() {
  auto loaded = registry_->LoadJobs(static_cast<int64_t>(kMaxJobsKept));
  if (!loaded) {
    spdlog::warn("training jobs: past jobs not loaded: {}", loaded.message());
    return;
  }
  const int64_t now_s = env_->WallMs() / 1000;
  // Jobs submitted by this process before Start() are its own, not left
  // over from a previous one.
  std::set<std::string> own;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Job& j : jobs_) own.insert(j.status.id);
  }
  std::deque<Job> past;
  for (const nlohmann::json& j : *loaded) {
    auto status = JobStatus::FromJson(j);
    if (!status) {
      spdlog::warn("training jobs: {}", status.message());
      continue;
    }
    if (own.count(status->id)) continue;
    // A job the previous process did not finish: it never will.
    if (status->state == JobState::kQueued || status->state == JobState::kRunning) {
      status->message = "interrupted: the collector stopped while the job was " +
                        std::string(JobStateName(status->state)) + "; marked failed at restart " +
                        FormatUtc(now_s);
      status->state = JobState::kFailed;
      status->finished_s = now_s;
      Persist(*status);
      spdlog::warn("training job {}: {}", status->id, status->message);
    }
    Job job;
    job.status = std::move(*status);
    past.push_back(std::move(job));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (Job& j : jobs_) past.push_back(std::move(j));  // submitted before Start
  jobs_ = std::move(past);
}

void TrainingJobs::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cancel_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Result<std::string> TrainingJobs::Enqueue(const TrainRequest& request, TriggerInfo trigger,
                                          int64_t now_s) {
  if (queue_.size() >= static_cast<size_t>(config_.max_queued_jobs)) {
    return MakeError("training queue full (" + std::to_string(queue_.size()) + " jobs waiting)");
  }
  // The counter is kept in the registry: ids stay unique across restarts
  // (the persisted records are keyed by them).
  int64_t n = next_id_;
  if (auto last = registry_->GetClock(kJobCounter); last && *last) n = std::max(n, **last + 1);
  next_id_ = n + 1;
  if (Status st = registry_->SetClock(kJobCounter, n); !st) {
    spdlog::warn("training job counter not saved: {}", st.message());
  }
  Job job;
  job.request = request;
  job.status.id = "j" + std::to_string(now_s) + "-" + std::to_string(n);
  trigger.job_id = job.status.id;
  job.status.trigger = trigger;
  job.status.request = RequestJson(request);
  job.status.created_s = now_s;
  const std::string id = job.status.id;
  Persist(job.status);
  jobs_.push_back(std::move(job));
  while (jobs_.size() > kMaxJobsKept && jobs_.front().status.state != JobState::kQueued &&
         jobs_.front().status.state != JobState::kRunning) {
    jobs_.pop_front();
  }
  queue_.push_back(id);
  cv_.notify_all();
  spdlog::info("training job {} queued ({} by '{}')", id, trigger.kind, trigger.by);
  return id;
}

Result<std::string> TrainingJobs::Submit(const TrainRequest& request, TriggerInfo trigger) {
  const int64_t now_s = env_->WallMs() / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  return Enqueue(request, std::move(trigger), now_s);
}

Result<std::string> TrainingJobs::OnAlarm(Variable target, const std::string& alarm,
                                          int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Job& j : jobs_) {
    const bool active =
        j.status.state == JobState::kQueued || j.status.state == JobState::kRunning;
    const bool covers = j.request.targets.empty() ||
                        std::find(j.request.targets.begin(), j.request.targets.end(), target) !=
                            j.request.targets.end();
    if (active && covers) {
      ++alarms_refused_;
      return MakeError("a training job covering " + std::string(Name(target)) + " is already " +
                       std::string(JobStateName(j.status.state)) + " (" + j.status.id + ")");
    }
  }
  auto last = registry_->GetClock(AlarmClock(target));
  if (!last) return last.error();
  if (*last && now_s - **last < config_.alarm_cooldown_s) {
    ++alarms_refused_;
    return MakeError("cooldown: " + std::string(Name(target)) + " was retrained for an alarm at " +
                     FormatUtc(**last) + "; next allowed at " +
                     FormatUtc(**last + config_.alarm_cooldown_s));
  }
  TrainRequest request;
  request.targets = {target};
  auto id = Enqueue(request, TriggerInfo{"alarm", alarm, ""}, now_s);
  if (!id) return id;
  if (Status st = registry_->SetClock(AlarmClock(target), now_s); !st) return st.error();
  return id;
}

std::optional<std::string> TrainingJobs::Tick(int64_t now_s) {
  if (config_.schedule_interval_s <= 0) return std::nullopt;
  auto last = registry_->GetClock(kScheduleClock);
  if (!last) {
    spdlog::warn("training schedule: {}", last.message());
    return std::nullopt;
  }
  if (!*last) {
    // First start: the schedule counts from now.
    (void)registry_->SetClock(kScheduleClock, now_s);
    return std::nullopt;
  }
  if (now_s - **last < config_.schedule_interval_s) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto id = Enqueue(TrainRequest{}, TriggerInfo{"schedule", "scheduler", ""}, now_s);
  if (!id) {
    spdlog::warn("scheduled training: {}", id.message());
    return std::nullopt;
  }
  if (Status st = registry_->SetClock(kScheduleClock, now_s); !st) {
    spdlog::warn("training schedule clock: {}", st.message());
  }
  return *id;
}

std::optional<JobStatus> TrainingJobs::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Job& j : jobs_) {
    if (j.status.id == id) return j.status;
  }
  return std::nullopt;
}

std::vector<JobStatus> TrainingJobs::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobStatus> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(it->status);
  return out;
}

void TrainingJobs::Loop() {
  // Lower this thread's priority (Linux: per-thread nice); XGBoost's OpenMP
  // workers created from it inherit it, so ingest wins the CPU when both run.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      if (!queue_.empty()) {
        id = queue_.front();
        queue_.pop_front();
      }
    }
    const int64_t now_s = env_->WallMs() / 1000;
    if (id.empty()) (void)Tick(now_s);
    // The hook (accuracy gate, announcements) also runs between jobs, so a
    // queue of jobs holds no rollout back longer than the job that runs.
    if (idle_hook_) idle_hook_(now_s);
    if (!id.empty()) RunJob(id);
  }
  // Jobs still queued at shutdown are reported failed, not silently lost.
  std::lock_guard<std::mutex> lock(mu_);
  for (Job& j : jobs_) {
    if (j.status.state == JobState::kQueued) {
      j.status.state = JobState::kFailed;
      j.status.message = "collector stopped before the job ran";
      j.status.finished_s = env_->WallMs() / 1000;
      Persist(j.status);
    }
  }
}

void TrainingJobs::RunJob(const std::string& id) {
  TrainRequest request;
  TriggerInfo trigger;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& j : jobs_) {
      if (j.status.id != id) continue;
      j.status.state = JobState::kRunning;
      j.status.started_s = env_->WallMs() / 1000;
      request = j.request;
      trigger = j.status.trigger;
      Persist(j.status);
    }
  }
  auto update = [&](const std::function<void(JobStatus&)>& f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& j : jobs_) {
      if (j.status.id == id) f(j.status);
    }
  };
  std::vector<std::string> skipped;
  auto models = trainer_->Run(
      request, [&](const TrainProgress& p) { update([&](JobStatus& s) { s.progress = p; }); },
      &cancel_, &skipped);
  std::vector<int64_t> versions;
  std::string message;
  bool ok = models.ok();
  if (ok) {
    for (const TrainedModel& m : *models) {
      auto rec = registry_->Register(m, trigger, env_->WallMs() / 1000);
      if (!rec) {
        ok = false;
        message = "registry: " + rec.message();
        break;
      }
      versions.push_back(rec->version);
    }
    if (ok) {
      const auto passed = std::count_if(models->begin(), models->end(),
                                        [](const TrainedModel& m) { return m.gate_passed; });
      message = std::to_string(versions.size()) + " models registered, " + std::to_string(passed) +
                " beat seasonal persistence";
    }
  } else {
    message = models.message();
  }
  JobStatus done;
  update([&](JobStatus& s) {
    s.state = ok ? JobState::kSucceeded : JobState::kFailed;
    s.finished_s = env_->WallMs() / 1000;
    s.message = message;
    s.versions = versions;
    s.skipped = skipped;
    s.progress.done = s.progress.total;
    done = s;
  });
  Persist(done);
  if (ok) spdlog::info("training job {}: {}", id, message);
  else spdlog::warn("training job {} failed: {}", id, message);
  if (on_done_) on_done_(done);
}

}  // namespace sentinelle::collector
