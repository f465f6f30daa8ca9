// The test harness itself: a real Mosquitto starts, restarts on its port,
// and dies on SIGKILL.
#include <gtest/gtest.h>

#include "broker.h"

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

}  // namespace
}  // namespace sentinelle::testing
