// Staged rollouts never hide production (docs/PROTOCOL.md, "Topics per
// scope"), end to end: the real collector (registry, distributor, HTTP
// artifact endpoint) announces on a real Mosquitto and the real
// sentinelle-agent binary follows.
//   - A station that connects while a shadow is announced gets the
//     production model AND the shadow (the shadow is on its own retained
//     topic, the production manifest is still retained).
//   - Promotion: production moves to the shadow's version, the rollout topic
//     is cleared, the agent answers with the promoted model.
//   - A canary rolled back by the accuracy gate while its station is
//     offline: on restart the station gets production back (signed
//     rollback) and runs it; the registry records why.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "ack_peer.h"
#include "broker.h"
#include "model_fixture.h"
#include "process.h"
#include "sentinelle/codec.h"
#include "sentinelle/collector/training_service.h"
#include "sentinelle/fetch.h"
#include "sentinelle/manifest.h"
#include "sentinelle/topics.h"

namespace sentinelle {
namespace {

using testing::ChildProcess;
using testing::TempDir;
using testing::WaitFor;

const std::string kStation = "rollout-station";

// The network pm25/60 versions the agent's status reports: {kind -> version}.
std::map<std::string, std::string> StatusModels(const testing::AckPeer& peer, const std::string& topic) {
  std::map<std::string, std::string> out;
  auto s = DecodeStatus(peer.LastRaw(topic), kStation);
  if (!s || s->state != "online") return out;
  for (const auto& m : s->models) {
    if (m.target == "pm25" && m.horizon_min == 60) out[m.kind] = m.version;
  }
  return out;
}

// A trained network version (a new training job on the collector's history).
int64_t TrainNetworkVersion(collector::TrainingService& models) {
  collector::TrainRequest req;
  req.station_models = false;
  auto id = models.jobs().Submit(req, collector::TriggerInfo{"manual", "rollout-test", ""});
  if (!id) return 0;
  auto job = testing::WaitForJob(models.jobs(), *id, std::chrono::seconds(120));
  if (!job || job->state != collector::JobState::kSucceeded) return 0;
  for (int64_t v : job->versions) {
    auto rec = models.registry().Get(v);
    if (rec && *rec && (*rec)->family.kind == "network") return v;
  }
  return 0;
}

class RolloutTopicsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start());
    testing::ServedModelOptions so;
    so.broker_uri = broker_.uri();
    std::string error;
    served_ = testing::ServedModel::Start(so, &error);
    ASSERT_TRUE(served_) << error;
    peer_ = std::make_unique<testing::AckPeer>(broker_.uri(), "sentinelle/v1", "rollout-peer");
    ASSERT_TRUE(peer_->Connect());
    ASSERT_TRUE(peer_->SubscribeRaw(status_topic_));
    std::filesystem::create_directories(dir_.File("models"));
  }
  void TearDown() override { StopAgent(); }

  void StartAgent() {
    metrics_port_ = testing::FreeLoopbackPort();
    const nlohmann::json config = {
        {"station_id", kStation},
        {"clock", {{"assume_synced", true}}},
        {"input", {{"kind", "none"}}},
        {"store", {{"path", dir_.File("agent.db")}}},
        {"mqtt", {{"uri", broker_.uri()}, {"status_interval_s", 1}, {"reconnect_min_ms", 100},
                  {"reconnect_max_ms", 500}}},
        {"metrics", {{"listen", "127.0.0.1:" + std::to_string(metrics_port_)}}},
        {"prediction", {{"model_dir", dir_.File("models")}, {"reload_interval_ms", 0}}},
        {"updater", {{"public_key_file", served_->public_key_path},
                     {"model_dir", dir_.File("models")},
                     {"download_token", testing::kFixtureViewerToken},
                     {"download_attempts", 1},
                     {"rollout_grace_ms", 1500}}}};
    ASSERT_TRUE(WriteFileAtomic(dir_.File("agent.json"), config.dump(2)));
    peer_->Clear();
    agent_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{testing::BinPath("sentinelle-agent"), "--config", dir_.File("agent.json")},
        dir_.File("agent.log"));
    ASSERT_TRUE(agent_->Start());
  }
  void StopAgent() {
    if (!agent_) return;
    agent_->Signal(SIGTERM);
    EXPECT_EQ(agent_->Wait(std::chrono::seconds(20)), 0) << agent_->Log();
    agent_.reset();
  }
  // Waits until the status lists exactly `want` (kind -> version).
  void ExpectStatus(const std::map<std::string, std::string>& want) {
    ASSERT_TRUE(WaitFor([&] { return StatusModels(*peer_, status_topic_) == want; },
                        std::chrono::seconds(60)))
        << "status: " << peer_->LastRaw(status_topic_) << "\nagent log:\n"
        << (agent_ ? agent_->Log() : "");
  }
  // What a subscriber connecting now finds retained on `topic` ("" for none).
  std::string Retained(const std::string& topic) {
    testing::AckPeer late(broker_.uri(), "sentinelle/v1", "rollout-late-" + std::to_string(++late_));
    if (!late.Connect() || !late.SubscribeRaw(topic)) return "<no connection>";
    WaitFor([&] { return late.RawCount(topic) > 0; }, std::chrono::seconds(2));
    return late.LastRaw(topic);
  }

  testing::MosquittoBroker broker_;
  std::unique_ptr<testing::ServedModel> served_;
  std::unique_ptr<testing::AckPeer> peer_;
  std::unique_ptr<ChildProcess> agent_;
  TempDir dir_;
  int metrics_port_ = 0;
  int late_ = 0;
  const Topics topics_;
  const std::string status_topic_ = "sentinelle/v1/stations/" + kStation + "/status";
  const std::string production_topic_ = topics_.ScopedManifest("pm25", 60, "network", "", false);
  const std::string rollout_topic_ = topics_.ScopedManifest("pm25", 60, "network", "", true);
};

TEST_F(RolloutTopicsTest, StationJoiningDuringAShadowGetsProductionAndTheShadowThenThePromotion) {
  collector::TrainingService& models = *served_->collector().models();
  const int64_t v1 = served_->version;
  const int64_t v2 = TrainNetworkVersion(models);
  ASSERT_GT(v2, v1);
  ASSERT_TRUE(models.api().Promote(v2, collector::Stage::kShadow, {kStation}, "test", "shadow run"));

  // Both retained: production untouched by the shadow announcement.
  auto production = DecodeManifest(Retained(production_topic_));
  ASSERT_TRUE(production) << production.message();
  EXPECT_EQ(production->version, v1);
  EXPECT_EQ(production->stage, "production");
  auto shadow = DecodeManifest(Retained(rollout_topic_));
  ASSERT_TRUE(shadow) << shadow.message();
  EXPECT_EQ(shadow->version, v2);
  EXPECT_EQ(shadow->stage, "shadow");
  EXPECT_EQ(shadow->stations, std::vector<std::string>{kStation});

  // A station connecting now (empty model dir: a new or wiped station).
  StartAgent();
  ExpectStatus({{"network", std::to_string(v1)}, {"network-shadow", std::to_string(v2)}});

  // Promotion: production is v2, the rollout topic is cleared, the agent
  // answers with v2 and runs no shadow.
  ASSERT_TRUE(models.api().Promote(v2, collector::Stage::kProduction, {}, "test", "promoted"));
  ExpectStatus({{"network", std::to_string(v2)}});
  EXPECT_EQ(Retained(rollout_topic_), "");
  production = DecodeManifest(Retained(production_topic_));
  ASSERT_TRUE(production);
  EXPECT_EQ(production->version, v2);
  EXPECT_TRUE(*ReadFile(dir_.File("models/pm25_60_network.json")) == *models.registry().ReadArtifact(v2));
}

TEST_F(RolloutTopicsTest, CanaryRolledBackWhileTheStationIsOfflineGivesProductionBack) {
  collector::TrainingService& models = *served_->collector().models();
  const int64_t v1 = served_->version;
  const int64_t v2 = TrainNetworkVersion(models);
  ASSERT_GT(v2, v1);
  ASSERT_TRUE(models.api().Promote(v2, collector::Stage::kCanary, {kStation}, "test", "canary run"));
  StartAgent();
  ExpectStatus({{"network", std::to_string(v2)}});

  // The agent restarts: the canary is still announced, it keeps it.
  StopAgent();
  StartAgent();
  ExpectStatus({{"network", std::to_string(v2)}});
  std::this_thread::sleep_for(std::chrono::seconds(3));  // past the agent's rollout grace
  ExpectStatus({{"network", std::to_string(v2)}});

  // Offline while the accuracy gate rolls the canary back.
  StopAgent();
  collector::LiveComparison live;
  live.candidate_version = v2;
  live.candidate_rmse = 30;
  live.candidate_samples = 1000;
  live.current_rmse = 10;
  live.current_samples = 1000;
  auto decided = models.api().Rollout(live, "accuracy-gate");
  ASSERT_TRUE(decided) << decided.message();
  EXPECT_EQ(decided->first.verdict, collector::RolloutVerdict::kRollBack);
  EXPECT_EQ(Retained(rollout_topic_), "");
  auto production = DecodeManifest(Retained(production_topic_));
  ASSERT_TRUE(production);
  EXPECT_EQ(production->version, v1);
  EXPECT_TRUE(production->rollback);

  StartAgent();
  ExpectStatus({{"network", std::to_string(v1)}});
  auto rec = models.registry().Get(v2);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->stage, collector::Stage::kArchived);
  EXPECT_FALSE((*rec)->stage_reason.empty());
}

}  // namespace
}  // namespace sentinelle
