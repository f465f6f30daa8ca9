// The test harness itself: a real Mosquitto starts, restarts on its port,
// keeps persistent sessions across restarts, and dies on SIGKILL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker.h"
#include "process.h"

namespace sentinelle::testing {
namespace {

TEST(BrokerSupportTest, StartsRestartsAndDies) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  EXPECT_TRUE(PortOpen(broker.port()));
  ASSERT_TRUE(broker.Restart()) << broker.Log();
  EXPECT_TRUE(PortOpen(broker.port()));
  broker.Kill();
  EXPECT_TRUE(WaitFor([&] { return !PortOpen(broker.port()); }));
}

// A QoS 1 message published while a persistent-session subscriber is away is
// still delivered to it after two broker restarts (the tests that restart the
// broker rely on it, as the collector does in production). Fails when the
// broker cannot write its database, e.g. after dropping root privileges.
TEST(BrokerSupportTest, PersistentSessionKeepsQueuedMessagesAcrossRestarts) {
  TempDir dir;
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  const std::string port = std::to_string(broker.port());
  auto run = [&](std::vector<std::string> argv, const std::string& log) {
    ChildProcess p(std::move(argv), dir.File(log));
    EXPECT_TRUE(p.Start());
    const int rc = p.Wait(std::chrono::seconds(20));
    return std::make_pair(rc, p.Log());
  };
  const std::vector<std::string> sub = {"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-c",
                                        "-i", "persistent-peer", "-q", "1", "-t", "q/#"};
  auto with = [](std::vector<std::string> v, std::vector<std::string> more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  // Subscribe, then leave (-E: exit once the subscription is acknowledged).
  auto [rc1, log1] = run(with(sub, {"-E"}), "sub1.log");
  ASSERT_EQ(rc1, 0) << log1;
  ASSERT_TRUE(broker.Restart()) << broker.Log();
  auto [rc2, log2] = run({"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t",
                          "q/one", "-m", "kept"},
                         "pub.log");
  ASSERT_EQ(rc2, 0) << log2;
  ASSERT_TRUE(broker.Restart()) << broker.Log();
  auto [rc3, log3] = run(with(sub, {"-C", "1", "-W", "10"}), "sub2.log");
  EXPECT_EQ(rc3, 0) << log3 << broker.Log();
  EXPECT_NE(log3.find("kept"), std::string::npos) << log3 << broker.Log();
  EXPECT_EQ(broker.Log().find("Error saving"), std::string::npos) << broker.Log();
}

}  // namespace
}  // namespace sentinelle::testing
