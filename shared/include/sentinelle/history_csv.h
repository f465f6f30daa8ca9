// History CSV: the one file format for bulk 5-minute history (docs/PROTOCOL.md,
// "History CSV"). sentinelle-sim writes it, the collector imports it and the
// trainer reads it, all through this codec.
//
//   station_id,ts,temperature_c,humidity_pct,pressure_hpa,wind_speed_ms,wind_dir_deg,rain_mm,pm25,pm10,no2,o3,so2,co
//   abj-plateau,2026-01-01T00:05:00Z,27.41,84.2,1011.3,2.1,205,0,31.5,58.2,38.9,21.4,6.1,0.62
//
// - `ts` is the window's end, ISO-8601 UTC with a `Z` (`YYYY-MM-DDTHH:MM:SSZ`).
// - An empty field means missing. Values are in the units of reading.h.
// - No quoting, no comments, `\n` line ends (a `\r` before it is tolerated on
//   read); the header line is required and must match exactly.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace sentinelle {

inline constexpr std::string_view kHistoryCsvHeader =
    "station_id,ts,temperature_c,humidity_pct,pressure_hpa,wind_speed_ms,wind_dir_deg,"
    "rain_mm,pm25,pm10,no2,o3,so2,co";
inline constexpr int kHistoryCsvColumns = 2 + kVariableCount;

struct HistoryRow {
  std::string station_id;
  int64_t ts_s = 0;  // window end, Unix seconds UTC
  std::array<double, kVariableCount> values{};  // NaN = missing
};

// True when `id` matches the station id pattern `[a-z0-9_-]{1,64}`.
bool ValidStationId(std::string_view id);

// Appends one row (with its trailing '\n') to `out`. Values are written in
// fixed notation with at most `decimals` decimals (trailing zeros trimmed);
// NaN and infinities are written as empty (missing).
void AppendHistoryCsvRow(std::string& out, std::string_view station_id, int64_t ts_s,
                         const std::array<double, kVariableCount>& values, int decimals = 3);

// Buffered writer. Not thread-safe. Errors (disk full, closed pipe) are
// sticky: once a write fails, every later call returns the same error.
class HistoryCsvWriter {
 public:
  // Writes to `out`, which the caller owns and keeps open for the writer's
  // lifetime. The header is written by WriteHeader(), not implicitly.
  explicit HistoryCsvWriter(std::FILE* out, int decimals = 3);
  // Creates (truncates) `path`; "-" means stdout. The writer owns the file.
  static Result<std::unique_ptr<HistoryCsvWriter>> Create(const std::string& path,
                                                          int decimals = 3);
  // Flushes and closes an owned file; errors at this point are lost, so call
  // Close() to see them.
  ~HistoryCsvWriter();
  HistoryCsvWriter(const HistoryCsvWriter&) = delete;
  HistoryCsvWriter& operator=(const HistoryCsvWriter&) = delete;

  Status WriteHeader();
  Status WriteRow(std::string_view station_id, int64_t ts_s,
                  const std::array<double, kVariableCount>& values);
  Status WriteRow(const HistoryRow& row) {
    return WriteRow(row.station_id, row.ts_s, row.values);
  }
  // Writes buffered data out (fflush included).
  Status Flush();
  // Flushes, and closes the file when the writer owns it.
  Status Close();
  int64_t rows_written() const { return rows_; }

 private:
  Status Drain();
  std::FILE* out_;
  bool owned_ = false;
  int decimals_;
  std::string buffer_;
  int64_t rows_ = 0;
  Status error_;
};

struct HistoryCsvReaderOptions {
  // Reject values outside the plausible range of reading.h.
  bool check_ranges = true;
};

// Strict streaming reader. Every error names the 1-based line and column
// (field number and its name), e.g.
//   "line 7, column 9 (pm25): 'abc' is not a number".
// Not thread-safe.
class HistoryCsvReader {
 public:
  // Reads from `in`, which the caller owns and keeps alive.
  explicit HistoryCsvReader(std::istream& in, HistoryCsvReaderOptions options = {});
  static Result<std::unique_ptr<HistoryCsvReader>> Open(const std::string& path,
                                                        HistoryCsvReaderOptions options = {});
  ~HistoryCsvReader();
  HistoryCsvReader(const HistoryCsvReader&) = delete;
  HistoryCsvReader& operator=(const HistoryCsvReader&) = delete;

  // Reads the next row into *row. Returns false at the end of input, an
  // error for a malformed line (the header is checked on the first call).
  // After an error the reader should not be used further.
  Result<bool> Next(HistoryRow* row);
  // Line number of the last line read (1 = header).
  int64_t line() const { return line_; }

 private:
  std::unique_ptr<std::istream> owned_;
  std::istream* in_;
  HistoryCsvReaderOptions options_;
  int64_t line_ = 0;
  std::string text_;
};

// Parses one data line (without its '\n'); `line_no` is used in errors.
Status ParseHistoryCsvLine(std::string_view line, int64_t line_no,
                           const HistoryCsvReaderOptions& options, HistoryRow* row);

// Reads a whole file into memory (convenience for tests and small imports).
Result<std::vector<HistoryRow>> ReadHistoryCsvFile(const std::string& path,
                                                   HistoryCsvReaderOptions options = {});

}  // namespace sentinelle
