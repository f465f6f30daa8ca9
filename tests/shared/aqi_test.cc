#include "sentinelle/aqi.h"

#include <gtest/gtest.h>

namespace sentinelle {
namespace {

Reading WithPollutants(double pm25, double pm10, double no2, double o3, double so2, double co) {
  Reading r;
  const double vals[] = {pm25, pm10, no2, o3, so2, co};
  for (int i = 0; i < 6; ++i) {
    r.values[kFirstPollutant + i] = vals[i];
    r.qc[kFirstPollutant + i] = QcFlag::kOk;
  }
  return r;
}

// Hand-computed against the EPA formula I = (Ih-Il)/(Ch-Cl)*(C-Cl)+Il.
TEST(AqiTest, Pm25Breakpoints) {
  EXPECT_EQ(SubIndex(Variable::kPm25, 0.0), 0);
  EXPECT_EQ(SubIndex(Variable::kPm25, 9.0), 50);
  EXPECT_EQ(SubIndex(Variable::kPm25, 9.1), 51);
  // 35.4 -> 100; 35.5 -> 101; 55.4 -> 150
  EXPECT_EQ(SubIndex(Variable::kPm25, 35.4), 100);
  EXPECT_EQ(SubIndex(Variable::kPm25, 35.5), 101);
  EXPECT_EQ(SubIndex(Variable::kPm25, 55.4), 150);
  // 22.25 truncates to 22.2: (100-51)/(35.4-9.1)*(22.2-9.1)+51 = 75.41 -> 75
  EXPECT_EQ(SubIndex(Variable::kPm25, 22.25), 75);
  EXPECT_EQ(SubIndex(Variable::kPm25, 900.0), 500);
}

TEST(AqiTest, GasesConvertFromMassConcentration) {
  // NO2 100 ug/m3 = 100*24.45/46.0055 = 53.1 ppb -> truncated 53 -> AQI 50.
  EXPECT_EQ(SubIndex(Variable::kNo2, 100.0), 50);
  // NO2 200 ug/m3 = 106.3 ppb -> 106: (150-101)/(360-101)*(106-101)+101 = 101.9 -> 102.
  EXPECT_EQ(SubIndex(Variable::kNo2, 200.0), 102);
  // O3 120 ug/m3 = 0.0611 ppm -> 0.061: (100-51)/(0.070-0.055)*(0.061-0.055)+51 = 70.6 -> 71.
  EXPECT_EQ(SubIndex(Variable::kO3, 120.0), 71);
  // CO 5 mg/m3 = 4.364 ppm -> 4.3: 50/4.4*4.3 = 48.9 -> 49.
  EXPECT_EQ(SubIndex(Variable::kCo, 5.0), 49);
  // SO2 100 ug/m3 = 38.16 ppb -> 38: (100-51)/(75-36)*(38-36)+51 = 53.5 -> 54 (round half away).
  EXPECT_EQ(SubIndex(Variable::kSo2, 100.0), 54);
}

TEST(AqiTest, NotAPollutantOrInvalid) {
  EXPECT_FALSE(SubIndex(Variable::kTemperatureC, 20.0).has_value());
  EXPECT_FALSE(SubIndex(Variable::kPm25, -1.0).has_value());
  EXPECT_FALSE(SubIndex(Variable::kPm25, kMissingValue).has_value());
}

TEST(AqiTest, DominantIsTheMaximumSubIndex) {
  auto r = WithPollutants(12.0, 40.0, 200.0, 60.0, 10.0, 0.5);
  auto aqi = ComputeAqi(r);
  ASSERT_TRUE(aqi.has_value());
  EXPECT_EQ(aqi->aqi, 102);
  EXPECT_EQ(aqi->dominant, Variable::kNo2);
}

TEST(AqiTest, FlaggedPollutantsAreIgnored) {
  auto r = WithPollutants(12.0, 40.0, 200.0, 60.0, 10.0, 0.5);
  r.qc[static_cast<int>(Variable::kNo2)] = QcFlag::kSpike;
  auto aqi = ComputeAqi(r);
  ASSERT_TRUE(aqi.has_value());
  EXPECT_EQ(aqi->dominant, Variable::kPm25);  // 12.0 -> 56
  EXPECT_EQ(aqi->aqi, 56);
  Reading none;
  EXPECT_FALSE(ComputeAqi(none).has_value());
}

TEST(AqiTest, Categories) {
  EXPECT_EQ(AqiCategory(0), 0);
  EXPECT_EQ(AqiCategory(50), 0);
  EXPECT_EQ(AqiCategory(51), 1);
  EXPECT_EQ(AqiCategory(151), 3);
  EXPECT_EQ(AqiCategory(450), 5);
}

}  // namespace
}  // namespace sentinelle
