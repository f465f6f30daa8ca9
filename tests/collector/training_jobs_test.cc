// Training jobs: triggers, the alarm cooldown, the schedule, the queue bound,
// with a real trainer, store and registry.
#include <gtest/gtest.h>

#include <mutex>

#include "model_fixture.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/training_jobs.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::SimulatedStore;
using sentinelle::testing::SmallTrainingConfig;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitForJob;

class TrainingJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = SimulatedStore(dir_, 1, 8);
    ASSERT_TRUE(store_);
    auto r = ModelRegistry::Open(dir_.File("models"));
    ASSERT_TRUE(r.ok()) << r.message();
    registry_ = std::move(*r);
    config_ = SmallTrainingConfig();
    config_.alarm_cooldown_s = 3600;
    config_.schedule_interval_s = 7 * 86400;
    config_.max_queued_jobs = 2;
    trainer_ = std::make_unique<Trainer>(config_, store_.get(), &env_);
  }
  std::unique_ptr<TrainingJobs> Jobs() {
    return std::make_unique<TrainingJobs>(trainer_.get(), registry_.get(), &env_, config_);
  }
  TempDir dir_;
  FakeEnv env_;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<ModelRegistry> registry_;
  TrainingConfig config_;
  std::unique_ptr<Trainer> trainer_;
};

TEST_F(TrainingJobsTest, AlarmCooldownPreventsARetrainingStorm) {
  auto jobs = Jobs();
  const int64_t t0 = 1767500000;
  auto first = jobs->OnAlarm(Variable::kPm25, "drift:network:pm25", t0);
  ASSERT_TRUE(first.ok()) << first.message();
  // A burst of alarms while the job waits: refused.
  for (int i = 1; i <= 5; ++i) {
    auto again = jobs->OnAlarm(Variable::kPm25, "drift:network:pm25", t0 + i);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.message().find("already queued"), std::string::npos) << again.message();
  }
  jobs->Start();
  auto done = WaitForJob(*jobs, *first, std::chrono::seconds(60));
  ASSERT_TRUE(done.has_value());
  ASSERT_EQ(done->state, JobState::kSucceeded) << done->message;
  EXPECT_EQ(done->trigger.kind, "alarm");
  EXPECT_EQ(done->trigger.by, "drift:network:pm25");
  ASSERT_FALSE(done->versions.empty());
  auto rec = registry_->Get(done->versions[0]);
  ASSERT_TRUE(rec.ok() && *rec);
  EXPECT_EQ((*rec)->trigger.kind, "alarm");
  EXPECT_EQ((*rec)->trigger.job_id, *first);

  // After the job, still within the cooldown: refused, and the reason says when.
  auto cooling = jobs->OnAlarm(Variable::kPm25, "accuracy:st:pm25", t0 + 600);
  ASSERT_FALSE(cooling.ok());
  EXPECT_NE(cooling.message().find("cooldown"), std::string::npos) << cooling.message();
  EXPECT_EQ(jobs->alarms_refused(), 6);
  // Another target has its own cooldown.
  EXPECT_TRUE(jobs->OnAlarm(Variable::kNo2, "drift:network:no2", t0 + 600).ok());
  jobs->Stop();

  // The cooldown survives a restart (kept in the registry).
  auto restarted = Jobs();
  EXPECT_FALSE(restarted->OnAlarm(Variable::kPm25, "drift", t0 + 3599).ok());
  EXPECT_TRUE(restarted->OnAlarm(Variable::kPm25, "drift", t0 + 3600).ok());
}

TEST_F(TrainingJobsTest, ScheduleQueuesAFullRetrainWhenDue) {
  auto jobs = Jobs();
  const int64_t t0 = 1767500000;
  EXPECT_FALSE(jobs->Tick(t0).has_value());  // first start: the schedule counts from now
  EXPECT_FALSE(jobs->Tick(t0 + 7 * 86400 - 1).has_value());
  auto id = jobs->Tick(t0 + 7 * 86400);
  ASSERT_TRUE(id.has_value());
  auto st = jobs->Get(*id);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->trigger.kind, "schedule");
  EXPECT_EQ(st->state, JobState::kQueued);
  EXPECT_FALSE(jobs->Tick(t0 + 7 * 86400 + 60).has_value());
  // Disabled schedule.
  config_.schedule_interval_s = 0;
  auto off = Jobs();
  EXPECT_FALSE(off->Tick(t0 + 100 * 86400).has_value());
}

TEST_F(TrainingJobsTest, QueueIsBoundedAndStopFailsWaitingJobs) {
  auto jobs = Jobs();
  auto a = jobs->Submit(TrainRequest{}, TriggerInfo{"manual", "alice", ""});
  auto b = jobs->Submit(TrainRequest{}, TriggerInfo{"cli", "bob", ""});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  auto c = jobs->Submit(TrainRequest{}, TriggerInfo{"manual", "carol", ""});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("queue full"), std::string::npos);
  jobs->Stop();  // never started: both still queued
  for (const auto& id : {*a, *b}) {
    auto st = jobs->Get(id);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->state, JobState::kQueued);
  }
  EXPECT_EQ(jobs->List().size(), 2u);
}

TEST_F(TrainingJobsTest, AFailingJobReportsWhy) {
  auto jobs = Jobs();
  TrainRequest req;
  req.stations = {"nowhere"};
  auto id = jobs->Submit(req, TriggerInfo{"manual", "alice", ""});
  ASSERT_TRUE(id.ok());
  jobs->Start();
  auto done = WaitForJob(*jobs, *id, std::chrono::seconds(30));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, JobState::kFailed);
  EXPECT_NE(done->message.find("no readings"), std::string::npos) << done->message;
  EXPECT_TRUE(done->versions.empty());
}

// The hook (the accuracy gate, announcements) gets its turn between two
// queued jobs, not only once the whole queue is done.
TEST_F(TrainingJobsTest, HookRunsBetweenQueuedJobs) {
  auto jobs = Jobs();
  TrainRequest req;
  req.stations = {"nowhere"};  // fails at once: no readings
  auto a = jobs->Submit(req, TriggerInfo{"manual", "alice", ""});
  auto b = jobs->Submit(req, TriggerInfo{"manual", "bob", ""});
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mu;
  bool between = false;
  jobs->SetIdleHook([&](int64_t) {
    const auto sa = jobs->Get(*a);
    const auto sb = jobs->Get(*b);
    std::lock_guard<std::mutex> lock(mu);
    between = between || (sa && sb && sa->state == JobState::kFailed &&
                           sb->state == JobState::kQueued);
  });
  jobs->Start();
  ASSERT_TRUE(WaitForJob(*jobs, *b, std::chrono::seconds(30)).has_value());
  jobs->Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(between) << "the hook did not run after the first job and before the second";
}

TEST_F(TrainingJobsTest, RestartListsPastJobsAndFailsInterruptedOnes) {
  std::string done_id, queued_id;
  {
    auto jobs = Jobs();
    jobs->Start();
    auto id = jobs->Submit(TrainRequest{}, TriggerInfo{"manual", "alice", ""});
    ASSERT_TRUE(id.ok()) << id.message();
    auto done = WaitForJob(*jobs, *id, std::chrono::seconds(60));
    ASSERT_TRUE(done && done->state == JobState::kSucceeded) << (done ? done->message : "timeout");
    done_id = *id;
    jobs->Stop();
  }
  {
    // A process that dies with a job queued (kill -9: no Stop, no Loop exit):
    // the record says "queued", as the crash left it.
    auto jobs = Jobs();
    auto id = jobs->Submit(TrainRequest{}, TriggerInfo{"manual", "bob", ""});
    ASSERT_TRUE(id.ok());
    queued_id = *id;
  }
  // And one that died mid-run: its last record says "running".
  JobStatus running;
  running.id = "j1767500000-77";
  running.state = JobState::kRunning;
  running.trigger = TriggerInfo{"alarm", "drift:network:pm25", running.id};
  running.created_s = running.started_s = 1767500000;
  running.progress = {1, 4, "pm25/60 network"};
  ASSERT_TRUE(registry_->SaveJob(running.id, running.created_s, running.ToJson()).ok());

  env_.SetWallMs(1767600000000);
  auto restarted = Jobs();
  restarted->Start();
  auto past = restarted->Get(done_id);
  ASSERT_TRUE(past.has_value());
  EXPECT_EQ(past->state, JobState::kSucceeded);
  EXPECT_FALSE(past->versions.empty());
  EXPECT_EQ(past->trigger.by, "alice");
  for (const std::string& id : {queued_id, running.id}) {
    auto j = restarted->Get(id);
    ASSERT_TRUE(j.has_value()) << id;
    EXPECT_EQ(j->state, JobState::kFailed) << id;
    EXPECT_NE(j->message.find("interrupted"), std::string::npos) << j->message;
    EXPECT_EQ(j->finished_s, 1767600000);
  }
  EXPECT_NE(restarted->Get(running.id)->message.find("running"), std::string::npos);
  EXPECT_EQ(restarted->Get(running.id)->progress.step, "pm25/60 network");
  EXPECT_EQ(restarted->List().size(), 3u);
  // New ids never collide with the past ones, and the failure is persisted:
  // a second restart shows the same verdict, not "interrupted" twice over.
  auto fresh = restarted->Submit(TrainRequest{}, TriggerInfo{"manual", "carol", ""});
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(*fresh, done_id);
  EXPECT_NE(*fresh, queued_id);
  restarted->Stop();
  auto again = Jobs();
  again->Start();
  EXPECT_EQ(again->Get(running.id)->message, restarted->Get(running.id)->message);
  EXPECT_EQ(again->List().size(), 4u);
  again->Stop();
}

}  // namespace
}  // namespace sentinelle::collector
