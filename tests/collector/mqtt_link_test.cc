// MqttLink against a real Mosquitto through a loopback relay the test resets
// while the link is publishing (tests/support/relay.h).
//
// The case is paho's failed-publish bug (mqtt_link.cc, on_failure): when a
// QoS 1 publish's socket write fails, paho 1.3.12 frees its topic and payload
// but keeps it for a resend after the next connect. The link must reconnect
// on a new client after such a failure, and keep working on it: subscriptions
// deliver, publishes arrive.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "relay.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/mqtt_link.h"
#include "sentinelle/env.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::RepeatingThread;
using sentinelle::testing::ResettableRelay;
using sentinelle::testing::WaitFor;

TEST(MqttLinkTest, AfterAFailedPublishWriteTheLinkReconnectsOnANewClientAndKeepsWorking) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start());
  ResettableRelay relay(broker.port());
  ASSERT_GT(relay.port(), 0);
  const Topics topics("sentinelle/v1");
  AckPeer observer(broker.uri(), "sentinelle/v1", "observer");
  ASSERT_TRUE(observer.Connect());
  const std::string commands = topics.Commands("s1");
  ASSERT_TRUE(observer.SubscribeRaw(commands));

  CollectorMetrics metrics;
  SystemEnv env;
  std::mutex mu;
  std::vector<std::string> sunk;
  MqttConfig config;
  config.uri = "tcp://127.0.0.1:" + std::to_string(relay.port());
  config.client_id = "mqtt-link-test";
  config.max_inflight = 16;
  MqttLink link(
      config,
      [&](std::string_view topic, std::string_view, int64_t) {
        std::lock_guard lock(mu);
        sunk.emplace_back(topic);
      },
      &metrics, &env);
  link.Start();
  ASSERT_TRUE(WaitFor([&] { return link.connected(); }));

  // Commands flood out as fast as the link takes them.
  int64_t n = 0;
  RepeatingThread flood([&] {
    if (link.pending() >= 500) return false;
    Command c;
    c.station_id = "s1";
    c.id = "c" + std::to_string(++n);
    c.name = "resync";
    link.SendCommand(c);
    return true;
  });

  int cycles = 0;
  int cycles_with_failure = 0;
  for (; cycles < 60 && cycles_with_failure < 3; ++cycles) {
    const size_t seen = observer.RawCount(commands);
    ASSERT_TRUE(WaitFor([&] { return observer.RawCount(commands) > seen + 200; }))
        << "cycle " << cycles << ": the link does not publish";
    const uint64_t failed = link.failed_writes();
    const uint64_t resets = link.client_resets();
    ASSERT_TRUE(relay.Reset());
    // The connector reconnects by itself; publishing resumes.
    const size_t before = observer.RawCount(commands);
    ASSERT_TRUE(WaitFor([&] { return link.connected() && observer.RawCount(commands) > before; }))
        << "cycle " << cycles << ": no reconnect";
    if (link.failed_writes() > failed) {
      ++cycles_with_failure;
      EXPECT_GT(link.client_resets(), resets) << "cycle " << cycles << ": same client after a failed write";
    }
  }
  flood.Stop();
  std::cout << cycles_with_failure << " of " << cycles << " resets failed a write ("
            << link.failed_writes() << " failed writes, " << link.client_resets()
            << " new clients)\n";
  EXPECT_GE(cycles_with_failure, 1) << "no write failed in " << cycles
                                    << " resets: the case was not exercised";
  EXPECT_LE(link.client_resets(), static_cast<uint64_t>(cycles_with_failure));
  EXPECT_EQ(metrics.mqtt_client_resets->Value(), static_cast<double>(link.client_resets()));

  // The renewed client still receives what stations publish.
  ASSERT_TRUE(observer.Publish(topics.Status("s1"), "{}"));
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    for (const auto& t : sunk) {
      if (t == topics.Status("s1")) return true;
    }
    return false;
  }));
  link.Stop();
}

}  // namespace
}  // namespace sentinelle::collector
