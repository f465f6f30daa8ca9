#include <gtest/gtest.h>

#include "sentinelle/reading.h"
#include "sentinelle/topics.h"

namespace sentinelle {
namespace {

TEST(TimeTest, RoundTrip) {
  EXPECT_EQ(FormatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(1767225600), "2026-01-01T00:00:00Z");
  EXPECT_EQ(ParseUtc("2026-01-01T00:00:00Z"), 1767225600);
  EXPECT_EQ(ParseUtc("2024-02-29T12:34:56Z"), 1709210096);
  for (int64_t t : {0LL, 951782400LL, 1709210096LL, 4102444799LL}) {
    EXPECT_EQ(ParseUtc(FormatUtc(t)), t);
  }
}

TEST(TimeTest, RejectsMalformed) {
  EXPECT_FALSE(ParseUtc("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseUtc("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseUtc("2026-01-01 00:00:00Z"));
  EXPECT_FALSE(ParseUtc("2026-01-01T00:00:00"));
  EXPECT_FALSE(ParseUtc("2026-01-01T24:00:00Z"));
  EXPECT_FALSE(ParseUtc("+026-01-01T00:00:00Z"));
  EXPECT_FALSE(ParseUtc(""));
}

TEST(TopicsTest, BuildAndParse) {
  Topics t("sentinelle/v1/");
  EXPECT_EQ(t.Readings("abj-plateau"), "sentinelle/v1/stations/abj-plateau/readings");
  EXPECT_EQ(t.Manifest("pm25", 60), "sentinelle/v1/models/pm25/60/manifest");
  EXPECT_EQ(t.AllStations(StationChannel::kStatus), "sentinelle/v1/stations/+/status");
  auto p = t.ParseStation("sentinelle/v1/stations/abj-plateau/ack");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->station_id, "abj-plateau");
  EXPECT_EQ(p->channel, StationChannel::kAck);
  EXPECT_FALSE(t.ParseStation("sentinelle/v1/stations/abj-plateau/other"));
  EXPECT_FALSE(t.ParseStation("sentinelle/v1/stations/ABJ/readings"));
  EXPECT_FALSE(t.ParseStation("other/v1/stations/a/readings"));
  EXPECT_FALSE(t.ParseStation("sentinelle/v1/stations/a/b/readings"));
}

TEST(TopicsTest, StationIds) {
  EXPECT_TRUE(IsValidStationId("abj-plateau_01"));
  EXPECT_FALSE(IsValidStationId(""));
  EXPECT_FALSE(IsValidStationId("a+b"));
  EXPECT_FALSE(IsValidStationId("a/b"));
  EXPECT_FALSE(IsValidStationId("a#"));
  EXPECT_FALSE(IsValidStationId(std::string(65, 'a')));
}

TEST(VariablesTest, NamesRoundTrip) {
  for (const auto& info : Variables()) {
    EXPECT_EQ(VariableFromName(info.name), info.variable);
    EXPECT_LT(info.min, info.max);
  }
  EXPECT_FALSE(VariableFromName("pm1"));
  for (int i = 0; i < kQcFlagCount; ++i) {
    EXPECT_EQ(QcFlagFromName(QcFlagName(static_cast<QcFlag>(i))), static_cast<QcFlag>(i));
  }
}

}  // namespace
}  // namespace sentinelle
