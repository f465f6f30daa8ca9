#include "sentinelle/qc.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sentinelle {
namespace {

TEST(QcTest, RangeAndInvalid) {
  QcChecker qc;
  EXPECT_EQ(qc.CheckSample(Variable::kHumidityPct, 101.0), SampleVerdict::kOutOfRange);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, -0.5), SampleVerdict::kOutOfRange);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, NAN), SampleVerdict::kInvalid);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, INFINITY), SampleVerdict::kInvalid);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 20.0), SampleVerdict::kAccept);
}

TEST(QcTest, LoneSpikeRejectedLevelShiftAccepted) {
  QcChecker qc;
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 20.0), SampleVerdict::kAccept);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 600.0), SampleVerdict::kSpike);
  // Back to normal: the outlier did not move the reference.
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 22.0), SampleVerdict::kAccept);
  // A real jump that persists: rejected once, accepted from its second sample.
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 400.0), SampleVerdict::kSpike);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 410.0), SampleVerdict::kAccept);
  EXPECT_EQ(qc.CheckSample(Variable::kPm25, 405.0), SampleVerdict::kAccept);
}

TEST(QcTest, StuckAfterConfiguredWindows) {
  QcConfig cfg;
  cfg.stuck_windows = 3;
  QcChecker qc(cfg);
  for (int w = 1; w <= 4; ++w) {
    Reading r;
    r.values[static_cast<int>(Variable::kNo2)] = 42.0;
    r.qc[static_cast<int>(Variable::kNo2)] = QcFlag::kOk;
    r.values[static_cast<int>(Variable::kRainMm)] = 0.0;
    r.qc[static_cast<int>(Variable::kRainMm)] = QcFlag::kOk;
    qc.CheckWindow(r);
    EXPECT_EQ(r.flag(Variable::kNo2), w >= 3 ? QcFlag::kStuck : QcFlag::kOk) << "window " << w;
    EXPECT_EQ(r.flag(Variable::kRainMm), QcFlag::kOk) << "zero rain is not stuck";
  }
  Reading moved;
  moved.values[static_cast<int>(Variable::kNo2)] = 43.0;
  moved.qc[static_cast<int>(Variable::kNo2)] = QcFlag::kOk;
  qc.CheckWindow(moved);
  EXPECT_EQ(moved.flag(Variable::kNo2), QcFlag::kOk);
}

}  // namespace
}  // namespace sentinelle
