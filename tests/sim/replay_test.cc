// Replay of a foreign CSV through a column map: units, times, errors.
#include <gtest/gtest.h>

#include <fstream>

#include "sentinelle/sim/replay.h"
#include "sim_test_util.h"

namespace sentinelle::sim {
namespace {

using namespace testing;  // NOLINT

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Hourly data as another network exports it: local time UTC+1, ppb, °F,
// km/h, a semicolon delimiter, quoted site names and its own missing marker.
const char* kForeignCsv =
    "Date;Site;Temp (F);NO2 (ppb);O3;PM2.5;Wind;CO ppm\n"
    "2026-01-01 01:00;\"Lab One\";77;21.3;10;12.5;7.2;0.5\n"
    "2026-01-01 02:00;\"Lab One\";78.8;-999;12;13;3.6;\n"
    "\n"
    "2026-01-01 03:00;\"Lab One\";80.6;10.65;;14;0;1\n";

const char* kMap = R"JSON({
  "delimiter": ";",
  "time_column": "Date", "time_format": "%Y-%m-%d %H:%M", "utc_offset_min": 60,
  "interval_s": 3600,
  "station_column": "Site", "station_ids": {"Lab One": "lab-1"},
  "missing": ["", "-999"],
  "columns": {
    "Temp (F)": {"variable": "temperature_c", "unit": "degF"},
    "NO2 (ppb)": {"variable": "no2", "unit": "ppb"},
    "O3": {"variable": "o3", "unit": "ug/m3"},
    "PM2.5": {"variable": "pm25", "unit": "ug/m3"},
    "Wind": {"variable": "wind_speed_ms", "unit": "km/h"},
    "CO ppm": {"variable": "co", "unit": "ppm"}
  }
})JSON";

TEST(ReplayTest, UnitConversions) {
  auto no2 = UnitConversion(Variable::kNo2, "ppb");
  ASSERT_TRUE(no2);
  EXPECT_NEAR(no2->first, 46.0055 / 24.45, 1e-9);
  auto co = UnitConversion(Variable::kCo, "ppm");
  ASSERT_TRUE(co);
  EXPECT_NEAR(co->first, 28.010 / 24.45, 1e-9);
  auto f = UnitConversion(Variable::kTemperatureC, "degF");
  ASSERT_TRUE(f);
  EXPECT_NEAR(212 * f->first + f->second, 100, 1e-9);
  auto k = UnitConversion(Variable::kTemperatureC, "K");
  EXPECT_NEAR(273.15 * k->first + k->second, 0, 1e-9);
  EXPECT_NEAR(UnitConversion(Variable::kWindSpeedMs, "knots")->first, 0.514444, 1e-9);
  EXPECT_NEAR(UnitConversion(Variable::kPressureHpa, "kPa")->first, 10, 1e-9);
  auto bad = UnitConversion(Variable::kPm25, "ppb");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("unit 'ppb' for pm25"), std::string::npos);
}

TEST(ReplayTest, ConvertsAForeignHourlyFile) {
  sentinelle::testing::TempDir dir;
  WriteFile(dir.File("in.csv"), kForeignCsv);
  WriteFile(dir.File("map.json"), kMap);
  auto map = LoadColumnMap(dir.File("map.json"));
  ASSERT_TRUE(map) << map.message();
  auto rows = ReadForeignCsv(dir.File("in.csv"), *map);
  ASSERT_TRUE(rows) << rows.message();
  ASSERT_EQ(rows->size(), 3u);
  const ReplayRow& r = (*rows)[0];
  EXPECT_EQ(r.station, "lab-1");
  EXPECT_EQ(r.ts_s, *ParseUtc("2026-01-01T00:00:00Z"));  // 01:00 at UTC+1
  EXPECT_NEAR(r.values[kT], 25, 1e-9);
  EXPECT_NEAR(r.values[kNo2], 21.3 * 46.0055 / 24.45, 1e-9);
  EXPECT_NEAR(r.values[kCo], 0.5 * 28.010 / 24.45, 1e-9);
  EXPECT_NEAR(r.values[static_cast<int>(Variable::kWindSpeedMs)], 2, 1e-9);
  EXPECT_TRUE(std::isnan(r.values[kSo2]));  // not in the file
  EXPECT_TRUE(std::isnan((*rows)[1].values[kNo2]));  // -999
  EXPECT_TRUE(std::isnan((*rows)[1].values[kCo]));   // empty
  EXPECT_TRUE(std::isnan((*rows)[2].values[kO3]));

  // Converted to a history CSV, it reads back through the strict reader.
  ReplayOptions options;
  options.input = dir.File("in.csv");
  options.map = dir.File("map.json");
  options.out = dir.File("history.csv");
  auto stats = RunReplay(options);
  ASSERT_TRUE(stats) << stats.message();
  EXPECT_EQ(stats->rows, 3);
  auto history = ReadHistoryCsvFile(dir.File("history.csv"));
  ASSERT_TRUE(history) << history.message();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[2].ts_s, *ParseUtc("2026-01-01T02:00:00Z"));
  EXPECT_NEAR((*history)[2].values[kNo2], 10.65 * 46.0055 / 24.45, 1e-3);
}

TEST(ReplayTest, CsvErrorsNameLineAndColumn) {
  sentinelle::testing::TempDir dir;
  WriteFile(dir.File("map.json"), kMap);
  auto map = LoadColumnMap(dir.File("map.json"));
  ASSERT_TRUE(map) << map.message();
  const std::string header = "Date;Site;Temp (F);NO2 (ppb);O3;PM2.5;Wind;CO ppm\n";
  const std::string good = "2026-01-01 01:00;Lab One;77;21;10;12;7;0.5\n";
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {header + good + "2026-01-01 02:00;Lab One;77;twenty;10;12;7;0.5\n",
       "in.csv line 3, column 4 (NO2 (ppb)): 'twenty' is not a number"},
      {header + good + "01/01/2026 02:00;Lab One;77;21;10;12;7;0.5\n",
       "in.csv line 3, column 1 (Date): '01/01/2026 02:00' does not match the time format"},
      {header + good + "2026-01-01 02:00;Lab One;77;21;10\n",
       "in.csv line 3, column 6: the line has 5 fields, the header 8"},
      {header + "2026-01-01 02:00;\"Lab One;77;21;10;12;7;0.5\n",
       "in.csv line 2, column 2: unbalanced quote"},
      {header + "2026-01-01 02:00;Lab Two;77;21;10;12;7;0.5\n",
       "in.csv line 2, column 2 (Site): 'Lab Two' is not a station id"},
      {"Date;Site;Temperature;NO2 (ppb);O3;PM2.5;Wind;CO ppm\n" + good,
       "in.csv line 1: no column 'Temp (F)'"},
      {"", "in.csv line 1: empty file"},
  };
  for (const Case& c : cases) {
    WriteFile(dir.File("in.csv"), c.text);
    auto rows = ReadForeignCsv(dir.File("in.csv"), *map);
    ASSERT_FALSE(rows) << c.text;
    EXPECT_NE(rows.message().find(c.error), std::string::npos) << rows.message();
  }
}

TEST(ReplayTest, MapErrors) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"{\n \"time_column\": \"Date\",\n \"columns\": {,}\n}", "m.json line 3, column 14: JSON syntax error"},
      {R"({"time_column": "t", "station": "s1", "columns": {"NO2": {"variable": "nox", "unit": "ppb"}}})",
       "m.json.columns.NO2.variable: 'nox' is not one of the 12 schema variables"},
      {R"({"time_column": "t", "station": "s1", "columns": {"PM": {"variable": "pm25", "unit": "ppb"}}})",
       "m.json.columns.PM.unit: unit 'ppb' for pm25"},
      {R"({"time_column": "t", "columns": {"PM": {"variable": "pm25", "unit": "ug/m3"}}})",
       "m.json: needs \"station_column\" or \"station\""},
      {R"({"time_column": "t", "station": "s1", "time_format": "dd/mm/yyyy", "columns": {}})",
       "m.json.time_format: 'dd/mm/yyyy'"},
      {R"({"station": "s1", "columns": {"PM": {"variable": "pm25", "unit": "ug/m3"}}})",
       "m.json.time_column: missing"},
  };
  for (const Case& c : cases) {
    auto m = ParseColumnMap(c.text, "m.json");
    ASSERT_FALSE(m) << c.text;
    EXPECT_NE(m.message().find(c.error), std::string::npos) << m.message();
  }
}

TEST(ReplayTest, UnixTimesAndIntervalStarts) {
  sentinelle::testing::TempDir dir;
  WriteFile(dir.File("in.csv"), "t,pm\n1767225600,10\n1767229200,20\n");
  auto map = ParseColumnMap(R"({"time_column": "t", "time_format": "unix_s", "time_is_start": true,
    "station": "s1", "columns": {"pm": {"variable": "pm10", "unit": "mg/m3"}}})", "m.json");
  ASSERT_TRUE(map) << map.message();
  auto rows = ReadForeignCsv(dir.File("in.csv"), *map);
  ASSERT_TRUE(rows) << rows.message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].ts_s, 1767225600 + 3600);  // start of the hour -> its end
  EXPECT_EQ((*rows)[1].values[kPm10], 20000);
}

}  // namespace
}  // namespace sentinelle::sim
