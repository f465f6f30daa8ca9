// JSON parsing for the simulator's own input files (scenarios, column maps),
// whose syntax errors must name a line and column. The only place in the
// simulator that calls nlohmann's throwing parser; nothing escapes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sentinelle/result.h"

namespace sentinelle::sim {

// Parses `text`; `source` (a file name) prefixes errors, e.g.
// "map.json line 3, column 14: syntax error ...". Input is limited to 1 MiB
// and 32 levels of nesting.
Result<nlohmann::json> ParseJsonFile(std::string_view text, const std::string& source);
// Reads and parses a file.
Result<nlohmann::json> ReadJsonFile(const std::string& path);
// Reads a whole (small) file.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace sentinelle::sim
