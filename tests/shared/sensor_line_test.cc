#include "sentinelle/sensor_line.h"

#include <gtest/gtest.h>

namespace sentinelle {
namespace {

TEST(SensorLineTest, ParsesSampleAndTick) {
  auto l = ParseSensorLine(R"({"v":1,"ts_ms":1767225601000,"values":{"pm25":12.5,"no2":null}})");
  ASSERT_TRUE(l) << l.message();
  EXPECT_EQ(l->ts_ms, 1767225601000);
  EXPECT_EQ(l->state[static_cast<int>(Variable::kPm25)], SampleState::kValue);
  EXPECT_EQ(l->value[static_cast<int>(Variable::kPm25)], 12.5);
  EXPECT_EQ(l->state[static_cast<int>(Variable::kNo2)], SampleState::kAbsent);
  auto t = ParseSensorLine(EncodeClockTick(1767225660000));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->clock_tick);
}

TEST(SensorLineTest, BadValueSpoilsOnlyItsVariable) {
  auto l = ParseSensorLine(
      R"({"v":1,"ts_ms":1767225601000,"values":{"pm25":"NaN","o3":40,"pm1":3}})");
  ASSERT_TRUE(l) << l.message();
  EXPECT_EQ(l->state[static_cast<int>(Variable::kPm25)], SampleState::kInvalid);
  EXPECT_EQ(l->state[static_cast<int>(Variable::kO3)], SampleState::kValue);
  ASSERT_EQ(l->unknown_variables.size(), 1u);
  EXPECT_EQ(l->unknown_variables[0], "pm1");
}

TEST(SensorLineTest, RejectsGarbage) {
  for (const char* bad : {"", "garbage", "{", R"({"v":2,"ts_ms":1767225601000,"values":{}})",
                          R"({"v":1,"ts_ms":"now","values":{}})",
                          R"({"v":1,"ts_ms":12,"values":{}})",  // 1970
                          R"({"v":1,"ts_ms":1767225601000})",
                          R"({"v":1,"ts_ms":1767225601000,"values":[]})",
                          R"({"v":1,"ts_ms":1767225601000,"clock":true,"values":{}})",
                          R"({"v":1,"ts_ms":1767225601000,"values":{},"x":1})"}) {
    EXPECT_FALSE(ParseSensorLine(bad)) << bad;
  }
  std::string huge = R"({"v":1,"ts_ms":1767225601000,"values":{"pm25":1}, "pad":")" +
                     std::string(5000, 'x') + "\"}";
  auto r = ParseSensorLine(huge);
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("exceeds"), std::string::npos);
}

TEST(SensorLineTest, EncodeRoundTrip) {
  std::array<double, kVariableCount> v{};
  std::array<bool, kVariableCount> present{};
  v[static_cast<int>(Variable::kCo)] = 0.7;
  present[static_cast<int>(Variable::kCo)] = true;
  auto l = ParseSensorLine(EncodeSensorLine(1767225601000, v, present));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->value[static_cast<int>(Variable::kCo)], 0.7);
  EXPECT_EQ(l->state[static_cast<int>(Variable::kPm25)], SampleState::kAbsent);
}

}  // namespace
}  // namespace sentinelle
