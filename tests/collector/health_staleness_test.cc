// Model staleness in station health, wired to the registry: a running
// collector (real Mosquitto, real SQLite store and registry, real trained
// models) promotes and rolls back versions; station statuses go through the
// real status codec into the collector's health tracker.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "broker.h"
#include "http_client.h"
#include "model_fixture.h"
#include "test_agent.h"
#include "sentinelle/codec.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/training_service.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::ServedModel;
using sentinelle::testing::ServedModelOptions;
using sentinelle::testing::WaitForJob;

constexpr int kStaleS = 3600;

bool HasReason(const StationHealth& h, const std::string& a, const std::string& b) {
  return std::any_of(h.reasons.begin(), h.reasons.end(), [&](const std::string& r) {
    return r.find(a) != std::string::npos && r.find(b) != std::string::npos;
  });
}

class HealthStalenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start()) << broker_.Log();
    ServedModelOptions o;
    o.broker_uri = broker_.uri();
    o.configure = [](CollectorConfig& c) {
      c.health.model_stale_s = kStaleS;
      c.monitoring.enabled = false;
    };
    std::string error;
    served_ = ServedModel::Start(o, &error);
    ASSERT_TRUE(served_) << error;
  }

  Collector& collector() { return served_->collector(); }
  TrainingService& models() { return *collector().models(); }

  // A status as the agent publishes it, decoded by the collector's codec and
  // handed to the health tracker at `at_ms`.
  void Report(Collector& c, const std::string& station, std::vector<ModelVersionInfo> running,
              int64_t at_ms) {
    StationStatus s;
    s.station_id = station;
    s.state = "online";
    s.agent_version = "test";
    s.boot_id = "b1";
    s.ts_s = at_ms / 1000;
    s.time = {true, "ntp"};
    s.models = std::move(running);
    auto decoded = DecodeStatus(EncodeStatus(s), station);
    ASSERT_TRUE(decoded.ok()) << decoded.message();
    c.health().OnStatus(*decoded, at_ms);
  }
  static ModelVersionInfo Network(int64_t v) { return {"pm25", 60, "network", std::to_string(v)}; }

  StationHealth Health(Collector& c, const std::string& station, int64_t now_ms) {
    auto h = c.health().Get(station, now_ms, 0);
    EXPECT_TRUE(h.has_value());
    return h ? *h : StationHealth{};
  }

  // Trains one more pm25/60 network model through a real job; its version.
  int64_t TrainAnother() {
    TrainRequest req;
    req.station_models = false;
    req.linear = false;
    auto id = models().jobs().Submit(req, TriggerInfo{"manual", "test", ""});
    EXPECT_TRUE(id.ok()) << id.message();
    if (!id) return 0;
    auto job = WaitForJob(models().jobs(), *id, std::chrono::seconds(120));
    EXPECT_TRUE(job && job->state == JobState::kSucceeded);
    if (!job || job->versions.empty()) return 0;
    return job->versions.front();
  }

  MosquittoBroker broker_;
  std::unique_ptr<ServedModel> served_;
};

TEST_F(HealthStalenessTest, PromotionRollbackAndStartUpSetTheExpectedVersion) {
  const int64_t v1 = served_->version;
  const ModelFamily family{"pm25", 60, "network", ""};
  auto rec1 = models().registry().Get(v1);
  ASSERT_TRUE(rec1.ok() && *rec1);
  // The fixture's promotion was announced: v1 is expected from its stage change.
  EXPECT_EQ(collector().health().distributed_families(), 1u);
  const int64_t t1 = (*rec1)->updated_s * 1000;
  Report(collector(), "st-a", {Network(v1), {"pm25", 60, "linear", "999"}}, t1 + 1000);
  EXPECT_EQ(Health(collector(), "st-a", t1 + 2000).state, HealthState::kReady);

  // A newer version goes to production through the registry API.
  const int64_t v2 = TrainAnother();
  ASSERT_GT(v2, v1);
  auto promoted = models().api().Promote(v2, Stage::kProduction, {}, "test", "better");
  ASSERT_TRUE(promoted.ok()) << promoted.message();
  const int64_t t2 = promoted->updated_s * 1000;
  Report(collector(), "st-a", {Network(v1)}, t2 + 1000);
  Report(collector(), "st-b", {Network(v2)}, t2 + 1000);
  // Within model_stale_s the station may still be updating.
  EXPECT_EQ(Health(collector(), "st-a", t2 + 2000).state, HealthState::kReady);
  // Past it, the station on v1 is stale and says why; the one on v2 is not.
  const int64_t late = t2 + kStaleS * 1000LL + 2000;
  Report(collector(), "st-a", {Network(v1)}, late - 500);
  Report(collector(), "st-b", {Network(v2)}, late - 500);
  StationHealth a = Health(collector(), "st-a", late);
  EXPECT_EQ(a.state, HealthState::kStaleModel);
  EXPECT_TRUE(HasReason(a, "pm25/60/network runs " + std::to_string(v1),
                        "current " + std::to_string(v2)))
      << (a.reasons.empty() ? "" : a.reasons[0]);
  EXPECT_EQ(Health(collector(), "st-b", late).state, HealthState::kReady);
  auto counts = collector().health().CountByState(late, {});
  EXPECT_EQ(counts[static_cast<int>(HealthState::kStaleModel)], 1);
  EXPECT_EQ(counts[static_cast<int>(HealthState::kReady)], 1);
  // It goes back as soon as it reports the current version.
  Report(collector(), "st-a", {Network(v2)}, late + 100);
  EXPECT_EQ(Health(collector(), "st-a", late + 200).state, HealthState::kReady);

  // Rollback: v1 is production again; now the station on v2 is behind.
  auto back = models().api().Rollback(family, "test", "regression");
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->version, v1);
  const int64_t t3 = back->updated_s * 1000;
  const int64_t late3 = std::max(t3, late) + kStaleS * 1000LL + 2000;
  Report(collector(), "st-a", {Network(v2)}, late3 - 500);
  Report(collector(), "st-b", {Network(v1)}, late3 - 500);
  a = Health(collector(), "st-a", late3);
  EXPECT_EQ(a.state, HealthState::kStaleModel);
  EXPECT_TRUE(HasReason(a, "runs " + std::to_string(v2), "current " + std::to_string(v1)));
  EXPECT_EQ(Health(collector(), "st-b", late3).state, HealthState::kReady);

  // A model whose signed manifest has expired is stale even when current.
  auto manifest = models().distributor().LatestManifest(v1);
  ASSERT_TRUE(manifest.has_value());
  const int64_t expired = manifest->expires_s * 1000 + 1000;
  Report(collector(), "st-b", {Network(v1)}, expired - 500);
  StationHealth b = Health(collector(), "st-b", expired);
  EXPECT_EQ(b.state, HealthState::kStaleModel);
  EXPECT_TRUE(HasReason(b, "runs " + std::to_string(v1), "expired"));

  // Start-up: a new collector on the same store and registry announces its
  // production models, and its health tracker expects v1 at once.
  CollectorConfig config = served_->config();
  collector().Stop();
  Collector restarted(config);
  ASSERT_TRUE(restarted.Start().ok());
  EXPECT_EQ(restarted.health().distributed_families(), 1u);
  Report(restarted, "st-a", {Network(v2)}, late3 - 500);
  EXPECT_EQ(Health(restarted, "st-a", late3).state, HealthState::kStaleModel);
  Report(restarted, "st-a", {Network(v1)}, late3 + 100);
  EXPECT_EQ(Health(restarted, "st-a", late3 + 200).state, HealthState::kReady);
  restarted.Stop();
}

// The whole path on the wall clock: a station's status travels over the real
// broker into the running collector, and the API's station health turns
// stale_model once the station runs an older network model for longer than
// health.model_stale_s, and ready again when it reports the current one.
TEST(HealthStalenessMqttTest, StatusOverMqttTurnsApiHealthStaleThenReady) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  ServedModelOptions o;
  o.broker_uri = broker.uri();
  o.configure = [](CollectorConfig& c) {
    c.health.model_stale_s = 4;
    c.monitoring.enabled = false;
  };
  std::string error;
  auto served = ServedModel::Start(o, &error);
  ASSERT_TRUE(served) << error;
  const std::string current = std::to_string(served->version);

  sentinelle::testing::TestAgent station(broker.uri(), "st-mqtt");
  ASSERT_TRUE(station.Connect());
  auto publish_status = [&](const std::string& version) {
    StationStatus s;
    s.station_id = "st-mqtt";
    s.state = "online";
    s.agent_version = "test";
    s.boot_id = "b1";
    s.ts_s = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    s.time = {true, "ntp"};
    s.models = {{"pm25", 60, "network", version}};
    return station.PublishRaw(Topics("sentinelle/v1").Status("st-mqtt"), EncodeStatus(s), true);
  };
  // The API's view of the station: its health state and first reason.
  auto api_health = [&](std::string* reason) -> std::string {
    auto r = sentinelle::testing::HttpCall(served->http_port(), "GET", "/api/v1/stations/st-mqtt",
                                           sentinelle::testing::kFixtureViewerToken);
    if (r.status != 200) return "http " + std::to_string(r.status);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j["health"].is_object()) return "no health";
    if (reason && j["health"]["reasons"].is_array() && !j["health"]["reasons"].empty()) {
      *reason = j["health"]["reasons"][0].get<std::string>();
    }
    return j["health"]["state"].get<std::string>();
  };
  auto wait_for = [&](const std::string& want, std::string* reason) {
    std::string got;
    for (int i = 0; i < 150; ++i) {
      got = api_health(reason);
      if (got == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return got;
  };

  // The promotion happened just now: within the grace period the station
  // running another version is still "ready" (it may be downloading).
  const auto promoted = std::chrono::steady_clock::now();
  ASSERT_TRUE(publish_status("0"));
  std::string reason;
  const std::string early = wait_for("ready", &reason);  // once the status has arrived
  if (std::chrono::steady_clock::now() - promoted < std::chrono::seconds(3)) {
    EXPECT_EQ(early, "ready") << reason;
  }
  // Past model_stale_s (4 s) it is stale, with the reason; statuses keep coming.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_TRUE(publish_status("0"));
  EXPECT_EQ(wait_for("stale_model", &reason), "stale_model");
  EXPECT_NE(reason.find("pm25/60/network runs 0, current " + current), std::string::npos) << reason;

  ASSERT_TRUE(publish_status(current));
  EXPECT_EQ(wait_for("ready", &reason), "ready");
  station.Disconnect();
}

// Tracker level: canary scope, station models, withdrawal and the kinds
// that are never compared.
TEST(HealthStalenessScopeTest, CanaryScopeStationModelsAndWithdrawal) {
  HealthConfig cfg;
  cfg.model_stale_s = 10;
  HealthTracker h(cfg);
  const int64_t t0 = 1767300000000;
  const int64_t later = t0 + 60000;
  ModelFamilyKey network{"pm25", 60, "network", ""};
  h.SetDistributedModels(network, {{"5", {}, t0, 0}, {"7", {"canary-st"}, t0, 0}});
  h.SetDistributedModels({"pm25", 60, "station", "own"}, {{"9", {}, t0, 0}});
  auto status = [&](const std::string& id, std::vector<ModelVersionInfo> m) {
    StationStatus s;
    s.station_id = id;
    s.state = "online";
    s.time = {true, "ntp"};
    s.models = std::move(m);
    h.OnStatus(s, later - 100);
  };
  status("canary-st", {{"pm25", 60, "network", "7"}, {"pm25", 60, "network-shadow", "3"}});
  status("plain", {{"pm25", 60, "network", "7"}});
  status("own", {{"pm25", 60, "station", "9"}, {"pm25", 60, "network", "5"},
                 {"pm25", 60, "persistence", ""}});
  status("other", {{"pm25", 60, "station", "9"}});  // no station model for "other"
  EXPECT_EQ(h.Get("canary-st", later, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.Get("plain", later, 0)->state, HealthState::kStaleModel);
  EXPECT_EQ(h.Get("own", later, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.Get("other", later, 0)->state, HealthState::kReady);
  // Re-announcing the same version keeps since when it was expected.
  h.SetDistributedModels(network, {{"5", {}, later, 0}, {"7", {"canary-st"}, later, 0}});
  EXPECT_EQ(h.Get("plain", later, 0)->state, HealthState::kStaleModel);
  // The canary promoted network-wide: everyone is expected on 7, since now.
  h.SetDistributedModels(network, {{"7", {}, later, 0}});
  EXPECT_EQ(h.Get("plain", later, 0)->state, HealthState::kReady);
  status("own", {{"pm25", 60, "network", "5"}});
  EXPECT_EQ(h.Get("own", later + 5000, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.Get("own", later + 11000, 0)->state, HealthState::kStaleModel);
  // Withdrawn: nothing is expected, nothing is stale.
  h.SetDistributedModels(network, {});
  EXPECT_EQ(h.Get("own", later + 11000, 0)->state, HealthState::kReady);
  EXPECT_EQ(h.distributed_families(), 1u);
}

}  // namespace
}  // namespace sentinelle::collector
