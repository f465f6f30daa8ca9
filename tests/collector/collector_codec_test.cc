// Differential tests of the reading batch decoder the collector's ingest
// runs: the fast single-pass decoder against the DOM decoder (the reference
// that words every error), on valid batches, hostile payloads and thousands
// of mutated ones. Contract (codec.h): whatever the fast path accepts, the
// DOM decoder accepts with identical values; DecodeReadingBatch answers
// exactly as the DOM decoder, error messages included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sentinelle/aqi.h"
#include "sentinelle/codec.h"

namespace sentinelle {
namespace {

constexpr const char* kStation = "abj-plateau";

bool SameDouble(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

::testing::AssertionResult SameBatch(const ReadingBatch& a, const ReadingBatch& b) {
  if (a.station_id != b.station_id) return ::testing::AssertionFailure() << "station";
  if (a.kind != b.kind) return ::testing::AssertionFailure() << "kind";
  if (a.readings.size() != b.readings.size()) return ::testing::AssertionFailure() << "size";
  for (size_t k = 0; k < a.readings.size(); ++k) {
    const Reading& x = a.readings[k];
    const Reading& y = b.readings[k];
    auto fail = [&](const char* what) {
      return ::testing::AssertionFailure() << "reading " << k << ": " << what;
    };
    if (x.station_id != y.station_id) return fail("station_id");
    if (x.seq != y.seq) return fail("seq");
    if (x.window_end_s != y.window_end_s) return fail("window_end");
    if (x.interval_s != y.interval_s) return fail("interval_s");
    if (x.boot_id != y.boot_id) return fail("boot_id");
    if (x.time.synced != y.time.synced || x.time.source != y.time.source) return fail("time");
    if (x.aqi != y.aqi || x.aqi_dominant != y.aqi_dominant) return fail("aqi");
    for (int i = 0; i < kVariableCount; ++i) {
      // Bit-exact: NaN payload and the sign of zero included.
      if (!SameDouble(x.values[i], y.values[i])) return fail("value");
      if (x.qc[i] != y.qc[i]) return fail("qc");
      if (x.samples[i] != y.samples[i]) return fail("samples");
    }
  }
  return ::testing::AssertionSuccess();
}

// Checks the contract on one payload; returns whether the fast path answered.
bool CheckSame(const std::string& payload, const char* station = kStation) {
  SCOPED_TRACE(payload.substr(0, 300));
  auto dom = detail::DecodeReadingBatchDom(payload, station);
  auto fast = detail::DecodeReadingBatchFast(payload, station);
  auto full = DecodeReadingBatch(payload, station);
  if (fast) {
    EXPECT_TRUE(dom) << "fast path accepted what the DOM decoder rejects: " << dom.message();
    if (dom) {
      EXPECT_TRUE(SameBatch(*fast, *dom));
    }
  }
  EXPECT_EQ(full.ok(), dom.ok());
  if (full && dom) {
    EXPECT_TRUE(SameBatch(*full, *dom));
  }
  if (!full && !dom) {
    EXPECT_EQ(full.message(), dom.message());
  }
  return fast.has_value();
}

Reading RandomReading(std::mt19937_64& rng, int64_t seq) {
  Reading r;
  r.station_id = kStation;
  r.seq = seq;
  r.boot_id = "boot-" + std::to_string(rng() % 100000);
  const int intervals[] = {60, 300, 600, 3600};
  r.interval_s = intervals[rng() % 4];
  r.window_end_s = (1767225600 + static_cast<int64_t>(rng() % 100000000)) / r.interval_s *
                   r.interval_s;
  r.time = {rng() % 2 == 0, rng() % 2 == 0 ? "ntp" : "gps"};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const auto& info : Variables()) {
    const int i = static_cast<int>(info.variable);
    const int pick = static_cast<int>(rng() % 10);
    r.samples[i] = static_cast<uint16_t>(rng() % 65536);
    if (pick < 6) {
      r.qc[i] = QcFlag::kOk;
      r.values[i] = info.min + (info.max - info.min) * unit(rng);
    } else if (pick == 6) {
      r.qc[i] = QcFlag::kOk;
      r.values[i] = rng() % 2 ? info.min : info.max;  // bounds are inclusive
    } else if (pick == 7) {
      r.qc[i] = QcFlag::kOk;
      r.values[i] = std::round(info.min + (info.max - info.min) * unit(rng));  // integral
    } else if (pick == 8) {
      r.qc[i] = QcFlag::kMissing;
      r.values[i] = kMissingValue;
    } else {
      r.qc[i] = rng() % 2 ? QcFlag::kSpike : QcFlag::kOutOfRange;
      r.values[i] = (unit(rng) - 0.5) * 2e6 * std::pow(10.0, -static_cast<double>(rng() % 12));
    }
  }
  if (auto a = ComputeAqi(r)) {
    r.aqi = a->aqi;
    r.aqi_dominant = a->dominant;
  }
  return r;
}

std::string RandomBatch(std::mt19937_64& rng, int n) {
  ReadingBatch b;
  b.station_id = kStation;
  b.kind = rng() % 2 ? DeliveryKind::kLive : DeliveryKind::kReplay;
  for (int i = 0; i < n; ++i) b.readings.push_back(RandomReading(rng, 1 + i * 3));
  return EncodeReadingBatch(b);
}

nlohmann::ordered_json Reversed(const nlohmann::ordered_json& j) {
  if (j.is_array()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& e : j) out.push_back(Reversed(e));
    return out;
  }
  if (!j.is_object()) return j;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  for (auto k = keys.rbegin(); k != keys.rend(); ++k) out[*k] = Reversed(j.at(*k));
  return out;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  if (pos == std::string::npos) {
    ADD_FAILURE() << "no '" << from << "' in the payload";
    return s;
  }
  s.replace(pos, from.size(), to);
  return s;
}

TEST(CollectorCodecTest, FastPathDecodesEncoderOutputIdentically) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 300; ++i) {
    const std::string payload = RandomBatch(rng, 1 + static_cast<int>(rng() % 20));
    EXPECT_TRUE(CheckSame(payload)) << "the fast path refused an encoder's batch";
  }
  // The largest batch allowed, and the byte limit's neighbourhood.
  std::string big = RandomBatch(rng, static_cast<int>(kMaxReadingsPerBatch));
  ASSERT_LE(big.size(), kMaxPayloadBytes);
  EXPECT_TRUE(CheckSame(big));
}

TEST(CollectorCodecTest, ValidButUnusualPayloadsStillDecode) {
  std::mt19937_64 rng(7);
  const std::string p = RandomBatch(rng, 2);
  // Layouts and spellings the fast path leaves to the DOM decoder, which
  // accepts them: the result must be the same either way.
  std::vector<std::string> cases = {
      "\n\t " + p + " \r\n",
      Replace(p, "\"station\":\"abj-plateau\"", "\"station\":\"abj-pl\\u0061teau\""),
      Replace(p, "\"schema\":1", "\"schema\" : 1"),
      Replace(p, "\"n\":", "\"n\" :"),
      Replace(p, "\"aqi_dominant\":", "\"aqi_dominant\" :"),
      "\xEF\xBB\xBF" + p,  // UTF-8 byte order mark
  };
  // The same batch with every object's keys in reverse order.
  cases.push_back(Reversed(nlohmann::ordered_json::parse(p)).dump());
  cases.push_back(Reversed(nlohmann::ordered_json::parse(p)).dump(2));
  int fast = 0;
  for (const std::string& c : cases) fast += CheckSame(c) ? 1 : 0;
  EXPECT_GE(fast, 3);  // blanks and key order are no reason to leave the fast path
  for (const std::string& c : cases) EXPECT_TRUE(DecodeReadingBatch(c, kStation)) << c;
}

// Sets the scalar `field` of the first object named `object` (or the first
// `field` anywhere when object is empty) to the raw token.
std::string Set(std::string s, const std::string& object, const std::string& field,
                const std::string& token) {
  size_t at = 0;
  if (!object.empty()) {
    at = s.find("\"" + object + "\":{");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no object " << object;
      return s;
    }
  }
  const size_t key = s.find("\"" + field + "\":", at);
  if (key == std::string::npos) {
    ADD_FAILURE() << "no field " << field;
    return s;
  }
  const size_t value = key + field.size() + 3;
  const size_t end = s.find_first_of(",}", value);
  s.replace(value, end - value, token);
  return s;
}

TEST(CollectorCodecTest, HostilePayloadsGiveTheReferenceErrors) {
  std::mt19937_64 rng(11);
  ReadingBatch b;
  b.station_id = kStation;
  for (int i = 0; i < 2; ++i) {
    Reading r = RandomReading(rng, 1 + i);
    for (int v = 0; v < kVariableCount; ++v) {  // every value ok, so ranges apply
      r.qc[v] = QcFlag::kOk;
      r.values[v] = Variables()[v].min;
    }
    r.aqi = 0;
    r.aqi_dominant = Variable::kPm25;
    b.readings.push_back(r);
  }
  const std::string p = EncodeReadingBatch(b);
  std::string deep = p;
  deep.insert(deep.size() - 1, ",\"x\":" + std::string(40, '[') + std::string(40, ']'));
  std::string many = "{\"kind\":\"live\",\"readings\":[";
  {
    const auto a = p.find('[') + 1;
    const auto z = p.find(",{\"aqi\"", a);
    const std::string reading = p.substr(a, z - a);
    for (size_t i = 0; i <= kMaxReadingsPerBatch; ++i) many += (i ? "," : "") + reading;
  }
  many += "],\"schema\":1,\"station\":\"abj-plateau\"}";
  struct Case {
    std::string payload;
    bool valid = false;  // what the reference decides
  };
  const std::vector<Case> cases = {
      {""},
      {"{"},
      {"[]"},
      {"null"},
      {"{}"},
      {deep},
      {std::string(20, '{') + std::string(20, '}')},
      {std::string(kMaxPayloadBytes + 1, ' ')},
      {many},
      {p + "x"},
      {p + "{}"},
      {Set(p, "", "schema", "2")},
      {Set(p, "", "schema", "1.0")},
      {Set(p, "", "schema", "\"1\"")},
      {Set(p, "", "schema", "01")},
      {Set(p, "", "schema", "-0")},
      {Set(p, "", "station", "\"abj-cocody\"")},
      {Set(p, "", "station", "\"ABJ\"")},
      {Set(p, "", "station", "null")},
      {Set(p, "", "kind", "\"dead\"")},
      {Set(p, "", "kind", "\"replay\",\"kind\":\"live\""), true},  // duplicate key: the last wins
      {Set(p, "", "kind", "\"replay\",\"kind\":7")},
      {Set(p, "", "seq", "1,\"seq\":2"), true},
      {Set(p, "", "seq", "\"1\"")},
      {Set(p, "", "seq", "1e0")},
      {Set(p, "", "seq", "1.0")},
      {Set(p, "", "seq", "0")},
      {Set(p, "", "seq", "-1")},
      {Set(p, "", "seq", "99999999999999999999999")},
      {Set(p, "", "seq", "18446744073709551615")},
      {Set(p, "", "seq", "9007199254740993")},
      {Set(p, "", "seq", "NaN")},
      {Set(p, "", "seq", "true")},
      {Set(p, "", "interval_s", "7")},
      {Set(p, "", "interval_s", "600")},  // window no longer aligned for odd seqs
      {Set(p, "", "boot_id", "\"" + std::string(70, 'b') + "\"")},
      {Set(p, "", "boot_id", "\"a\\nb\""), true},  // escapes are the reference's to decode
      {Set(p, "", "boot_id", "\"\xC3\xA9\""), true},
      {Set(p, "", "boot_id", "\"\xFF\"")},
      {Set(p, "", "boot_id", "\"a\x01\"")},
      {Set(p, "time", "synced", "1")},
      {Set(p, "time", "synced", "null")},
      {Set(p, "time", "source", "\"ntp\",\"extra\":1")},
      {Set(p, "", "window_end", "\"x\"")},
      {Set(p, "", "window_end", "\"2026-02-30T00:00:00Z\"")},
      {Set(p, "", "window_end", "\"2026-01-01T00:00:00+00:00\"")},
      {Set(p, "", "aqi", "501")},
      {Set(p, "", "aqi", "null")},
      {Set(p, "", "aqi", "-0"), true},  // integer 0 to the reference
      {Set(p, "", "aqi_dominant", "\"temperature_c\"")},
      {Set(p, "", "aqi_dominant", "\"x\"")},
      {Set(p, "", "aqi_dominant", "null")},
      {Set(Set(p, "", "aqi", "null"), "", "aqi_dominant", "null"), true},
      {Set(p, "co", "v", "NaN")},
      {Set(p, "co", "v", "\"NaN\"")},
      {Set(p, "co", "v", "\"0.1\"")},
      {Set(p, "co", "v", "null")},
      {Set(p, "co", "n", "0,\"extra\":0")},
      {Set(p, "co", "n", "-0"), true},
      {Set(p, "co", "n", "65536")},
      {Set(p, "co", "qc", "\"bogus\"")},
      {Set(p, "co", "qc", "\"missing\""), true},
      {Set(Set(p, "co", "qc", "\"missing\""), "co", "v", "null"), true},
      {Set(Set(p, "co", "qc", "\"spike\""), "co", "v", "-1e9"), true},
      {Set(Set(p, "co", "qc", "\"spike\""), "co", "v", "-1.0000000001e9")},
      {Set(p, "pm25", "v", "1e400")},
      {Set(p, "pm25", "v", "-1e400")},
      {Set(p, "pm25", "v", "1e-400"), true},  // underflows to 0, within range
      {Set(p, "pm25", "v", "123456789012345678901234567890")},
      {Set(p, "pm25", "v", "-0"), true},
      {Set(p, "pm25", "v", "-0.0"), true},
      {Set(p, "pm25", "v", "-0.1")},
      {Set(p, "pm25", "v", "1.")},
      {Set(p, "pm25", "v", ".5")},
      {Set(p, "pm25", "v", "+5")},
      {Set(p, "pm25", "v", "0x10")},
      {Set(p, "pm25", "v", "Infinity")},
      {Set(p, "pm25", "v", "1000000")},
      {Set(p, "pm25", "n", "0},\"pm25\":{\"n\":1,\"qc\":\"ok\",\"v\":2"), true},
      {Set(p, "pm25", "n", "0},\"pm2.5\":{\"n\":1,\"qc\":\"ok\",\"v\":2")},
      {Set(p, "", "values", "null,\"values\":{}")},
      {Set(p, "", "readings", "[],\"readings\":[1]")},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    CheckSame(cases[i].payload);
    auto r = DecodeReadingBatch(cases[i].payload, kStation);
    EXPECT_EQ(r.ok(), cases[i].valid) << (r ? "" : r.message());
  }
  // The reasons the collector classifies on are kept word for word.
  EXPECT_NE(DecodeReadingBatch(deep, kStation).message().find("nested deeper"), std::string::npos);
  EXPECT_NE(DecodeReadingBatch(std::string(kMaxPayloadBytes + 1, ' '), kStation)
                .message()
                .find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(DecodeReadingBatch(p, "abj-cocody").message().find("but the topic names"),
            std::string::npos);
  EXPECT_EQ(DecodeReadingBatch(p + "x", kStation).message(), "malformed JSON");
  EXPECT_EQ(DecodeReadingBatch(Set(p, "pm25", "v", "\"1\""), kStation).message(),
            "readings[0].values.pm25.v: must be a number, got string");
}

TEST(CollectorCodecTest, NumberSpellingsDecodeAsTheReferenceDoes) {
  std::mt19937_64 rng(3);
  ReadingBatch b;
  b.station_id = kStation;
  Reading r = RandomReading(rng, 1);
  for (int i = 0; i < kVariableCount; ++i) {
    r.qc[i] = QcFlag::kSpike;  // any finite value in [-1e9, 1e9]
    r.values[i] = 1;
  }
  r.aqi.reset();
  r.aqi_dominant.reset();
  b.readings.push_back(r);
  const std::string p = EncodeReadingBatch(b);
  const std::vector<std::string> spellings = {
      "0", "-0", "0.0", "-0.0", "1", "1.0", "1e0", "1E+0", "10e-1", "0.1", "0.30000000000000004",
      "1e9", "1000000000", "1000000001", "-1e9", "-1000000000.0000001", "999999999.99999999",
      "123456789012345678", "1234567890123456789", "4.9e-324", "2.2250738585072014e-308",
      "1.7976931348623157e308", "00", "1e", "1e+", "-", "--1", "1.5.5", "0.1e-5",
      "3.141592653589793238462643383279", "17976931348623157e-316", "null", "true", "\"1\""};
  int fast = 0;
  for (const std::string& sp : spellings) {
    const std::string c = Replace(p, "\"co\":{\"n\":" + std::to_string(r.samples[11]) +
                                         ",\"qc\":\"spike\",\"v\":1.0}",
                                  "\"co\":{\"n\":1,\"qc\":\"spike\",\"v\":" + sp + "}");
    ASSERT_NE(c, p) << "the encoder's spelling changed";
    fast += CheckSame(c) ? 1 : 0;
  }
  EXPECT_GE(fast, 15);  // the plain spellings take the fast path
}

// Random edits of valid payloads: bytes replaced by JSON-significant ones,
// deleted, duplicated; number tokens respelled.
TEST(CollectorCodecTest, MutatedPayloadsAgree) {
  std::mt19937_64 rng(2026);
  const std::string alphabet = "{}[],:\"\\ 0123456789-+.eEnulltrufa\x01\x7f\xc3";
  int fast = 0, valid = 0;
  const int kRounds = 3000;
  for (int round = 0; round < kRounds; ++round) {
    std::string s = RandomBatch(rng, 1 + static_cast<int>(rng() % 2));
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + rng() % 4); break;
        case 2: s.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 3: {
          const size_t len = std::min<size_t>(s.size() - at, 1 + rng() % 40);
          s.insert(at, s.substr(at, len));
          break;
        }
        default: {
          // Respell the number token at or after `at`.
          size_t b = s.find_first_of("-0123456789", at);
          if (b == std::string::npos || (b > 0 && s[b - 1] == '"')) break;
          size_t z = s.find_first_not_of("-+.eE0123456789", b);
          if (z == std::string::npos) break;
          const char* forms[] = {"0", "-0", "1.0", "1e2", "65535", "65536", "300", "7",
                                 "1e400", "18446744073709551616", "0.5", "500", "501"};
          s.replace(b, z - b, forms[rng() % 13]);
        }
      }
    }
    fast += CheckSame(s) ? 1 : 0;
    valid += detail::DecodeReadingBatchDom(s, kStation).ok() ? 1 : 0;
    if (::testing::Test::HasFailure()) break;
  }
  // The mutations must reach both sides of the contract.
  EXPECT_GT(valid, 100);
  EXPECT_GT(fast, 50);
  EXPECT_LT(valid, kRounds - 100);
}

}  // namespace
}  // namespace sentinelle
