// The updater inside a running agent engine, through a real Mosquitto:
// retained manifests reach it, the status message lists what it installed,
// refusals show on /metrics, a restart keeps the anti-rollback state, and a
// rollback command on the commands topic restores the previous model.
#include <gtest/gtest.h>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/crypto.h"
#include "sentinelle/fetch.h"
#include "test_util.h"
#include "updater_fixture.h"

namespace sentinelle::agent {
namespace {

using test::kNowS;
using test::MakeManifest;
using test::Signed;

const std::string kStation = "st-1";
const std::string kTopic = "sentinelle/v1/models/pm25/60/manifest";
const std::string kStatusTopic = "sentinelle/v1/stations/st-1/status";

class UpdaterMqttTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start());
    ASSERT_TRUE(WriteKeyFile(dir_.File("collector.pub"), test::CollectorKeys().public_key, false));
    peer_ = std::make_unique<testing::AckPeer>(broker_.uri(), "sentinelle/v1", "updater-peer");
    ASSERT_TRUE(peer_->Connect());
    ASSERT_TRUE(peer_->SubscribeRaw(kStatusTopic));
  }
  void TearDown() override { StopAgent(); }

  void StartAgent() {
    AgentConfig c = test::TestConfig(kStation, broker_.uri(), dir_.File("agent.db"));
    c.mqtt.status_interval_s = 1;
    c.updater = {{"public_key_file", dir_.File("collector.pub")},
                 {"model_dir", dir_.File("models")},
                 {"download_token", test::kToken},
                 {"download_attempts", 1}};
    auto uc = UpdaterConfig::FromAgentConfig(c);
    ASSERT_TRUE(uc.enabled);
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine) << engine.message();
    engine_ = std::move(*engine);
    auto u = ModelUpdater::Create(uc, kStation, c.topic_prefix, &env_, engine_->registry(), {});
    ASSERT_TRUE(u) << u.message();
    updater_ = std::move(*u);
    updater_->Attach(*engine_);
    engine_->SetModelInfoProvider([u = updater_.get()] { return u->ModelInfo(); });
    ASSERT_TRUE(engine_->Start());
    updater_->Start();
  }
  void StopAgent() {
    if (engine_) engine_->Stop();
    if (updater_) updater_->Stop();
    updater_.reset();
    engine_.reset();
  }

  // Publishes a retained manifest with the broker's own client.
  void PublishRetained(const std::string& topic, const std::string& payload) {
    const std::string file = dir_.File("payload.json");
    ASSERT_TRUE(WriteFileAtomic(file, payload));
    testing::ChildProcess pub({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p",
                               std::to_string(broker_.port()), "-q", "1", "-r", "-t", topic, "-f", file},
                              dir_.File("pub.log"));
    ASSERT_TRUE(pub.Start());
    ASSERT_EQ(pub.Wait(std::chrono::seconds(10)), 0) << pub.Log();
  }

  std::string StatusVersion() {
    const std::string raw = peer_->LastRaw(kStatusTopic);
    if (raw.empty()) return "";
    auto s = DecodeStatus(raw, kStation);
    if (!s || s->state != "online") return "";
    for (const auto& m : s->models) {
      if (m.target == "pm25" && m.horizon_min == 60 && m.kind == "network") return m.version;
    }
    return "";
  }

  std::string Announce(int64_t version, bool rollback = false) {
    const std::string bytes = test::ModelFile(version);
    server_.Put(version, bytes);
    auto m = MakeManifest(version, bytes, server_.Url(version));
    m.rollback = rollback;
    return Signed(m);
  }

  testing::MosquittoBroker broker_;
  testing::TempDir dir_;
  test::ArtifactServer server_;
  FakeEnv env_{kNowS * 1000};
  std::unique_ptr<testing::AckPeer> peer_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ModelUpdater> updater_;
};

TEST_F(UpdaterMqttTest, RetainedManifestInstallsAndStatusReportsIt) {
  PublishRetained(kTopic, Announce(5));  // announced before the agent runs
  StartAgent();
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "5"; }, std::chrono::seconds(20)))
      << peer_->LastRaw(kStatusTopic);
  EXPECT_TRUE(std::filesystem::exists(updater_->ModelPath("pm25", 60, "network")));

  // A manifest signed with another key: refused, counted on /metrics, v5 stays.
  auto foreign = MakeManifest(6, test::ModelFile(6), server_.Url(6));
  server_.Put(6, test::ModelFile(6));
  PublishRetained(kTopic, Signed(foreign, test::ForeignKeys().private_key));
  ASSERT_TRUE(testing::WaitFor(
      [&] { return updater_->RefusedCount(Refusal::kBadSignature) == 1; }, std::chrono::seconds(20)));
  const std::string metrics = test::ScrapeMetrics(engine_->metrics_port());
  EXPECT_NE(metrics.find("sentinelle_agent_model_updates_refused_total{reason=\"bad_signature\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(StatusVersion(), "5");

  // The genuine v6 follows and swaps in.
  PublishRetained(kTopic, Announce(6));
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "6"; }, std::chrono::seconds(20)));
}

TEST_F(UpdaterMqttTest, RestartRefusesReplayedOlderManifestAndRollbackCommandWorks) {
  StartAgent();
  PublishRetained(kTopic, Announce(5));
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "5"; }, std::chrono::seconds(20)));
  const std::string v5 = Announce(5);
  PublishRetained(kTopic, Announce(6));
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "6"; }, std::chrono::seconds(20)));

  // Restart; an attacker with broker access replays the signed v5 manifest.
  StopAgent();
  PublishRetained(kTopic, v5);
  StartAgent();
  // Refused once or twice: the agent's persistent session may hold the live
  // publication as well as the retained copy it gets on subscribing.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return updater_->RefusedCount(Refusal::kOlderVersion) >= 1; }, std::chrono::seconds(20)));
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "6"; }, std::chrono::seconds(20)));

  // The collector orders a rollback on the commands topic.
  Command c;
  c.station_id = kStation;
  c.id = "c-rb";
  c.name = "rollback";
  c.target = "pm25";
  c.horizon_min = 60;
  ASSERT_TRUE(peer_->Publish("sentinelle/v1/stations/st-1/commands", EncodeCommand(c)));
  ASSERT_TRUE(testing::WaitFor([&] { return StatusVersion() == "5"; }, std::chrono::seconds(20)));
  auto file = ReadFile(updater_->ModelPath("pm25", 60, "network"));
  ASSERT_TRUE(file);
  EXPECT_TRUE(*file == test::ModelFile(5));
}

}  // namespace
}  // namespace sentinelle::agent
