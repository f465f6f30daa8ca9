// Helpers for the simulator tests: run Generate into a temporary directory
// and read the result back through the shared history CSV reader.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/sim/engine.h"

namespace sentinelle::sim::testing {

inline constexpr int kT = static_cast<int>(Variable::kTemperatureC);
inline constexpr int kRh = static_cast<int>(Variable::kHumidityPct);
inline constexpr int kRain = static_cast<int>(Variable::kRainMm);
inline constexpr int kPm25 = static_cast<int>(Variable::kPm25);
inline constexpr int kPm10 = static_cast<int>(Variable::kPm10);
inline constexpr int kNo2 = static_cast<int>(Variable::kNo2);
inline constexpr int kO3 = static_cast<int>(Variable::kO3);
inline constexpr int kSo2 = static_cast<int>(Variable::kSo2);
inline constexpr int kCo = static_cast<int>(Variable::kCo);

inline Scenario MakeScenario(int stations, const std::string& start, double days,
                             uint64_t seed = 42) {
  Scenario sc;
  sc.stations = DefaultNetwork(stations);
  sc.start_s = *ParseUtc(start);
  sc.duration_s = static_cast<int64_t>(days * 86400);
  sc.seed = seed;
  return sc;
}

struct Generated {
  std::vector<HistoryRow> rows;
  std::vector<HistoryRow> truth;
  std::vector<std::string> truth_log;
  std::string csv_text;
};

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Generates `sc` and reads it back (strictly, with range checks, unless the
// output is expected to contain garbage).
inline Generated Gen(const Scenario& sc, GenerateOptions options = {}, bool parse_rows = true) {
  sentinelle::testing::TempDir dir;
  options.out_path = dir.File("out.csv");
  options.truth_out = dir.File("truth.csv");
  options.truth_log = dir.File("truth.jsonl");
  auto stats = Generate(sc, options);
  EXPECT_TRUE(stats) << stats.message();
  Generated g;
  g.csv_text = Slurp(options.out_path);
  if (parse_rows) {
    auto rows = ReadHistoryCsvFile(options.out_path);
    EXPECT_TRUE(rows) << rows.message();
    if (rows) g.rows = std::move(*rows);
  }
  auto truth = ReadHistoryCsvFile(options.truth_out);
  EXPECT_TRUE(truth) << truth.message();
  if (truth) g.truth = std::move(*truth);
  std::istringstream log(Slurp(options.truth_log));
  for (std::string line; std::getline(log, line);) g.truth_log.push_back(line);
  return g;
}

inline int HourOf(int64_t ts_s) { return static_cast<int>((ts_s % 86400) / 3600); }

// Mean of variable v over rows of `station` for which pred(row) holds.
inline double Mean(const std::vector<HistoryRow>& rows, const std::string& station, int v,
                   const std::function<bool(const HistoryRow&)>& pred = nullptr) {
  double sum = 0;
  int n = 0;
  for (const HistoryRow& r : rows) {
    if (r.station_id != station || std::isnan(r.values[v])) continue;
    if (pred && !pred(r)) continue;
    sum += r.values[v];
    ++n;
  }
  return n > 0 ? sum / n : NAN;
}

inline double Correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace sentinelle::sim::testing
