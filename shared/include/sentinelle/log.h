// Logging setup (spdlog). Every binary calls SetupLogging once at start-up;
// libraries log through spdlog's default logger.
#pragma once

#include <string>

namespace sentinelle {

struct LogConfig {
  std::string level = "info";   // trace|debug|info|warn|error|off
  bool json = false;            // one JSON object per line (for log shippers)
  std::string name = "sentinelle";
};

// Throws std::invalid_argument for an unknown level.
void SetupLogging(const LogConfig& config);

}  // namespace sentinelle
