// MqttClient against a real Mosquitto, through a loopback TCP relay the test
// can reset (RST to both ends) at any moment.
//
// The case here is paho's failed-publish bug (mqtt_client.cc,
// DropStaleHandle): when a QoS 1 publish's socket write fails, paho 1.3.12
// frees the message's topic and payload but keeps it for a resend after the
// next connect. The write fails when a reset lands while paho's send thread
// is writing; it cannot be forced (paho holds one lock across its threads and
// callbacks), so the test floods publishes and resets until it has happened.
#include <gtest/gtest.h>

#include <mqtt/async_client.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "broker.h"
#include "process.h"
#include "relay.h"
#include "sentinelle/agent/mqtt_client.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::RepeatingThread;
using sentinelle::testing::ResettableRelay;
using sentinelle::testing::WaitFor;

// Records every message on t/# through its own paho client, straight to
// the broker.
class Observer {
 public:
  explicit Observer(const std::string& uri) : client_(uri, "observer") {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lock(mu_);
      seen_.emplace_back(m->get_topic(), m->to_string());
    });
    client_.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    client_.subscribe("t/#", 1)->wait();
  }
  ~Observer() {
    try {
      client_.disconnect()->wait();
    } catch (const std::exception&) {
    }
  }
  std::vector<std::pair<std::string, std::string>> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mqtt::async_client client_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

// Floods QoS 1 publishes ("m<n>" on t/data) while the relay resets the
// connection, over and over. paho's send thread is writing most of the time,
// so now and then the reset lands on a publish's write and paho reports that
// publish failed: the case of DropStaleHandle. Every such connection must be
// followed by a connect on a new handle, and nothing but what was published
// may ever reach the broker (paho's resend of the failed message would read
// its freed topic and payload).
TEST(MqttClientTest, APublishFailedByAResetIsFollowedByAConnectOnANewHandle) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start());
  ResettableRelay relay(broker.port());
  ASSERT_GT(relay.port(), 0);
  Observer observer(broker.uri());

  std::atomic<int> ups{0}, downs{0};
  MqttClientOptions o;
  o.uri = "tcp://127.0.0.1:" + std::to_string(relay.port());
  o.client_id = "mqtt-client-test";
  o.max_inflight = 32;
  auto client = MqttClient::Create(
      o, [&](bool up, const std::string&) { (up ? ups : downs)++; },
      [](const std::string&, const std::string&) {});
  ASSERT_TRUE(client) << client.message();
  MqttClient& c = **client;

  std::atomic<int> next{0};
  RepeatingThread flood([&] {
    if (!c.Publish("t/data", "m" + std::to_string(next.load()), false)) return false;
    ++next;
    return true;
  });

  int cycles_with_failure = 0;
  uint64_t failures_seen = 0;
  int cycles = 0;
  for (; cycles < 60 && cycles_with_failure < 3; ++cycles) {
    // Disconnected: nothing is published, so no new failure can arise now.
    const bool failed_before = c.failed_publish_writes() > failures_seen;
    failures_seen = c.failed_publish_writes();
    if (failed_before) ++cycles_with_failure;
    const uint64_t resets_before = c.client_resets();
    const int up = ups.load();
    ASSERT_TRUE(c.ConnectAsync());
    ASSERT_TRUE(WaitFor([&] { return ups.load() == up + 1; })) << "cycle " << cycles;
    EXPECT_EQ(c.client_resets(), resets_before + (failed_before ? 1 : 0)) << "cycle " << cycles;
    const int sent = next.load();
    ASSERT_TRUE(WaitFor([&] { return next.load() > sent + 200; })) << "cycle " << cycles;
    const int down = downs.load();
    ASSERT_TRUE(relay.Reset());
    ASSERT_TRUE(WaitFor([&] { return downs.load() > down && !c.connected(); }))
        << "cycle " << cycles << ": downs " << downs.load() << " connected " << c.connected();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // late failure reports
  }
  flood.Stop();
  EXPECT_GE(cycles_with_failure, 1) << "no publish failed in " << cycles
                                    << " resets: the case was not exercised";
  std::cout << cycles_with_failure << " of " << cycles << " resets failed a publish ("
            << c.failed_publish_writes() << " failed writes, " << c.client_resets() << " new handles)\n";

  // What reached the broker is what was published, and all of it arrives.
  ASSERT_TRUE(c.ConnectAsync());
  ASSERT_TRUE(WaitFor([&] { return c.connected(); }));
  ASSERT_TRUE(c.Publish("t/data", "last", false));
  ASSERT_TRUE(WaitFor([&] {
    auto seen = observer.seen();
    return !seen.empty() && seen.back().second == "last";
  }));
  const int published = next.load();
  for (const auto& [topic, payload] : observer.seen()) {
    EXPECT_EQ(topic, "t/data");
    if (payload == "last") continue;
    ASSERT_TRUE(payload.size() > 1 && payload[0] == 'm' &&
                payload.find_first_not_of("0123456789", 1) == std::string::npos)
        << "garbage payload: " << payload;
    EXPECT_LT(std::stoi(payload.substr(1)), published);
  }
  c.Disconnect(2000);
}


TEST(MqttClientTest, ReconnectWithoutAFailedPublishKeepsTheHandle) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start());
  ResettableRelay relay(broker.port());
  std::atomic<int> ups{0}, downs{0};
  MqttClientOptions o;
  o.uri = "tcp://127.0.0.1:" + std::to_string(relay.port());
  o.client_id = "mqtt-client-test-2";
  auto client = MqttClient::Create(
      o, [&](bool up, const std::string&) { (up ? ups : downs)++; },
      [](const std::string&, const std::string&) {});
  ASSERT_TRUE(client) << client.message();
  MqttClient& c = **client;
  ASSERT_TRUE(c.ConnectAsync());
  ASSERT_TRUE(WaitFor([&] { return ups.load() == 1 && c.connected(); }));
  ASSERT_TRUE(relay.Reset());
  ASSERT_TRUE(WaitFor([&] { return downs.load() >= 1 && !c.connected(); }));
  ASSERT_TRUE(c.ConnectAsync());
  ASSERT_TRUE(WaitFor([&] { return ups.load() == 2 && c.connected(); }));
  EXPECT_EQ(c.failed_publish_writes(), 0u);
  EXPECT_EQ(c.client_resets(), 0u);
  c.Disconnect(2000);
}

}  // namespace
}  // namespace sentinelle::agent
