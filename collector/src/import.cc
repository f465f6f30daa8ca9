#include "sentinelle/collector/import.h"

#include <set>
#include <sstream>

#include "sentinelle/aqi.h"

namespace sentinelle::collector {

namespace {

StoredReading ToReading(const HistoryRow& row, int interval_s, int64_t now_ms) {
  StoredReading sr;
  sr.origin = ReadingOrigin::kImport;
  sr.arrival_ms = now_ms;
  Reading& r = sr.reading;
  r.station_id = row.station_id;
  r.window_end_s = row.ts_s;
  r.interval_s = interval_s;
  r.seq = 0;
  r.boot_id = "import";
  r.time = TimeQuality{true, "import"};
  for (int i = 0; i < kVariableCount; ++i) {
    r.values[i] = row.values[i];
    r.qc[i] = std::isnan(row.values[i]) ? QcFlag::kMissing : QcFlag::kOk;
    r.samples[i] = 0;
  }
  if (auto aqi = ComputeAqi(r)) {
    r.aqi = aqi->aqi;
    r.aqi_dominant = aqi->dominant;
  }
  return sr;
}

}  // namespace

Result<ImportResult> ImportHistoryCsv(HistoryStore& store, const CsvSource& open,
                                      const ImportOptions& options, int64_t now_ms) {
  ImportResult result;
  std::set<std::string> stations;
  {
    auto pass = open();
    if (!pass) return pass.error();
    HistoryCsvReader* reader = pass->reader.get();
    HistoryRow row;
    while (true) {
      auto more = reader->Next(&row);
      if (!more) return more.error();
      if (!*more) break;
      if (row.ts_s % options.interval_s != 0) {
        return MakeError("line " + std::to_string(reader->line()) +
                         ", column 2 (ts): not aligned to " +
                         std::to_string(options.interval_s) + " s windows");
      }
      ++result.rows;
      if (options.max_rows > 0 && result.rows > options.max_rows) {
        return MakeError("more than " + std::to_string(options.max_rows) + " rows");
      }
      stations.insert(row.station_id);
    }
  }
  result.stations = static_cast<int64_t>(stations.size());
  auto pass = open();
  if (!pass) return pass.error();
  HistoryCsvReader* reader = pass->reader.get();
  WriteBatch batch;
  batch.readings.reserve(options.chunk_rows);
  auto flush = [&]() -> Status {
    if (batch.readings.empty()) return Status::Ok();
    auto committed = store.Commit(batch);
    if (!committed) return committed.error();
    result.inserted += committed->inserted;
    result.duplicates += committed->duplicates;
    batch.readings.clear();
    return Status::Ok();
  };
  HistoryRow row;
  while (true) {
    auto more = reader->Next(&row);
    if (!more) return more.error();
    if (!*more) break;
    batch.readings.push_back(ToReading(row, options.interval_s, now_ms));
    if (batch.readings.size() >= options.chunk_rows) {
      if (auto st = flush(); !st) return st.error();
    }
  }
  if (auto st = flush(); !st) return st.error();
  return result;
}

CsvSource CsvFileSource(const std::string& path) {
  return [path]() -> Result<CsvPass> {
    auto reader = HistoryCsvReader::Open(path);
    if (!reader) return reader.error();
    CsvPass pass;
    pass.reader = std::move(*reader);
    return pass;
  };
}

CsvSource CsvTextSource(std::shared_ptr<const std::string> text) {
  return [text]() -> Result<CsvPass> {
    CsvPass pass;
    pass.stream = std::make_unique<std::istringstream>(*text);
    pass.reader = std::make_unique<HistoryCsvReader>(*pass.stream);
    return pass;
  };
}

}  // namespace sentinelle::collector
