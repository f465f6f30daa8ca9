// Harnesses for files an operator or a data team hands to the programs:
// configuration files (agent, with its prediction and updater sections, and
// collector) and history CSV.
#include <cmath>
#include <sstream>
#include <string>

#include "harness.h"
#include "sentinelle/agent/config.h"
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/agent/prediction_service.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/config.h"
#include "sentinelle/history_csv.h"

namespace sentinelle::fuzz {

// Configuration errors are ConfigError by contract (start-up concern); any
// other exception escaping is a bug and ends the run.
void AgentConfig(std::string_view input) {
  // The same parse as ConfigReader::FromFile (comments allowed).
  const nlohmann::json root = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false,
                                                    /*ignore_comments=*/true);
  if (root.is_discarded()) return;
  try {
    const agent::AgentConfig config = agent::ParseAgentConfig(root, "fuzz");
    (void)agent::PredictionConfig::FromAgentConfig(config);
    (void)agent::UpdaterConfig::FromAgentConfig(config);
  } catch (const ConfigError&) {
  }
}

void CollectorConfig(std::string_view input) {
  try {
    ConfigReader reader = ConfigReader::FromString(std::string(input), "fuzz");
    (void)collector::LoadCollectorConfig(reader);
  } catch (const ConfigError&) {
  }
}

void HistoryCsv(std::string_view input) {
  std::istringstream in{std::string(input)};
  HistoryCsvReaderOptions options;
  HistoryCsvReader reader(in, options);
  HistoryRow row;
  for (int rows = 0;; ++rows) {
    auto next = reader.Next(&row);
    if (!next.ok() || !next.value()) return;
    SENTINELLE_FUZZ_CHECK(ValidStationId(row.station_id));
    // An accepted row, written back, is accepted again with the same
    // station, time and missing values; values within the written rounding.
    std::string line;
    AppendHistoryCsvRow(line, row.station_id, row.ts_s, row.values, 6);
    SENTINELLE_FUZZ_CHECK(!line.empty() && line.back() == '\n');
    line.pop_back();
    HistoryRow back;
    SENTINELLE_FUZZ_CHECK(ParseHistoryCsvLine(line, 2, options, &back).ok());
    SENTINELLE_FUZZ_CHECK(back.station_id == row.station_id && back.ts_s == row.ts_s);
    for (int i = 0; i < kVariableCount; ++i) {
      SENTINELLE_FUZZ_CHECK(std::isnan(back.values[i]) == std::isnan(row.values[i]));
      if (!std::isnan(row.values[i])) {
        SENTINELLE_FUZZ_CHECK(std::fabs(back.values[i] - row.values[i]) <=
                              5e-7 * (1.0 + std::fabs(row.values[i])));
      }
    }
  }
}

}  // namespace sentinelle::fuzz
