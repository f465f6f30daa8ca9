// Context bands, reference histograms (builder and strict JSON codec) and
// rolling windows (incremental = from scratch, expiry, bounded memory).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "sentinelle/monitor/context.h"
#include "sentinelle/monitor/histogram.h"
#include "sentinelle/monitor/rolling.h"
#include "synthetic.h"

namespace sentinelle::monitor {
namespace {

using testing::kDay;
using testing::kDryStart;
using testing::kWetStart;

TEST(ContextTest, BandsAndSeasons) {
  EXPECT_EQ(BandOf(kDryStart), Band::kNight);
  EXPECT_EQ(BandOf(kDryStart + 5 * 3600 + 3599), Band::kNight);
  EXPECT_EQ(BandOf(kDryStart + 6 * 3600), Band::kMorning);
  EXPECT_EQ(BandOf(kDryStart + 10 * 3600), Band::kDay);
  EXPECT_EQ(BandOf(kDryStart + 17 * 3600), Band::kEvening);
  EXPECT_EQ(BandOf(kDryStart + 22 * 3600), Band::kNight);
  EXPECT_EQ(SeasonOf(kDryStart), Season::kDry);
  EXPECT_EQ(SeasonOf(kWetStart), Season::kWet);
  // 2026-03-31T23:59:59Z is dry, 2026-04-01T00:00:00Z wet; 2026-11-01 dry again.
  EXPECT_EQ(SeasonOf(1775001599), Season::kDry);
  EXPECT_EQ(SeasonOf(1775001600), Season::kWet);
  EXPECT_EQ(SeasonOf(1793491200), Season::kDry);
  EXPECT_EQ(SeasonOf(1793491199), Season::kWet);
  EXPECT_EQ(ContextOf(kWetStart + 12 * 3600), ContextIndex(Season::kWet, Band::kDay));
  EXPECT_EQ(ContextName(ContextOf(kWetStart + 12 * 3600)), "wet/day");
  // Before 1970 still works (used by nothing, but must not be UB).
  EXPECT_EQ(BandOf(-3600), Band::kNight);
  EXPECT_EQ(SeasonOf(-1), Season::kDry);  // 1969-12-31
}

ReferenceSet BuildSmall() {
  ReferenceBuilder b({"pm25", "temperature_c"}, ReferenceOptions{10});
  std::mt19937_64 rng(3);
  std::normal_distribution<double> t(28, 2);
  testing::DiurnalSeries pm(5);
  for (int64_t ts = kDryStart; ts < kDryStart + 20 * kDay; ts += 300) {
    const double row[] = {pm.At(ts), t(rng)};
    b.AddRow(ts, row);
  }
  auto set = b.Build();
  EXPECT_TRUE(set.ok()) << set.message();
  return std::move(set).value();
}

TEST(ReferenceTest, QuantileEdgesCoverTheTrainingData) {
  const ReferenceSet set = BuildSmall();
  ASSERT_EQ(set.features.size(), 2u);
  for (const auto& f : set.features) {
    EXPECT_GE(f.edges.size(), 2u);
    EXPECT_LE(f.edges.size(), 11u);
    for (size_t i = 1; i < f.edges.size(); ++i) EXPECT_GT(f.edges[i], f.edges[i - 1]);
    EXPECT_EQ(f.Total(), 20u * 288u);
    // Only dry-season contexts are filled, each band with its hours.
    EXPECT_EQ(f.Total(ContextIndex(Season::kDry, Band::kNight)), 20u * 8 * 12);
    EXPECT_EQ(f.Total(ContextIndex(Season::kDry, Band::kDay)), 20u * 7 * 12);
    EXPECT_EQ(f.Total(ContextIndex(Season::kWet, Band::kDay)), 0u);
    // Quantile bins hold roughly equal shares overall.
    std::vector<uint64_t> per_bin(f.edges.size() - 1, 0);
    for (const auto& c : f.counts) {
      for (size_t i = 0; i < c.size(); ++i) per_bin[i] += c[i];
    }
    for (uint64_t n : per_bin) EXPECT_NEAR(static_cast<double>(n) / f.Total(), 0.1, 0.03);
  }
  EXPECT_EQ(set.Find("temperature_c"), 1);
  EXPECT_EQ(set.Find("no2"), -1);
}

TEST(ReferenceTest, RepeatedValuesCollapseBins) {
  ReferenceBuilder b({"rain_mm"}, ReferenceOptions{20});
  for (int i = 0; i < 1000; ++i) b.AddValue(0, kDryStart + i * 300, i % 10 == 0 ? 2.5 : 0.0);
  auto set = b.Build();
  ASSERT_TRUE(set.ok());
  const auto& e = set->features[0].edges;
  EXPECT_EQ(e.size(), 3u);  // 0, 2.5, above 2.5
  EXPECT_EQ(e[0], 0.0);
  EXPECT_EQ(e[1], 2.5);
  EXPECT_GT(e[2], 2.5);
  ReferenceBuilder c({"const"});
  for (int i = 0; i < 10; ++i) c.AddValue(0, kDryStart, 4.0);
  auto cs = c.Build();
  ASSERT_TRUE(cs.ok());
  EXPECT_EQ(cs->features[0].edges.size(), 2u);
}

TEST(ReferenceTest, QcFlaggedReadingValuesNeverEnter) {
  ReferenceBuilder b({"pm25", "no2"});
  Reading r;
  r.station_id = "abj-plateau";
  r.window_end_s = kDryStart;
  r.values[static_cast<int>(Variable::kPm25)] = 900;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kSpike;
  r.values[static_cast<int>(Variable::kNo2)] = 30;
  r.qc[static_cast<int>(Variable::kNo2)] = QcFlag::kOk;
  b.AddReading(r);
  auto set = b.Build();
  ASSERT_FALSE(set.ok());  // pm25 got nothing
  EXPECT_NE(set.message().find("pm25"), std::string::npos);
  r.values[static_cast<int>(Variable::kPm25)] = 20;
  r.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  b.AddReading(r);
  set = b.Build();
  ASSERT_TRUE(set.ok()) << set.message();
  EXPECT_EQ(set->features[0].Total(), 1u);
  EXPECT_EQ(set->features[1].Total(), 2u);
}

TEST(ReferenceTest, BuilderRejectsProgrammerErrors) {
  EXPECT_THROW(ReferenceBuilder({}), std::invalid_argument);
  EXPECT_THROW(ReferenceBuilder({"a", "a"}), std::invalid_argument);
  EXPECT_THROW(ReferenceBuilder({""}), std::invalid_argument);
  EXPECT_THROW(ReferenceBuilder({"a"}, ReferenceOptions{0}), std::invalid_argument);
  ReferenceBuilder b({"a", "b"});
  const double one[] = {1.0};
  EXPECT_THROW(b.AddRow(0, one), std::invalid_argument);
}

TEST(ReferenceTest, JsonRoundTripIsExactAndSmall) {
  const ReferenceSet set = BuildSmall();
  const std::string text = set.Encode();
  auto back = ReferenceSet::Decode(text);
  ASSERT_TRUE(back.ok()) << back.message();
  ASSERT_EQ(back->features.size(), set.features.size());
  for (size_t i = 0; i < set.features.size(); ++i) {
    EXPECT_EQ(back->features[i].name, set.features[i].name);
    EXPECT_EQ(back->features[i].edges, set.features[i].edges);  // bit for bit
    EXPECT_EQ(back->features[i].counts, set.features[i].counts);
  }
  EXPECT_EQ(back->Encode(), text);
  // 10 bins x 8 contexts: well under 1 KiB per feature.
  EXPECT_LT(text.size() / set.features.size(), 1024u) << text;
}

TEST(ReferenceTest, StrictDecoderRefusesBadInput) {
  const std::string good = BuildSmall().Encode();
  auto mutate = [&](auto fn) {
    nlohmann::json j = nlohmann::json::parse(good);
    fn(j);
    return ReferenceSet::Decode(j.dump());
  };
  struct Case {
    const char* name;
    std::function<void(nlohmann::json&)> fn;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"unknown key", [](auto& j) { j["extra"] = 1; }, "unknown field"},
      {"version", [](auto& j) { j["version"] = 2; }, "version"},
      {"scheme", [](auto& j) { j["scheme"] = "utc-24h"; }, "scheme"},
      {"no features", [](auto& j) { j["features"] = nlohmann::json::array(); }, "features"},
      {"edges order", [](auto& j) { j["features"][0]["edges"][1] = -1e9; }, "increasing"},
      {"edges type", [](auto& j) { j["features"][0]["edges"][0] = "x"; }, "finite"},
      {"one edge", [](auto& j) { j["features"][0]["edges"] = {1.0}; }, "edges"},
      {"contexts", [](auto& j) { j["features"][0]["counts"].erase(0); }, "context arrays"},
      {"count length", [](auto& j) { j["features"][0]["counts"][3].push_back(1); }, "array of"},
      {"negative", [](auto& j) { j["features"][0]["counts"][0][0] = -1; }, "non-negative"},
      {"fraction", [](auto& j) { j["features"][0]["counts"][0][0] = 0.5; }, "non-negative"},
      {"duplicate", [](auto& j) { j["features"][1]["name"] = j["features"][0]["name"]; },
       "duplicate"},
      {"feature key", [](auto& j) { j["features"][0]["bins"] = 3; }, "unknown field"},
  };
  for (const auto& c : cases) {
    auto r = mutate(c.fn);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.message().find(c.expect), std::string::npos) << c.name << ": " << r.message();
  }
  EXPECT_FALSE(ReferenceSet::Decode("{").ok());
  EXPECT_FALSE(ReferenceSet::Decode("[1,2]").ok());
  EXPECT_FALSE(ReferenceSet::Decode(std::string(kMaxReferenceBytes + 1, ' ')).ok());
  EXPECT_FALSE(ReferenceSet::Decode(std::string(100, '[') + std::string(100, ']')).ok());
}

// From-scratch histogram of the rows that fall inside a window.
struct Scratch {
  std::map<int, std::vector<uint64_t>> counts;
  std::map<int, double> under, over;
};

TEST(RollingTest, IncrementalEqualsFromScratchAcrossExpiry) {
  const std::vector<double> edges = {10, 20, 30, 40, 50};
  for (int64_t bucket_s : {int64_t{3600}, int64_t{21600}, int64_t{86400}}) {
    const WindowOptions opt{bucket_s, static_cast<int>(7 * kDay / bucket_s)};
    RollingHistogram h(edges, opt);
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> v(0, 60);
    std::vector<std::pair<int64_t, double>> rows;
    // 30 days spanning the dry/wet change, slightly out of order within hours.
    const int64_t start = 1774310400;  // 2026-03-24
    for (int64_t ts = start; ts < start + 30 * kDay; ts += 300) {
      const int64_t t = ts - static_cast<int64_t>(rng() % 200);
      const double x = v(rng);
      rows.emplace_back(t, x);
      ASSERT_EQ(h.Add(t, x), RollingHistogram::AddResult::kAdded);
    }
    const int64_t end_bucket = (rows.back().first) / bucket_s;
    const int64_t first_bucket = end_bucket - opt.buckets + 1;
    EXPECT_EQ(h.window_start_s(), first_bucket * bucket_s);
    Scratch s;
    uint64_t total = 0;
    for (const auto& [t, x] : rows) {
      if (t / bucket_s < first_bucket) continue;
      const int ctx = ContextOf(t);
      auto& c = s.counts[ctx];
      c.resize(BinCount(edges), 0);
      const int bin = BinOf(edges, x);
      c[bin]++;
      if (bin == 0) s.under[ctx] += x;
      if (bin == BinCount(edges) - 1) s.over[ctx] += x;
      ++total;
    }
    EXPECT_EQ(h.Total(), total);
    for (int ctx = 0; ctx < kContextCount; ++ctx) {
      const auto span = h.Counts(ctx);
      std::vector<uint64_t> got(span.begin(), span.end());
      auto want = s.counts[ctx];
      want.resize(BinCount(edges), 0);
      EXPECT_EQ(got, want) << "bucket_s " << bucket_s << " ctx " << ContextName(ctx);
      EXPECT_NEAR(h.UnderflowSum(ctx), s.under[ctx], 1e-6);
      EXPECT_NEAR(h.OverflowSum(ctx), s.over[ctx], 1e-6);
    }
    // Both seasons are in the window (the change happened on April 1st).
    EXPECT_GT(h.Count(ContextIndex(Season::kWet, Band::kDay)), 0u);
  }
}

TEST(RollingTest, ExpiryEmptiesAndRefusesOldValues) {
  RollingHistogram h({0, 1}, WindowOptions{3600, 24});
  EXPECT_EQ(h.Add(kDryStart, 0.5), RollingHistogram::AddResult::kAdded);
  EXPECT_EQ(h.Add(kDryStart + 3600, 5.0), RollingHistogram::AddResult::kAdded);
  EXPECT_EQ(h.Add(kDryStart, NAN), RollingHistogram::AddResult::kNotFinite);
  EXPECT_EQ(h.Total(), 2u);
  h.AdvanceTo(kDryStart + 24 * 3600);  // first hour falls out
  EXPECT_EQ(h.Total(), 1u);
  EXPECT_EQ(h.Add(kDryStart + 10, 0.5), RollingHistogram::AddResult::kTooOld);
  h.AdvanceTo(kDryStart + 10 * kDay);  // silent station: everything expires
  EXPECT_EQ(h.Total(), 0u);
  for (int c = 0; c < kContextCount; ++c) EXPECT_EQ(h.OverflowSum(c), 0.0);
  h.AdvanceTo(kDryStart);  // never moves back
  EXPECT_EQ(h.window_end_s(), (kDryStart + 10 * kDay) / 3600 * 3600 + 3600);
}

TEST(RollingTest, MemoryIsBoundedByTheWindowNotTheData) {
  std::vector<double> edges;
  for (int i = 0; i <= 20; ++i) edges.push_back(i);
  RollingHistogram h(edges, WindowOptions{86400, 14});
  const size_t before = h.MemoryBytes();
  for (int64_t ts = kDryStart; ts < kDryStart + 60 * kDay; ts += 60) h.Add(ts, (ts / 60) % 23);
  EXPECT_EQ(h.MemoryBytes(), before);
  // 14 daily buckets x 4 band slots x 22 bins x 4 bytes = 4.9 KB of counts.
  EXPECT_LT(before, 9000u);
  EXPECT_EQ(h.Total(), 14u * 1440u);
}

TEST(RollingTest, RejectsBadOptions) {
  EXPECT_THROW(RollingHistogram({0, 1}, WindowOptions{1800, 4}), std::invalid_argument);
  EXPECT_THROW(RollingHistogram({0, 1}, WindowOptions{5 * 3600, 4}), std::invalid_argument);
  EXPECT_THROW(RollingHistogram({0, 1}, WindowOptions{3600, 0}), std::invalid_argument);
  EXPECT_THROW(RollingHistogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(RollingHistogram({1}), std::invalid_argument);
}

}  // namespace
}  // namespace sentinelle::monitor
