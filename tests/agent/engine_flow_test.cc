// Publisher flow against a real Mosquitto and a real ack peer created before
// the engine (another paho client already running in the process): each
// confirmation releases the next publish without a timed wait, and a large
// in-flight cap stays within what the MQTT client can buffer instead of having
// publishes refused.
#include <gtest/gtest.h>

#include <chrono>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/agent/engine.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;

class EngineFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start()) << broker_.Log();
    // The peer's paho client exists before the engine's: the MQTT library's
    // global set-up must not disturb a client that is already running.
    peer_ = std::make_unique<AckPeer>(broker_.uri());
    ASSERT_TRUE(peer_->Connect());
    config_ = test::TestConfig("st-flow", broker_.uri(), dir_.File("agent.db"));
  }

  std::unique_ptr<Engine> StartEngine() {
    auto e = Engine::Create(config_);
    EXPECT_TRUE(e) << e.message();
    if (!e) return nullptr;
    EXPECT_TRUE((*e)->Start());
    EXPECT_TRUE(WaitFor([&] { return (*e)->GetSnapshot().connected; }));
    return std::move(*e);
  }

  static void Feed(Engine& e, const std::vector<std::string>& lines) {
    for (const auto& l : lines) e.HandleLine(l);
  }

  TempDir dir_;
  // TCP_NODELAY on the broker's sockets (docs/PERFORMANCE.md: it does not remove
  // the clients' own Nagle delays; kept so the broker adds none).
  MosquittoBroker broker_{sentinelle::testing::BrokerOptions{true, "set_tcp_nodelay true"}};
  std::unique_ptr<AckPeer> peer_;
  AgentConfig config_;
};

// One reading per message and only one unconfirmed reading on the wire: every
// publish waits for the previous confirmation, so the drain time is the sum of
// 100 round trips (publish, PUBACK, the peer's ack, the confirmation). A paho
// send thread that misses its wake-ups (MQTTAsync_global_init after a client
// exists) makes each round about a second: 100 s. Measured on the shared
// 2-vCPU machine under load: about 9 s with the feed (0.7 s), most of it
// small-packet TCP delays (no TCP_NODELAY on paho's sockets).
TEST_F(EngineFlowTest, EachConfirmationReleasesTheNextPublishAtOnce) {
  constexpr int kReadings = 100;
  config_.mqtt.batch_max_readings = 1;
  config_.mqtt.window_readings = 1;
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  const auto t0 = std::chrono::steady_clock::now();
  Feed(*engine, test::Burst(0, kReadings));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 60s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(engine->GetSnapshot().last_seq, kReadings);
  EXPECT_EQ(peer_->received_count(), static_cast<size_t>(kReadings));  // one at a time: no resend
  EXPECT_LT(seconds, 30.0) << kReadings << " round trips took " << seconds << " s";
  EXPECT_EQ(engine->metrics().Value("sentinelle_agent_publish_failures_total"), 0);
}

// 1000 messages allowed in flight, one reading each: before flow control the
// client's buffer (100 queued messages) refused most publishes, each one
// logged. Now nothing is refused and every reading arrives once, in order.
TEST_F(EngineFlowTest, LargeInFlightCapStaysWithinTheClientBuffer) {
  constexpr int kReadings = 600;
  config_.mqtt.batch_max_readings = 1;
  config_.mqtt.max_inflight_messages = 1000;
  config_.mqtt.window_readings = 100000;
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  Feed(*engine, test::Burst(0, kReadings));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 60s));
  EXPECT_EQ(engine->metrics().Value("sentinelle_agent_publish_failures_total"), 0);
  EXPECT_EQ(engine->metrics().Value("sentinelle_agent_messages_published_total"), kReadings);
  const auto got = peer_->received();
  ASSERT_EQ(got.size(), static_cast<size_t>(kReadings));
  for (int i = 0; i < kReadings; ++i) EXPECT_EQ(got[i].seq, i + 1);
}

}  // namespace
}  // namespace sentinelle::agent
