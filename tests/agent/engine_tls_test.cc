// The agent's MQTT link over TLS, against real Mosquitto TLS listeners: the
// committed production broker setup (SecureBroker: configs/mosquitto,
// scripts/make-dev-certs.sh, per-station passwords and the ACL), and a broker
// that requires client certificates. A wrong CA fails the handshake clearly
// (logged with OpenSSL's reason, counted) while readings keep buffering.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <signal.h>

#include <nlohmann/json.hpp>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "secure_broker.h"
#include "sentinelle/agent/engine.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::RunScript;
using sentinelle::testing::SecureBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;
using test::kT0s;

constexpr const char* kStation = "st-tls";

// Captures what the agent logs while alive (spdlog's default logger).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() {
    sink_->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// Seqs 1..n each received, each with its own window.
void ExpectAllWindows(const std::vector<testing::ReceivedReading>& got, int64_t n) {
  std::map<int64_t, int64_t> window_of;
  for (const auto& r : got) window_of.emplace(r.seq, r.window_end_s);
  ASSERT_EQ(static_cast<int64_t>(window_of.size()), n);
  for (const auto& [seq, end] : window_of) EXPECT_EQ(end, kT0s + 300 * seq) << "seq " << seq;
}

class EngineTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new SecureBroker({kStation, "svc.collector"});
    ASSERT_TRUE(broker_->Start()) << broker_->Log();
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(broker_ && broker_->Running());
    // The collector's stand-in on the broker host's loopback listener.
    peer_ = std::make_unique<AckPeer>(broker_->plain_uri(), "sentinelle/v1", "svc.collector");
    peer_->set_credentials("svc.collector", broker_->Password("svc.collector"));
    ASSERT_TRUE(peer_->Connect()) << broker_->Log();
  }
  void TearDown() override {
    if (HasFailure()) ADD_FAILURE() << "broker log:\n" << broker_->Log();
  }

  AgentConfig Config(const std::string& uri, const std::string& ca_file) {
    AgentConfig c = test::TestConfig(kStation, uri, dir_.File("agent.db"));
    c.mqtt.username = kStation;  // the ACL's %u
    c.mqtt.password = broker_->Password(kStation);
    c.mqtt.ca_file = ca_file;
    return c;
  }

  static SecureBroker* broker_;
  TempDir dir_;
  std::unique_ptr<AckPeer> peer_;
};

SecureBroker* EngineTlsTest::broker_ = nullptr;

TEST_F(EngineTlsTest, DeliversReadingsOverTlsTrustingTheNetworksCa) {
  const std::string tls_port = std::to_string(broker_->tls_port());
  int windows = 0;
  // Both TLS schemes, one after the other on the same store.
  for (const std::string scheme : {"ssl://", "mqtts://"}) {
    auto e = Engine::Create(Config(scheme + "127.0.0.1:" + tls_port, broker_->ca_file()));
    ASSERT_TRUE(e) << e.message();
    Engine& engine = **e;
    ASSERT_TRUE(engine.Start());
    ASSERT_TRUE(WaitFor([&] { return engine.GetSnapshot().connected; }, 15s)) << scheme;
    for (const auto& l : test::Burst(windows, 3)) engine.HandleLine(l);
    windows += 3;
    ASSERT_TRUE(WaitFor([&] {
      auto s = engine.GetSnapshot();
      return s.last_seq == windows && s.unconfirmed == 0;
    }, 15s)) << scheme;
    EXPECT_EQ(engine.metrics().Value("sentinelle_agent_connect_failures_total"), 0) << scheme;
    engine.Stop();
  }
  ExpectAllWindows(peer_->received(), windows);
}

// The real binary loads paho's TLS build (and with it OpenSSL) only for a TLS
// URI (a tcp:// agent maps neither: process_test.cc), and delivers over it.
TEST_F(EngineTlsTest, TheAgentBinaryLoadsPahosTlsBuildForATlsUri) {
  const nlohmann::json config = {
      {"station_id", kStation},
      {"clock", {{"source", "input"}}},
      {"input", {{"kind", "stdin"}}},
      {"store", {{"path", dir_.File("agent.db")}}},
      {"mqtt",
       {{"uri", broker_->tls_uri()},
        {"ca_file", broker_->ca_file()},
        {"username", kStation},
        {"password", broker_->Password(kStation)}}},
      {"metrics", {{"listen", ""}}},
      {"log", {{"level", "info"}}}};
  std::ofstream(dir_.File("agent.json")) << config.dump();
  sentinelle::testing::ChildProcess agent(
      {sentinelle::testing::BinPath("sentinelle-agent"), "--config", dir_.File("agent.json")},
      dir_.File("agent.log"));
  ASSERT_TRUE(agent.Start(true));
  std::string lines;
  for (const auto& l : test::Burst(0, 3)) lines += l + "\n";
  ASSERT_TRUE(agent.WriteStdin(lines));
  ASSERT_TRUE(WaitFor([&] { return peer_->received_count() >= 3; }, 20s)) << agent.Log();
  std::ifstream maps_file("/proc/" + std::to_string(agent.pid()) + "/maps");
  const std::string maps((std::istreambuf_iterator<char>(maps_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(maps.find("libpaho-mqtt3as.so"), std::string::npos) << maps;
  EXPECT_NE(maps.find("libssl.so"), std::string::npos) << maps;
  EXPECT_EQ(maps.find("libpaho-mqtt3a.so"), std::string::npos) << maps;  // one build only
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(), 0) << agent.Log();
  ExpectAllWindows(peer_->received(), 3);
}

TEST_F(EngineTlsTest, WrongCaFailsTheHandshakeClearlyAndReadingsWaitInTheOutbox) {
  // A CA the broker's certificate does not chain to (an attacker's broker
  // would present exactly this kind of certificate).
  TempDir other;
  ASSERT_EQ(RunScript("scripts/make-dev-certs.sh", {other.File("pki")}, other.File("log")), 0);
  LogCapture log;
  {
    AgentConfig c = Config(broker_->tls_uri(), other.File("pki/ca.crt"));
    c.mqtt.reconnect_min_ms = 50;
    c.mqtt.reconnect_max_ms = 200;
    auto e = Engine::Create(c);
    ASSERT_TRUE(e) << e.message();
    Engine& engine = **e;
    ASSERT_TRUE(engine.Start());
    Metrics& m = engine.metrics();
    ASSERT_TRUE(WaitFor([&] { return m.Value("sentinelle_agent_connect_failures_total") >= 3; }, 20s));
    for (const auto& l : test::Burst(0, 4)) engine.HandleLine(l);
    ASSERT_TRUE(WaitFor([&] { return engine.GetSnapshot().last_seq == 4; }));
    const auto s = engine.GetSnapshot();
    EXPECT_FALSE(s.connected);
    EXPECT_EQ(s.unconfirmed, 4);
    EXPECT_EQ(m.Value("sentinelle_agent_mqtt_connected"), 0);
    EXPECT_EQ(m.Value("sentinelle_agent_messages_published_total"), 0);
    EXPECT_GE(m.Value("sentinelle_agent_reconnects_total"), 2);
    engine.Stop();
  }
  const std::string text = log.text();
  EXPECT_NE(text.find("TLS: "), std::string::npos) << text;
  EXPECT_NE(text.find("certificate verify failed"), std::string::npos) << text;
  EXPECT_NE(text.find(broker_->tls_uri()), std::string::npos) << text;
  EXPECT_EQ(peer_->received_count(), 0u);

  // The right CA: everything buffered during the failure arrives, in order.
  auto e = Engine::Create(Config(broker_->tls_uri(), broker_->ca_file()));
  ASSERT_TRUE(e) << e.message();
  ASSERT_TRUE((*e)->Start());
  ASSERT_TRUE(WaitFor([&] { return (*e)->GetSnapshot().unconfirmed == 0; }, 15s));
  ExpectAllWindows(peer_->received(), 4);
}

TEST_F(EngineTlsTest, UnreadableOrMissingTlsFilesAreStartupErrors) {
  auto missing = Engine::Create(Config(broker_->tls_uri(), dir_.File("no-such-ca.crt")));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("mqtt.ca_file"), std::string::npos) << missing.message();
  auto no_ca = Engine::Create(Config(broker_->tls_uri(), ""));
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.message().find("mqtt.ca_file"), std::string::npos) << no_ca.message();
  AgentConfig half = Config(broker_->tls_uri(), broker_->ca_file());
  half.mqtt.cert_file = broker_->ca_file();
  auto no_key = Engine::Create(half);
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.message().find("mqtt.key_file"), std::string::npos) << no_key.message();
}

TEST(EngineClientCertTest, ClientCertificateIsPresentedWhenTheBrokerRequiresOne) {
  TempDir pki;
  ASSERT_EQ(RunScript("scripts/make-dev-certs.sh", {pki.File("pki"), "st-cert"}, pki.File("log")),
            0);
  const int tls_port = testing::FreeLoopbackPort();
  testing::BrokerOptions bo;
  bo.extra_config = "listener " + std::to_string(tls_port) + " 127.0.0.1\n" +
                    "cafile " + pki.File("pki/ca.crt") + "\n" +
                    "certfile " + pki.File("pki/server.crt") + "\n" +
                    "keyfile " + pki.File("pki/server.key") + "\n" +
                    "require_certificate true\n";
  MosquittoBroker broker(bo);
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  const std::string uri = "ssl://127.0.0.1:" + std::to_string(tls_port);
  TempDir dir;

  // Without a client certificate the broker refuses the handshake.
  AgentConfig c = test::TestConfig("st-cert", uri, dir.File("agent.db"));
  c.mqtt.ca_file = pki.File("pki/ca.crt");
  {
    auto e = Engine::Create(c);
    ASSERT_TRUE(e) << e.message();
    ASSERT_TRUE((*e)->Start());
    ASSERT_TRUE(WaitFor(
        [&] { return (*e)->metrics().Value("sentinelle_agent_connect_failures_total") >= 2; }, 20s));
    EXPECT_FALSE((*e)->GetSnapshot().connected);
  }
  // With it, readings flow.
  c.mqtt.cert_file = pki.File("pki/clients/st-cert.crt");
  c.mqtt.key_file = pki.File("pki/clients/st-cert.key");
  auto e = Engine::Create(c);
  ASSERT_TRUE(e) << e.message();
  ASSERT_TRUE((*e)->Start());
  ASSERT_TRUE(WaitFor([&] { return (*e)->GetSnapshot().connected; }, 15s)) << broker.Log();
  for (const auto& l : test::Burst(0, 2)) (*e)->HandleLine(l);
  ASSERT_TRUE(WaitFor([&] { return (*e)->GetSnapshot().unconfirmed == 0; }, 15s));
  ExpectAllWindows(peer.received(), 2);
}

}  // namespace
}  // namespace sentinelle::agent
