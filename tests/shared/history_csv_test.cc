#include "sentinelle/history_csv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "process.h"

namespace sentinelle {
namespace {

std::array<double, kVariableCount> SampleValues() {
  return {27.41, 84.2, 1011.3, 2.1, 205, 0, 31.5, 58.25, 38.9, 21.4, 6.1, 0.625};
}

std::string Header() { return std::string(kHistoryCsvHeader) + "\n"; }

// Parses `text` completely; returns the error message, or "" when it parsed.
std::string ParseAll(const std::string& text, std::vector<HistoryRow>* rows = nullptr,
                     HistoryCsvReaderOptions options = {}) {
  std::istringstream in(text);
  HistoryCsvReader reader(in, options);
  HistoryRow row;
  while (true) {
    auto more = reader.Next(&row);
    if (!more) return more.message();
    if (!*more) return "";
    if (rows) rows->push_back(row);
  }
}

TEST(HistoryCsvTest, HeaderIsTheDocumentedSchema) {
  std::string expected = "station_id,ts";
  for (const auto& info : Variables()) expected += "," + std::string(info.name);
  EXPECT_EQ(kHistoryCsvHeader, expected);
}

TEST(HistoryCsvTest, RowFormat) {
  std::string out;
  auto v = SampleValues();
  v[10] = kMissingValue;  // so2 missing
  AppendHistoryCsvRow(out, "abj-plateau", 1767225900, v);
  EXPECT_EQ(out,
            "abj-plateau,2026-01-01T00:05:00Z,27.41,84.2,1011.3,2.1,205,0,31.5,58.25,38.9,21.4,,"
            "0.625\n");
  out.clear();
  std::array<double, kVariableCount> edge;
  edge.fill(kMissingValue);
  edge[0] = -0.0001;  // rounds to zero, written without a sign
  edge[1] = 1.0 / 3.0;
  edge[2] = INFINITY;
  AppendHistoryCsvRow(out, "s1", 951782400, edge, 2);  // 2000-02-29
  EXPECT_EQ(out, "s1,2000-02-29T00:00:00Z,0,0.33,,,,,,,,,,\n");
}

TEST(HistoryCsvTest, TimestampsMatchFormatUtc) {
  for (int64_t t : {0LL, 951782400LL, 1709210096LL, 1767225600LL, 1798761599LL, 4102444799LL}) {
    std::string out;
    AppendHistoryCsvRow(out, "s", t, SampleValues());
    EXPECT_EQ(out.substr(2, 20), FormatUtc(t)) << t;
  }
}

TEST(HistoryCsvTest, WriterReaderRoundTripThroughAFile) {
  testing::TempDir dir;
  const std::string path = dir.File("h.csv");
  {
    auto w = HistoryCsvWriter::Create(path);
    ASSERT_TRUE(w) << w.message();
    ASSERT_TRUE((*w)->WriteHeader().ok());
    for (int i = 0; i < 3000; ++i) {
      auto v = SampleValues();
      v[6] = i * 0.25;
      if (i % 7 == 0) v[9] = kMissingValue;
      ASSERT_TRUE((*w)->WriteRow(i % 2 ? "abj-cocody" : "abj-plateau", 1767225600 + 300 * i, v).ok());
    }
    EXPECT_EQ((*w)->rows_written(), 3000);
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto rows = ReadHistoryCsvFile(path);
  ASSERT_TRUE(rows) << rows.message();
  ASSERT_EQ(rows->size(), 3000u);
  for (int i = 0; i < 3000; ++i) {
    const HistoryRow& r = (*rows)[i];
    EXPECT_EQ(r.station_id, i % 2 ? "abj-cocody" : "abj-plateau");
    EXPECT_EQ(r.ts_s, 1767225600 + 300 * i);
    EXPECT_DOUBLE_EQ(r.values[6], i * 0.25);
    EXPECT_EQ(std::isnan(r.values[9]), i % 7 == 0);
    EXPECT_DOUBLE_EQ(r.values[11], 0.625);
  }
}

TEST(HistoryCsvTest, ToleratesCrlfAndBom) {
  std::string text = "\xEF\xBB\xBF" + std::string(kHistoryCsvHeader) + "\r\n";
  AppendHistoryCsvRow(text, "s1", 1767225900, SampleValues());
  text.insert(text.size() - 1, "\r");
  std::vector<HistoryRow> rows;
  EXPECT_EQ(ParseAll(text, &rows), "");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].values[11], 0.625);
}

TEST(HistoryCsvTest, ErrorsNameLineAndColumn) {
  const std::string good = "s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21,6,0.6\n";
  struct Case {
    std::string line;
    std::string expected;
  } cases[] = {
      {"S1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21,6,0.6",
       "line 3, column 1 (station_id): 'S1' is not a station id"},
      {"s1,2026-01-01 00:05:00,27,84,1011,2,205,0,31,58,38,21,6,0.6",
       "line 3, column 2 (ts): '2026-01-01 00:05:00' is not an ISO-8601"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,abc,58,38,21,6,0.6",
       "line 3, column 9 (pm25): 'abc' is not a number"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21,6,NaN",
       "line 3, column 14 (co): 'NaN' is not a number"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,5000,38,21,6,0.6",
       "line 3, column 10 (pm10): '5000' is outside the plausible range 0..2000 ug/m3"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21",
       "line 3, column 13 (so2): missing: the line has 12 fields, expected 14"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21,6,0.6,9",
       "line 3, column 15: unexpected extra field"},
      {"", "line 3, column 1 (station_id): empty line"},
      {"s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,58,38,21,6,1 ",
       "line 3, column 14 (co): '1 ' is not a number"},
  };
  for (const Case& c : cases) {
    const std::string err = ParseAll(Header() + good + c.line + "\n" + good);
    EXPECT_NE(err.find(c.expected), std::string::npos) << "got: " << err << "\nwant: " << c.expected;
  }
}

TEST(HistoryCsvTest, RangeCheckCanBeDisabled) {
  const std::string text =
      Header() + "s1,2026-01-01T00:05:00Z,27,84,1011,2,205,0,31,5000,38,21,6,0.6\n";
  EXPECT_NE(ParseAll(text), "");
  std::vector<HistoryRow> rows;
  EXPECT_EQ(ParseAll(text, &rows, {.check_ranges = false}), "");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].values[7], 5000);
}

TEST(HistoryCsvTest, HeaderErrors) {
  EXPECT_NE(ParseAll("").find("line 1: empty input"), std::string::npos);
  const std::string err =
      ParseAll("station_id,ts,temperature_c,humidity,pressure_hpa\nfoo\n");
  EXPECT_NE(err.find("line 1, column 4: header does not match the history schema (expected "
                     "'humidity_pct')"),
            std::string::npos)
      << err;
  // A header alone is an empty, valid history.
  EXPECT_EQ(ParseAll(Header()), "");
}

TEST(HistoryCsvTest, MissingFileIsAnError) {
  auto rows = ReadHistoryCsvFile("/nonexistent/dir/h.csv");
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.message().find("/nonexistent/dir/h.csv"), std::string::npos);
}

TEST(HistoryCsvTest, DiskFullIsReportedAndSticky) {
  std::FILE* full = std::fopen("/dev/full", "wb");
  ASSERT_NE(full, nullptr);
  {
    HistoryCsvWriter w(full);
    ASSERT_TRUE(w.WriteHeader().ok());
    Status s;
    // 1 MiB of rows forces a write to the device.
    for (int i = 0; i < 20000 && s.ok(); ++i) s = w.WriteRow("s1", 1767225600 + i, SampleValues());
    if (s.ok()) s = w.Flush();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.message();
    EXPECT_FALSE(w.WriteRow("s1", 1767225600, SampleValues()).ok());
  }
  std::fclose(full);
}

TEST(HistoryCsvTest, StationIdPattern) {
  EXPECT_TRUE(ValidStationId("abj-plateau"));
  EXPECT_TRUE(ValidStationId("s_01"));
  EXPECT_FALSE(ValidStationId(""));
  EXPECT_FALSE(ValidStationId("Abj"));
  EXPECT_FALSE(ValidStationId("a b"));
  EXPECT_FALSE(ValidStationId(std::string(65, 'a')));
}

}  // namespace
}  // namespace sentinelle
