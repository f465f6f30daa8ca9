#include "sentinelle/codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sentinelle/aqi.h"

namespace sentinelle {
namespace {

using nlohmann::json;

Reading SampleReading(int64_t seq) {
  Reading r;
  r.station_id = "abj-plateau";
  r.seq = seq;
  r.boot_id = "b00t";
  r.interval_s = 300;
  r.window_end_s = 1767225600 + 300 * seq;
  r.time = {true, "ntp"};
  for (int i = 0; i < kVariableCount; ++i) {
    const auto& info = Variables()[i];
    r.values[i] = info.min + (info.max - info.min) * 0.1;
    r.qc[i] = QcFlag::kOk;
    r.samples[i] = 60;
  }
  r.values[static_cast<int>(Variable::kSo2)] = kMissingValue;
  r.qc[static_cast<int>(Variable::kSo2)] = QcFlag::kMissing;
  r.samples[static_cast<int>(Variable::kSo2)] = 0;
  auto aqi = ComputeAqi(r);
  r.aqi = aqi->aqi;
  r.aqi_dominant = aqi->dominant;
  return r;
}

std::string Batch(int n = 2) {
  ReadingBatch b;
  b.station_id = "abj-plateau";
  b.kind = DeliveryKind::kReplay;
  for (int i = 1; i <= n; ++i) b.readings.push_back(SampleReading(i));
  return EncodeReadingBatch(b);
}

TEST(CodecTest, ReadingBatchRoundTrip) {
  auto decoded = DecodeReadingBatch(Batch(), "abj-plateau");
  ASSERT_TRUE(decoded) << decoded.message();
  EXPECT_EQ(decoded->kind, DeliveryKind::kReplay);
  ASSERT_EQ(decoded->readings.size(), 2u);
  const Reading want = SampleReading(2);
  const Reading& got = decoded->readings[1];
  EXPECT_EQ(got.seq, 2);
  EXPECT_EQ(got.window_end_s, want.window_end_s);
  EXPECT_EQ(got.boot_id, "b00t");
  EXPECT_TRUE(got.time.synced);
  for (int i = 0; i < kVariableCount; ++i) {
    if (std::isnan(want.values[i])) EXPECT_TRUE(std::isnan(got.values[i]));
    else EXPECT_EQ(got.values[i], want.values[i]);  // bit-exact through JSON
    EXPECT_EQ(got.qc[i], want.qc[i]);
    EXPECT_EQ(got.samples[i], want.samples[i]);
  }
  EXPECT_EQ(got.aqi, want.aqi);
  EXPECT_EQ(got.aqi_dominant, want.aqi_dominant);
}

// Each mutation of a valid payload must be rejected with a reason.
struct Mutation {
  const char* name;
  std::function<void(json&)> apply;
  const char* reason_contains;
};

TEST(CodecTest, RejectsHostileAndMalformedPayloads) {
  const json base = json::parse(Batch());
  std::vector<Mutation> mutations = {
      {"wrong station", [](json& j) { j["station"] = "abj-cocody"; }, "topic names"},
      {"bad schema", [](json& j) { j["schema"] = 2; }, "schema"},
      {"string for number",
       [](json& j) { j["readings"][0]["values"]["pm25"]["v"] = "12"; }, "must be a number"},
      {"out of range",
       [](json& j) { j["readings"][0]["values"]["humidity_pct"]["v"] = 140.0; }, "outside"},
      {"unknown qc", [](json& j) { j["readings"][0]["values"]["pm25"]["qc"] = "fine"; }, "QC"},
      {"missing variable", [](json& j) { j["readings"][0]["values"].erase("co"); }, "12"},
      {"extra field", [](json& j) { j["readings"][0]["extra"] = 1; }, "unknown field"},
      {"negative seq", [](json& j) { j["readings"][0]["seq"] = -4; }, "seq"},
      {"float seq", [](json& j) { j["readings"][0]["seq"] = 1.5; }, "integer"},
      {"misaligned window",
       [](json& j) { j["readings"][0]["window_end"] = "2026-01-01T00:07:00Z"; }, "aligned"},
      {"bad time", [](json& j) { j["readings"][0]["window_end"] = "yesterday"; }, "UTC"},
      {"empty batch", [](json& j) { j["readings"] = json::array(); }, "1.."},
      {"bad kind", [](json& j) { j["kind"] = "future"; }, "live or replay"},
      {"aqi without dominant", [](json& j) { j["readings"][0]["aqi_dominant"] = nullptr; },
       "both"},
      {"aqi too big", [](json& j) { j["readings"][0]["aqi"] = 9000; }, "aqi"},
      {"invalid station id", [](json& j) { j["station"] = "a/b"; }, "invalid station"},
  };
  for (const auto& m : mutations) {
    json j = base;
    m.apply(j);
    auto r = DecodeReadingBatch(j.dump(), "abj-plateau");
    ASSERT_FALSE(r) << m.name;
    EXPECT_NE(r.message().find(m.reason_contains), std::string::npos)
        << m.name << ": " << r.message();
  }
}

TEST(CodecTest, RejectsGarbageSizeAndDepth) {
  EXPECT_FALSE(DecodeReadingBatch("", "s"));
  EXPECT_FALSE(DecodeReadingBatch("{not json", "s"));
  EXPECT_FALSE(DecodeReadingBatch("[]", "s"));
  EXPECT_FALSE(DecodeReadingBatch("{\"v\": NaN}", "s"));
  std::string deep(100000, '[');
  auto r = DecodeReadingBatch(deep, "s");
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("deeper"), std::string::npos);
  std::string big(kMaxPayloadBytes + 1, ' ');
  r = DecodeReadingBatch(big, "s");
  ASSERT_FALSE(r);
  EXPECT_NE(r.message().find("exceeds"), std::string::npos);
}

TEST(CodecTest, AckRangesAndRoundTrip) {
  auto ranges = ToRanges({5, 3, 4, 9, 10, 4, 1});
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], (SeqRange{1, 1}));
  EXPECT_EQ(ranges[1], (SeqRange{3, 5}));
  EXPECT_EQ(ranges[2], (SeqRange{9, 10}));
  Ack ack{"abj-plateau", ranges};
  auto back = DecodeAck(EncodeAck(ack), "abj-plateau");
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->committed, ranges);
  EXPECT_FALSE(DecodeAck(EncodeAck(ack), "abj-cocody"));
  EXPECT_FALSE(DecodeAck(R"({"schema":1,"station":"s","committed":[[5,3]]})", "s"));
}

TEST(CodecTest, StatusRoundTrip) {
  StationStatus s;
  s.station_id = "abj-abobo";
  s.state = "online";
  s.agent_version = "0.1.0";
  s.boot_id = "x";
  s.ts_s = 1767225600;
  s.buffer_depth = 12;
  s.last_seq = 99;
  s.time = {false, "none"};
  s.models = {{"pm25", 60, "persistence", "builtin"}};
  auto back = DecodeStatus(EncodeStatus(s), "abj-abobo");
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->buffer_depth, 12);
  EXPECT_EQ(back->models, s.models);
  EXPECT_FALSE(back->time.synced);
  s.ts_s = 0;
  s.state = "offline";
  back = DecodeStatus(EncodeStatus(s), "abj-abobo");
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->ts_s, 0);
}

TEST(CodecTest, CommandRoundTripAndValidation) {
  Command c{"abj-abobo", "c1", "backfill", 10, 20, "", 0};
  auto back = DecodeCommand(EncodeCommand(c), "abj-abobo");
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->from_seq, 10);
  EXPECT_EQ(back->to_seq, 20);
  c.to_seq = 5;
  EXPECT_FALSE(DecodeCommand(EncodeCommand(c), "abj-abobo"));
  EXPECT_FALSE(DecodeCommand(R"({"schema":1,"station":"abj-abobo","id":"x","cmd":"format_disk"})",
                             "abj-abobo"));
}

}  // namespace
}  // namespace sentinelle
