// ModelUpdater against real signed manifests, real trained models, a real
// HTTP server on loopback and a real FallbackChain as the prediction service:
// every refusal reason keeps the running model and counts; an accepted
// model swaps in; the anti-rollback state survives a restart; rollback
// restores the previous file.
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "process.h"
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/crypto.h"
#include "sentinelle/fetch.h"
#include "sentinelle/predict/chain.h"
#include "updater_fixture.h"

namespace sentinelle::agent {
namespace {

using test::kNowS;
using test::MakeManifest;
using test::Signed;

const std::string kTopic = "sentinelle/v1/models/pm25/60/manifest";

class UpdaterChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteKeyFile(dir_.File("collector.pub"), test::CollectorKeys().public_key, false));
    config_.enabled = true;
    config_.public_key_file = dir_.File("collector.pub");
    config_.model_dir = dir_.File("models");
    config_.download_token = test::kToken;
    config_.download_attempts = 1;
    config_.total_timeout_ms = 10000;
    config_.connect_timeout_ms = 2000;
    config_.stall_timeout_ms = 5000;
    config_.rollout_grace_ms = 300;
    registry_ = std::make_shared<prometheus::Registry>();
    StartUpdater();
  }
  void TearDown() override { StopUpdater(); }

  void StartUpdater() {
    auto u = ModelUpdater::Create(config_, "st-1", "sentinelle/v1", &env_, registry_,
                                  [this](const ModelHandover& h) { return Hook(h); });
    ASSERT_TRUE(u) << u.message();
    updater_ = std::move(*u);
    updater_->Start();
  }
  void StopUpdater() {
    if (updater_) updater_->Stop();
    updater_.reset();
  }

  // The prediction service stand-in: the real chain loads the file.
  Status Hook(const ModelHandover& h) {
    std::lock_guard lock(mu_);
    handovers_.push_back(h);
    if (refuse_hook_) return MakeError("refused by the test");
    if (h.shadow) return Status::Ok();
    auto bytes = ReadFile(h.path);
    if (!bytes) return bytes.error();
    auto slot = chain_.Install(*bytes);
    if (!slot) return slot.error();
    return Status::Ok();
  }

  // Delivers one message and waits until the updater recorded its outcome.
  UpdateOutcome Deliver(const std::string& payload, const std::string& topic = kTopic) {
    const size_t before = updater_->Outcomes().size();
    updater_->OnManifest(topic, payload);
    EXPECT_TRUE(testing::WaitFor([&] { return updater_->Outcomes().size() > before; },
                                 std::chrono::seconds(20)));
    auto all = updater_->Outcomes();
    return all.empty() ? UpdateOutcome{} : all.back();
  }

  // Serves and announces `version` with the standard model file.
  UpdateOutcome Announce(int64_t version, const std::string& stage = "production") {
    const std::string bytes = test::ModelFile(version);
    server_.Put(version, bytes);
    return Deliver(Signed(MakeManifest(version, bytes, server_.Url(version), stage)));
  }

  std::string ChainVersion() {
    for (const auto& m : chain_.Models()) {
      if (m.link == predict::LinkKind::kNetwork) return m.version;
    }
    return "";
  }

  double Scraped(const std::string& reason) {
    const auto text = prometheus::TextSerializer().Serialize(registry_->Collect());
    const std::string key = "sentinelle_agent_model_updates_refused_total{reason=\"" + reason + "\"} ";
    const size_t at = text.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + key.size()));
  }

  // Asserts a refusal with `reason`, the counter moved by one, and v5 still runs.
  void ExpectRefused(const UpdateOutcome& o, Refusal reason) {
    EXPECT_EQ(o.result, RefusalName(reason)) << o.detail;
    EXPECT_EQ(updater_->RefusedCount(reason), 1);
    EXPECT_EQ(Scraped(std::string(RefusalName(reason))), 1.0);
    EXPECT_EQ(ChainVersion(), "5");
    auto file = ReadFile(updater_->ModelPath("pm25", 60, "network"));
    ASSERT_TRUE(file);
    EXPECT_TRUE(*file == test::ModelFile(5)) << "the v5 file was replaced";
    auto info = updater_->ModelInfo();
    ASSERT_EQ(info.size(), 1u);
    EXPECT_EQ(info[0].version, "5");
  }

  void InstallV5() {
    auto o = Announce(5);
    ASSERT_EQ(o.result, "installed") << o.detail;
    ASSERT_EQ(ChainVersion(), "5");
  }

  // Serves version 7 and returns its canary manifest for this station.
  Manifest Canary7() {
    server_.Put(7, test::ModelFile(7));
    auto canary = MakeManifest(7, test::ModelFile(7), server_.Url(7), "canary");
    canary.stations = {"st-1"};
    return canary;
  }

  testing::TempDir dir_;
  test::ArtifactServer server_;
  FakeEnv env_{kNowS * 1000};
  UpdaterConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  predict::FallbackChain chain_{"st-1", predict::ChainConfig{}};
  std::mutex mu_;
  std::vector<ModelHandover> handovers_;
  std::atomic<bool> refuse_hook_{false};
  std::unique_ptr<ModelUpdater> updater_;
};

TEST_F(UpdaterChecksTest, InstallsVerifiedModelAndReportsIt) {
  InstallV5();
  EXPECT_EQ(server_.unauthorized(), 0);
  auto info = updater_->ModelInfo();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0], (ModelVersionInfo{"pm25", 60, "network", "5"}));
  // A newer version swaps in and keeps the previous file.
  auto o = Announce(6);
  ASSERT_EQ(o.result, "installed") << o.detail;
  EXPECT_EQ(ChainVersion(), "6");
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  EXPECT_TRUE(*ReadFile(path) == test::ModelFile(6));
  EXPECT_TRUE(*ReadFile(path + ".prev") == test::ModelFile(5));
  auto slots = updater_->Slots();
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].active_version, 6);
  EXPECT_EQ(slots[0].previous_version, 5);
  EXPECT_EQ(slots[0].highest_version, 6);
  // The same manifest again (a retained re-delivery) changes nothing.
  EXPECT_EQ(Announce(6).result, "unchanged");
  for (int r = 0; r < kRefusalCount; ++r) EXPECT_EQ(updater_->RefusedCount(static_cast<Refusal>(r)), 0);
}

TEST_F(UpdaterChecksTest, RefusesMalformedManifests) {
  InstallV5();
  EXPECT_EQ(Deliver("{not json").result, "malformed");
  EXPECT_EQ(Deliver(std::string(kMaxManifestBytes + 10, '{')).result, "malformed");
  auto m = MakeManifest(6, test::ModelFile(6), server_.Url(6));
  nlohmann::json j = nlohmann::json::parse(Signed(m));
  j["unexpected"] = 1;
  EXPECT_EQ(Deliver(j.dump()).result, "malformed");
  EXPECT_EQ(updater_->RefusedCount(Refusal::kMalformed), 3);
  EXPECT_EQ(Scraped("malformed"), 3.0);
  EXPECT_EQ(ChainVersion(), "5");
  // An empty payload (a cleared retained topic) is not a refusal.
  updater_->OnManifest(kTopic, "");
  EXPECT_EQ(Announce(6).result, "installed");
}

TEST_F(UpdaterChecksTest, RefusesForeignKey) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  ExpectRefused(Deliver(Signed(MakeManifest(6, bytes, server_.Url(6)), test::ForeignKeys().private_key)),
                Refusal::kBadSignature);
  EXPECT_EQ(server_.requests(), 1);  // only v5's download: nothing fetched for a bad manifest
}

TEST_F(UpdaterChecksTest, RefusesManifestAlteredAfterSigning) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  auto m = MakeManifest(6, bytes, server_.Url(6));
  ASSERT_TRUE(SignManifest(m, test::CollectorKeys().private_key));
  m.stations = {"st-1", "st-2"};  // widened scope, old signature
  ExpectRefused(Deliver(EncodeManifest(m)), Refusal::kBadSignature);
}

TEST_F(UpdaterChecksTest, RefusesManifestOnAnotherTopic) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  ExpectRefused(Deliver(Signed(MakeManifest(6, bytes, server_.Url(6))),
                        "sentinelle/v1/models/pm10/60/manifest"),
                Refusal::kWrongTopic);
}

TEST_F(UpdaterChecksTest, RefusesOutOfScope) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  auto m = MakeManifest(6, bytes, server_.Url(6), "canary");
  m.stations = {"st-2"};
  ExpectRefused(Deliver(Signed(m)), Refusal::kOutOfScope);
}

TEST_F(UpdaterChecksTest, RefusesExpiredManifest) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  auto m = MakeManifest(6, bytes, server_.Url(6));
  m.expires_s = kNowS - 1;
  ExpectRefused(Deliver(Signed(m)), Refusal::kExpired);
}

TEST_F(UpdaterChecksTest, RefusesOlderVersionUnlessSignedRollback) {
  InstallV5();
  const std::string bytes = test::ModelFile(4);
  server_.Put(4, bytes);
  auto m = MakeManifest(4, bytes, server_.Url(4));
  ExpectRefused(Deliver(Signed(m)), Refusal::kOlderVersion);
  m.rollback = true;
  auto o = Deliver(Signed(m));
  EXPECT_EQ(o.result, "installed") << o.detail;
  EXPECT_EQ(ChainVersion(), "4");
}

TEST_F(UpdaterChecksTest, RefusesFailedDownload) {
  InstallV5();
  // Announced but not served (404).
  ExpectRefused(Deliver(Signed(MakeManifest(6, test::ModelFile(6), server_.Url(6)))),
                Refusal::kDownloadFailed);
  // Larger than the configured cap.
  StopUpdater();
  config_.max_bytes = 2048;
  StartUpdater();
  const std::string bytes = test::ModelFile(7);
  server_.Put(7, bytes);
  EXPECT_EQ(Deliver(Signed(MakeManifest(7, bytes, server_.Url(7)))).result, "download_failed");
  EXPECT_EQ(ChainVersion(), "5");
}

TEST_F(UpdaterChecksTest, RetriesDownloadAndResumes) {
  InstallV5();
  StopUpdater();
  config_.download_attempts = 3;
  config_.retry_delay_ms = 200;
  StartUpdater();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  server_.set_fail(true);
  const int before = server_.requests();
  updater_->OnManifest(kTopic, Signed(MakeManifest(6, bytes, server_.Url(6))));
  ASSERT_TRUE(testing::WaitFor([&] { return server_.requests() > before; }));
  server_.set_fail(false);
  ASSERT_TRUE(testing::WaitFor([&] { return ChainVersion() == "6"; }, std::chrono::seconds(20)));
  EXPECT_EQ(updater_->RefusedCount(Refusal::kDownloadFailed), 0);
}

TEST_F(UpdaterChecksTest, RefusesTamperedArtifact) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  std::string tampered = bytes;
  tampered[tampered.size() / 2] ^= 0x01;  // same size, one bit flipped
  server_.Put(6, tampered);
  ExpectRefused(Deliver(Signed(MakeManifest(6, bytes, server_.Url(6)))), Refusal::kChecksumMismatch);
  // Nothing of the refused download is left to be resumed from.
  for (const auto& e : std::filesystem::recursive_directory_iterator(config_.model_dir)) {
    EXPECT_EQ(e.path().string().find(".bundle"), std::string::npos) << e.path();
  }
}

TEST_F(UpdaterChecksTest, RefusesFeatureSpecThisBuildCannotCompute) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  auto m = MakeManifest(6, bytes, server_.Url(6));
  m.feature_spec["spectral_bands"] = 4;  // a feature this build does not know
  ExpectRefused(Deliver(Signed(m)), Refusal::kForeignFeatureSpec);
  EXPECT_EQ(server_.requests(), 1);  // refused before downloading
}

TEST_F(UpdaterChecksTest, RefusesModelWhoseSpecDiffersFromTheManifest) {
  InstallV5();
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  auto m = MakeManifest(6, bytes, server_.Url(6));
  m.feature_spec["min_valid_fraction"] = 0.25;  // computable, but not the model's
  ASSERT_TRUE(predict::FeatureSpec::FromJson(m.feature_spec));
  ExpectRefused(Deliver(Signed(m)), Refusal::kForeignFeatureSpec);
}

TEST_F(UpdaterChecksTest, RefusesBundleWhoseGoldenPairsDoNotReproduce) {
  InstallV5();
  const std::string bytes = test::GoldenMismatchFile(6);
  server_.Put(6, bytes);
  ExpectRefused(Deliver(Signed(MakeManifest(6, bytes, server_.Url(6)))), Refusal::kGoldenMismatch);
}

TEST_F(UpdaterChecksTest, RestoresPreviousFileWhenThePredictionServiceRefuses) {
  InstallV5();
  refuse_hook_ = true;
  const std::string bytes = test::ModelFile(6);
  server_.Put(6, bytes);
  ExpectRefused(Deliver(Signed(MakeManifest(6, bytes, server_.Url(6)))), Refusal::kInstallFailed);
  std::lock_guard lock(mu_);
  ASSERT_GE(handovers_.size(), 3u);
  EXPECT_TRUE(handovers_.back().restore);
  EXPECT_EQ(handovers_.back().version, 5);
}

TEST_F(UpdaterChecksTest, NewerManifestSupersedesQueuedOne) {
  StopUpdater();
  auto u = ModelUpdater::Create(config_, "st-1", "sentinelle/v1", &env_, nullptr,
                                [this](const ModelHandover& h) { return Hook(h); });
  ASSERT_TRUE(u) << u.message();
  updater_ = std::move(*u);
  for (int64_t v : {6, 7}) server_.Put(v, test::ModelFile(v));
  updater_->OnManifest(kTopic, Signed(MakeManifest(6, test::ModelFile(6), server_.Url(6))));
  updater_->OnManifest(kTopic, Signed(MakeManifest(7, test::ModelFile(7), server_.Url(7))));
  updater_->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return !updater_->Outcomes().empty(); }));
  auto all = updater_->Outcomes();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].version, 7);
  EXPECT_EQ(all[0].result, "installed");
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(UpdaterChecksTest, AntiRollbackStateSurvivesRestart) {
  InstallV5();
  ASSERT_EQ(Announce(6).result, "installed");
  StopUpdater();
  StartUpdater();
  auto info = updater_->ModelInfo();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].version, "6");
  // A replay of the (validly signed) v5 manifest is refused after the restart.
  auto o = Deliver(Signed(MakeManifest(5, test::ModelFile(5), server_.Url(5))));
  EXPECT_EQ(o.result, "older_version") << o.detail;
  EXPECT_EQ(Announce(6).result, "unchanged");
}

TEST_F(UpdaterChecksTest, CorruptStateFileStopsStartUp) {
  InstallV5();
  StopUpdater();
  ASSERT_TRUE(WriteFileAtomic(config_.model_dir + "/.updater-state", "{\"schema\":1,\"slots\":[{"));
  auto u = ModelUpdater::Create(config_, "st-1", "sentinelle/v1", &env_, nullptr, {});
  EXPECT_FALSE(u);
}

TEST_F(UpdaterChecksTest, RollbackCommandRestoresPreviousModel) {
  InstallV5();
  ASSERT_EQ(Announce(6).result, "installed");
  ASSERT_EQ(ChainVersion(), "6");
  Command c;
  c.station_id = "st-1";
  c.id = "c-1";
  c.name = "rollback";
  c.target = "pm25";
  c.horizon_min = 60;
  const size_t before = updater_->Outcomes().size();
  updater_->OnCommand(c);
  ASSERT_TRUE(testing::WaitFor([&] { return updater_->Outcomes().size() > before; }));
  EXPECT_EQ(updater_->Outcomes().back().result, "rolled_back");
  EXPECT_EQ(ChainVersion(), "5");
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  EXPECT_TRUE(*ReadFile(path) == test::ModelFile(5));
  EXPECT_FALSE(std::filesystem::exists(path + ".prev"));
  EXPECT_EQ(updater_->ModelInfo().at(0).version, "5");
  // The rolled-back version's retained manifest is not taken again.
  EXPECT_EQ(Announce(6).result, "older_version");
  // Nothing left to roll back to.
  updater_->OnCommand(c);
  ASSERT_TRUE(testing::WaitFor([&] { return updater_->Outcomes().back().result == "ignored"; }));
  EXPECT_EQ(ChainVersion(), "5");
}

TEST_F(UpdaterChecksTest, ShadowIsStagedThenPromotedWithoutDownloadingAgain) {
  InstallV5();
  auto o = Announce(7, "shadow");
  ASSERT_EQ(o.result, "shadow") << o.detail;
  EXPECT_EQ(ChainVersion(), "5");  // the current model still answers
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  EXPECT_TRUE(*ReadFile(path + ".shadow") == test::ModelFile(7));
  auto info = updater_->ModelInfo();
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[1], (ModelVersionInfo{"pm25", 60, "network-shadow", "7"}));
  const int requests = server_.requests();
  o = Deliver(Signed(MakeManifest(7, test::ModelFile(7), server_.Url(7), "production")));
  ASSERT_EQ(o.result, "installed") << o.detail;
  EXPECT_EQ(server_.requests(), requests);
  EXPECT_EQ(ChainVersion(), "7");
  EXPECT_FALSE(std::filesystem::exists(path + ".shadow"));
}

TEST_F(UpdaterChecksTest, ProductionReannouncedWithoutTheRolloutWithdrawsTheShadow) {
  InstallV5();
  ASSERT_EQ(Announce(7, "shadow").result, "shadow");
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  ASSERT_TRUE(std::filesystem::exists(path + ".shadow"));
  // The accuracy gate rolled 7 back while the station was offline: on
  // reconnect it gets production 5 (with the signed rollback permission) and
  // no rollout manifest. Production still answers at once; the shadow goes
  // when no rollout manifest followed within the grace period.
  auto m = MakeManifest(5, test::ModelFile(5), server_.Url(5));
  m.rollback = true;
  auto o = Deliver(Signed(m));
  EXPECT_EQ(o.result, "unchanged") << o.detail;  // 5 still answers
  EXPECT_EQ(ChainVersion(), "5");
  ASSERT_TRUE(testing::WaitFor([&] { return !std::filesystem::exists(path + ".shadow"); }));
  ASSERT_TRUE(testing::WaitFor([&] { return updater_->ModelInfo().size() == 1u; }));
  EXPECT_EQ(updater_->ModelInfo()[0].kind, "network");
  // "withdrawn" for the prediction service: a shadow handover of version 0.
  ASSERT_TRUE(testing::WaitFor([&] {
    std::lock_guard lock(mu_);
    return !handovers_.empty() && handovers_.back().shadow && handovers_.back().version == 0;
  }));
  // The withdrawal survives a restart (state file).
  StopUpdater();
  StartUpdater();
  EXPECT_EQ(updater_->ModelInfo().size(), 1u);
  // The withdrawn version's shadow manifest is still accepted again if the
  // collector re-announces it (its floor did not move).
  EXPECT_EQ(Announce(7, "shadow").result, "shadow");
}

const std::string kRolloutTopic = "sentinelle/v1/models/pm25/60/rollout/manifest";

// Production 5 re-announced with the rollback permission, as the collector
// signs it while a newer version of the family is staged.
std::string Production5() {
  auto m = MakeManifest(5, test::ModelFile(5), "http://127.0.0.1:1/unused");
  m.rollback = true;
  return Signed(m);
}

TEST_F(UpdaterChecksTest, ShadowOnTheRolloutTopicSurvivesProductionUntilTheTopicIsCleared) {
  InstallV5();
  server_.Put(7, test::ModelFile(7));
  auto shadow = MakeManifest(7, test::ModelFile(7), server_.Url(7), "shadow");
  shadow.stations = {"st-2", "st-1"};
  ASSERT_EQ(Deliver(Signed(shadow), kRolloutTopic).result, "shadow");
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  // The collector re-announces production, then the rollout (a reconnect, a
  // periodic re-signing): nothing changes, even after the grace period.
  EXPECT_EQ(Deliver(Production5()).result, "unchanged");
  EXPECT_EQ(Deliver(Signed(shadow), kRolloutTopic).result, "unchanged");
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * config_.rollout_grace_ms));
  EXPECT_TRUE(std::filesystem::exists(path + ".shadow"));
  ASSERT_EQ(updater_->ModelInfo().size(), 2u);
  // The rollout ends (rollback by the accuracy gate): the topic is cleared.
  auto o = Deliver("", kRolloutTopic);
  EXPECT_EQ(o.result, "rollout_ended") << o.detail;
  EXPECT_FALSE(std::filesystem::exists(path + ".shadow"));
  ASSERT_EQ(updater_->ModelInfo().size(), 1u);
  EXPECT_EQ(ChainVersion(), "5");
  // A production manifest on a rollout topic is not believed.
  EXPECT_EQ(Deliver(Production5(), kRolloutTopic).result, "wrong_topic");
  // A cleared production topic changes nothing (no outcome: nothing queued).
  updater_->OnManifest(kTopic, "");
  EXPECT_EQ(ChainVersion(), "5");
}

TEST_F(UpdaterChecksTest, ShadowPromotedOnTheProductionTopicAndTheRolloutCleared) {
  InstallV5();
  server_.Put(7, test::ModelFile(7));
  ASSERT_EQ(Deliver(Signed(MakeManifest(7, test::ModelFile(7), server_.Url(7), "shadow")), kRolloutTopic)
                .result,
            "shadow");
  const int requests = server_.requests();
  // Promotion: production 7 first, then the rollout topic cleared.
  auto o = Deliver(Signed(MakeManifest(7, test::ModelFile(7), server_.Url(7))));
  ASSERT_EQ(o.result, "installed") << o.detail;
  EXPECT_EQ(server_.requests(), requests);  // taken from the staged file
  updater_->OnManifest(kRolloutTopic, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * config_.rollout_grace_ms));
  EXPECT_EQ(ChainVersion(), "7");
  ASSERT_EQ(updater_->ModelInfo().size(), 1u);
  EXPECT_EQ(updater_->ModelInfo()[0].version, "7");
}

TEST_F(UpdaterChecksTest, CanaryAnswersUntilItsRolloutEndsThenProductionComesBack) {
  InstallV5();
  server_.Put(5, test::ModelFile(5));
  const Manifest canary = Canary7();
  ASSERT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "installed");
  EXPECT_EQ(ChainVersion(), "7");
  EXPECT_EQ(updater_->Slots().at(0).canary_version, 7);
  // Production re-announced (older, with the rollback permission): it does
  // not displace the canary while the rollout manifest follows it.
  auto p = MakeManifest(5, test::ModelFile(5), server_.Url(5));
  p.rollback = true;
  EXPECT_EQ(Deliver(Signed(p)).result, "deferred");
  EXPECT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "unchanged");
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * config_.rollout_grace_ms));
  EXPECT_EQ(ChainVersion(), "7");
  // The canary is rolled back: production (already received) comes back.
  // The clearing yields two outcomes, "rollout_ended" then production's
  // "installed"; the second can already be there when the first is read.
  const size_t before = updater_->Outcomes().size();
  updater_->OnManifest(kRolloutTopic, "");
  ASSERT_TRUE(testing::WaitFor([&] { return updater_->Outcomes().size() > before; },
                               std::chrono::seconds(20)));
  const UpdateOutcome o = updater_->Outcomes()[before];
  EXPECT_EQ(o.result, "rollout_ended") << o.detail;
  ASSERT_TRUE(testing::WaitFor([&] {
    const auto last = updater_->Outcomes().back();
    return last.result == "installed" && last.version == 5;
  })) << updater_->Outcomes().back().detail;
  EXPECT_EQ(ChainVersion(), "5");
  EXPECT_EQ(updater_->Slots().at(0).canary_version, 0);
  EXPECT_EQ(updater_->Slots().at(0).active_version, 5);
}

TEST_F(UpdaterChecksTest, CanaryEndedWhileOfflineGivesWayToProductionAfterTheGrace) {
  InstallV5();
  server_.Put(5, test::ModelFile(5));
  const Manifest canary = Canary7();
  ASSERT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "installed");
  // Restart: the canary was rolled back meanwhile; only production is retained.
  StopUpdater();
  StartUpdater();
  EXPECT_EQ(updater_->Slots().at(0).canary_version, 7);  // from the state file
  auto p = MakeManifest(5, test::ModelFile(5), server_.Url(5));
  p.rollback = true;
  EXPECT_EQ(Deliver(Signed(p)).result, "deferred");
  ASSERT_TRUE(testing::WaitFor([&] {
    const auto o = updater_->Outcomes().back();
    return o.result == "installed" && o.version == 5;
  }));
  EXPECT_EQ(ChainVersion(), "5");
  EXPECT_EQ(updater_->Slots().at(0).canary_version, 0);
  // The same canary announced again later is taken again (the newest
  // artifact this station ran: no downgrade), a replay of an older one not.
  EXPECT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "installed");
  EXPECT_EQ(ChainVersion(), "7");
  server_.Put(6, test::ModelFile(6));
  auto old = MakeManifest(6, test::ModelFile(6), server_.Url(6), "canary");
  EXPECT_EQ(Deliver(Signed(old), kRolloutTopic).result, "older_version");
}

TEST_F(UpdaterChecksTest, CanaryPromotedStaysAndARolloutLeavingTheStationOutEndsItsShadow) {
  InstallV5();
  server_.Put(8, test::ModelFile(8));
  const Manifest canary = Canary7();
  ASSERT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "installed");
  // Promotion: production 7, then the rollout cleared.
  EXPECT_EQ(Deliver(Signed(MakeManifest(7, test::ModelFile(7), server_.Url(7)))).result, "unchanged");
  EXPECT_EQ(updater_->Slots().at(0).canary_version, 0);
  updater_->OnManifest(kRolloutTopic, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * config_.rollout_grace_ms));
  EXPECT_EQ(ChainVersion(), "7");
  // A shadow of 8 for this station, then re-scoped to another station only.
  auto shadow = MakeManifest(8, test::ModelFile(8), server_.Url(8), "shadow");
  shadow.stations = {"st-1"};
  ASSERT_EQ(Deliver(Signed(shadow), kRolloutTopic).result, "shadow");
  shadow.stations = {"st-2"};
  EXPECT_EQ(Deliver(Signed(shadow), kRolloutTopic).result, "out_of_scope");
  EXPECT_FALSE(std::filesystem::exists(updater_->ModelPath("pm25", 60, "network") + ".shadow"));
  EXPECT_EQ(updater_->ModelInfo().size(), 1u);
  EXPECT_EQ(ChainVersion(), "7");
}

TEST_F(UpdaterChecksTest, CanaryWithNothingInProductionIsRemovedWhenItsRolloutEnds) {
  const Manifest canary = Canary7();
  ASSERT_EQ(Deliver(Signed(canary), kRolloutTopic).result, "installed");
  const std::string path = updater_->ModelPath("pm25", 60, "network");
  ASSERT_TRUE(std::filesystem::exists(path));
  auto o = Deliver("", kRolloutTopic);
  EXPECT_EQ(o.result, "rollout_ended") << o.detail;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(updater_->ModelInfo().empty());
  std::lock_guard lock(mu_);
  ASSERT_FALSE(handovers_.empty());
  EXPECT_FALSE(handovers_.back().shadow);
  EXPECT_EQ(handovers_.back().version, 0);
}

TEST_F(UpdaterChecksTest, InstallsLinearModelOnItsTopic) {
  InstallV5();
  const std::string bytes = test::LinearModelFile(8);
  server_.Put(8, bytes);
  auto o = Deliver(Signed(MakeManifest(8, bytes, server_.Url(8))),
                   "sentinelle/v1/models/pm25/60/linear/manifest");
  ASSERT_EQ(o.result, "installed") << o.detail;
  EXPECT_EQ(updater_->ModelInfo().size(), 2u);
  EXPECT_EQ(ChainVersion(), "5");  // the network slot is untouched
}

}  // namespace
}  // namespace sentinelle::agent
