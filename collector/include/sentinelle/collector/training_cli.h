// The collector's model subcommands (sentinelle-collector --help):
//   train [--targets pm25,no2] [--horizons 5,60] [--stations a,b] [--no-station-models]
//   models list [--stage S] [--target T]
//   models show V
//   models promote V STAGE [--stations a,b] [--reason TEXT]
//   models rollback TARGET HORIZON KIND [STATION] [--reason TEXT]
//   keygen              create the signing key pair if missing, print the public key
//   export-public-key   print the public key (hex) agents are configured with
// They work on the store and registry files directly; a running collector
// announces stage changes made here within about 5 s.
#pragma once

#include <string>
#include <vector>

#include "sentinelle/collector/config.h"

namespace sentinelle::collector {

// True when args[0] names one of the commands above.
bool IsModelCommand(const std::string& command);
// Runs it; returns the process exit code (0 ok, 1 failure, 2 bad arguments).
int RunModelCommand(const CollectorConfig& config, const std::vector<std::string>& args);

}  // namespace sentinelle::collector
