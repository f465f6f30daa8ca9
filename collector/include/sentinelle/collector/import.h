// History CSV import (the schema of shared/include/sentinelle/history_csv.h)
// into the HistoryStore, from the command line or POST /api/v1/import.
//
// Two passes: the whole input is validated first (nothing is written when
// any line is malformed: the error names the line and column), then rows are
// committed in chunks. Rows are stored as readings of origin "import" (seq 0,
// outside the gap ledger), each present value with QC flag "ok" (the reader
// refuses values outside the plausible range), absent values "missing", the
// AQI computed by shared/aqi. (station, window_end) is the exactly-once key,
// so re-running an interrupted import is safe: existing windows count as
// duplicates and are left untouched.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>

#include "sentinelle/collector/store.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/result.h"

namespace sentinelle::collector {

struct ImportResult {
  int64_t rows = 0;
  int64_t inserted = 0;
  int64_t duplicates = 0;
  int64_t stations = 0;
};

struct ImportOptions {
  int interval_s = 300;      // window length recorded for imported rows
  size_t chunk_rows = 10000; // rows per transaction
  int64_t max_rows = 0;      // 0 = unlimited; more rows is an error
};

// One pass over the input: the reader and, when it reads from memory, the
// stream it borrows (declared first, destroyed last).
struct CsvPass {
  std::unique_ptr<std::istream> stream;
  std::unique_ptr<HistoryCsvReader> reader;
};
// `open` is called twice (validation, then storage) and must yield the same input.
using CsvSource = std::function<Result<CsvPass>()>;

Result<ImportResult> ImportHistoryCsv(HistoryStore& store, const CsvSource& open,
                                      const ImportOptions& options, int64_t now_ms);
// Convenience sources.
CsvSource CsvFileSource(const std::string& path);
CsvSource CsvTextSource(std::shared_ptr<const std::string> text);

}  // namespace sentinelle::collector
