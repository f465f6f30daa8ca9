// Model distribution end to end: the real collector trains a pm25/60 network
// model from simulated history, signs and announces it (retained manifest on
// a real Mosquitto, artifact on its HTTP API); the real sentinelle-agent
// binary installs it through its updater and prediction service and reports
// the version in its retained status. A manifest altered after signing and
// a replay of it are then refused end to end: the agent keeps the model,
// keeps reporting it, and the refusal counter moves on /metrics.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ack_peer.h"
#include "broker.h"
#include "model_fixture.h"
#include "process.h"
#include "sentinelle/codec.h"
#include "sentinelle/fetch.h"
#include "sentinelle/manifest.h"

namespace sentinelle {
namespace {

using testing::ChildProcess;
using testing::TempDir;
using testing::WaitFor;

const std::string kStation = "e2e-station";

std::string Scrape(int port) {
  // The agent's /metrics, fetched with curl.
  TempDir d;
  ChildProcess curl({"/usr/bin/curl", "-s", "http://127.0.0.1:" + std::to_string(port) + "/metrics",
                     "-o", d.File("m.txt")},
                    d.File("curl.log"));
  if (!curl.Start() || curl.Wait(std::chrono::seconds(10)) != 0) return "";
  auto text = ReadFile(d.File("m.txt"));
  return text ? *text : "";
}

std::string StatusVersion(const testing::AckPeer& peer, const std::string& topic) {
  auto s = DecodeStatus(peer.LastRaw(topic), kStation);
  if (!s || s->state != "online") return "";
  for (const auto& m : s->models) {
    if (m.target == "pm25" && m.horizon_min == 60 && m.kind == "network") return m.version;
  }
  return "";
}

TEST(UpdaterRoundTrip, CollectorPublishesRunningAgentInstallsAndReports) {
  testing::MosquittoBroker broker;
  ASSERT_TRUE(broker.Start());
  testing::ServedModelOptions so;
  so.broker_uri = broker.uri();
  std::string error;
  auto served = testing::ServedModel::Start(so, &error);
  ASSERT_TRUE(served) << error;

  TempDir dir;
  const std::string status_topic = "sentinelle/v1/stations/" + kStation + "/status";
  testing::AckPeer peer(broker.uri(), "sentinelle/v1", "e2e-updater-peer");
  ASSERT_TRUE(peer.Connect());
  ASSERT_TRUE(peer.SubscribeRaw(status_topic));

  const int metrics_port = testing::FreeLoopbackPort();
  const nlohmann::json config = {
      {"station_id", kStation},
      {"clock", {{"assume_synced", true}}},
      {"input", {{"kind", "none"}}},
      {"store", {{"path", dir.File("agent.db")}}},
      {"mqtt", {{"uri", broker.uri()}, {"status_interval_s", 1}, {"reconnect_min_ms", 100},
                {"reconnect_max_ms", 500}}},
      {"metrics", {{"listen", "127.0.0.1:" + std::to_string(metrics_port)}}},
      {"prediction", {{"model_dir", dir.File("models")}, {"reload_interval_ms", 0}}},
      {"updater", {{"public_key_file", served->public_key_path},
                   {"model_dir", dir.File("models")},
                   {"download_token", testing::kFixtureViewerToken},
                   {"download_attempts", 1}}}};
  std::filesystem::create_directories(dir.File("models"));
  ASSERT_TRUE(WriteFileAtomic(dir.File("agent.json"), config.dump(2)));
  ChildProcess agent({testing::BinPath("sentinelle-agent"), "--config", dir.File("agent.json")},
                     dir.File("agent.log"));
  ASSERT_TRUE(agent.Start());

  const std::string want = std::to_string(served->version);
  ASSERT_TRUE(WaitFor([&] { return StatusVersion(peer, status_topic) == want; },
                      std::chrono::seconds(60)))
      << "status: " << peer.LastRaw(status_topic) << "\nagent log:\n"
      << agent.Log();
  auto installed = ReadFile(dir.File("models/pm25_60_network.json"));
  ASSERT_TRUE(installed);
  EXPECT_TRUE(*installed == served->artifact);

  // Someone with publish rights replays the manifest with a widened scope and
  // a higher version, keeping the old signature.
  Manifest forged = served->manifest;
  forged.version += 100;
  ASSERT_TRUE(peer.Publish("sentinelle/v1/models/pm25/60/manifest", EncodeManifest(forged)));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scrape(metrics_port).find(
                   "sentinelle_agent_model_updates_refused_total{reason=\"bad_signature\"} 1") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << Scrape(metrics_port);
  EXPECT_EQ(StatusVersion(peer, status_topic), want);
  EXPECT_TRUE(*ReadFile(dir.File("models/pm25_60_network.json")) == served->artifact);

  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(20)), 0) << agent.Log();
}

}  // namespace
}  // namespace sentinelle
