// Replay of real data: a foreign CSV (another network's export, e.g. hourly
// data in ppb) is mapped onto the Sentinelle schema by a column-mapping JSON
// file, then fed to an agent in accelerated time or converted to a history
// CSV. The mapping format is documented in docs/SIMULATOR.md ("Replay").
//
// Every error names the file, and the line and column at fault: for the CSV,
// "data.csv line 5, column 3 (NO2): 'n/a' is not a number"; for the map,
// the JSON field or the line and column of a syntax error.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"
#include "sentinelle/sim/model.h"

namespace sentinelle::sim {

struct ColumnMapping {
  std::string column;   // name in the foreign header
  Variable variable = Variable::kPm25;
  std::string unit;     // as written in the map, e.g. "ppb"
  double scale = 1;     // schema value = raw * scale + offset
  double offset = 0;
};

struct ColumnMap {
  char delimiter = ',';
  std::string time_column;
  // "iso8601" (YYYY-MM-DDTHH:MM[:SS][Z] or with a space), "unix_s",
  // "unix_ms", or a pattern with %Y %m %d %H %M %S and literal characters.
  std::string time_format = "iso8601";
  int utc_offset_min = 0;        // the file's local time = UTC + offset
  bool time_is_start = false;    // the time marks the start of the interval
  int interval_s = 3600;         // the source resolution
  std::string station_column;    // empty: every row belongs to `station`
  std::string station;           // fixed station id (when no station column)
  std::map<std::string, std::string> station_ids;  // foreign name -> station id
  std::vector<std::string> missing = {"", "NA", "N/A", "NaN", "nan", "null", "-999", "-9999"};
  std::vector<ColumnMapping> columns;
};

// Scale and offset that convert `unit` into the schema unit of `v`; an
// error names the unit and what it can be.
Result<std::pair<double, double>> UnitConversion(Variable v, const std::string& unit);

Result<ColumnMap> ParseColumnMap(std::string_view text, const std::string& source);
Result<ColumnMap> LoadColumnMap(const std::string& path);

struct ReplayRow {
  std::string station;
  int64_t ts_s = 0;  // the END of the source interval, UTC
  std::array<double, kVariableCount> values{};  // NaN = missing
};

// Reads and converts the whole foreign CSV, sorted by (time, station).
Result<std::vector<ReplayRow>> ReadForeignCsv(const std::string& path, const ColumnMap& map);

struct ReplayOptions {
  std::string input;
  std::string map;
  std::string out;            // history CSV to write (conversion), or empty
  std::string target;         // sensor-line target (as in live mode), or empty
  std::string station;        // which station to feed (files with several)
  double speed = 0;           // simulated s per real s; <= 0 = unpaced
  int sample_s = 60;          // samples per source interval are held values
  int tick_s = 30;
  double connect_timeout_s = 10;
  const std::atomic<bool>* stop = nullptr;
};

struct ReplayStats {
  int64_t rows = 0;
  int64_t lines = 0;
  int64_t dropped_lines = 0;
};

// Converts (out) and/or feeds (target). Samples of a source interval repeat
// its value (rain is spread evenly over them), stamped inside the interval.
Result<ReplayStats> RunReplay(const ReplayOptions& options);

}  // namespace sentinelle::sim
