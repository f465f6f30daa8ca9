// sentinelle-collector: the central service every station reports to.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/collector.h"
#include "sentinelle/collector/import.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training_cli.h"
#include "sentinelle/version.h"

namespace {

constexpr const char* kUsage = R"(usage: sentinelle-collector [--config FILE] [COMMAND]

Commands:
  run                 ingest MQTT, serve the HTTP API (default)
  import FILE.csv     import a history CSV (docs/PROTOCOL.md, "History CSV")
                      into the store, then exit
  new-token           print a fresh random API token and its SHA-256 (for http.tokens)
  hash-token          read a token on stdin, print its SHA-256
  train [--targets pm25,no2] [--horizons 5,60] [--stations a,b] [--no-station-models]
                      train from the store, register the models as candidates
  models list [--stage S] [--target T] | models show V
  models promote V STAGE [--stations a,b] [--reason TEXT]
  models rollback TARGET HORIZON KIND [STATION] [--reason TEXT]
                      registry (docs/MODELS.md); a running collector announces changes
  report [--station ID] [--format json|html] [--at TIME] --out FILE|-
                      drift and accuracy report (docs/MONITORING.md, "Report JSON")
  keygen              create the model signing key pair if missing; print the public key
  export-public-key   print the public key (hex) agents verify manifests with

Options:
  --config FILE       JSON configuration (configs/collector.example.json)
  --help              this text
  --version           print the version
)";

int Run(const sentinelle::collector::CollectorConfig& config) {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  sentinelle::collector::Collector collector(config);
  if (auto st = collector.Start(); !st) {
    spdlog::error("cannot start: {}", st.message());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping", sig);
  collector.Stop();
  return 0;
}

int Import(const sentinelle::collector::CollectorConfig& config, const std::string& path) {
  sentinelle::collector::SqliteStoreOptions so;
  so.path = config.db_path;
  so.synchronous = config.db_synchronous;
  auto store = sentinelle::collector::SqliteHistoryStore::Open(so);
  if (!store) {
    std::cerr << "store " << config.db_path << ": " << store.message() << "\n";
    return 1;
  }
  auto result = sentinelle::collector::ImportHistoryCsv(
      **store, sentinelle::collector::CsvFileSource(path), {},
      sentinelle::Env::Default()->WallMs());
  if (!result) {
    std::cerr << path << ": " << result.message() << "\n";
    return 1;
  }
  std::cout << "imported " << result->rows << " rows for " << result->stations
            << " stations: " << result->inserted << " new, " << result->duplicates
            << " already stored\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_path;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (args[i] == "--version") {
      std::cout << "sentinelle-collector " << sentinelle::kVersion << "\n";
      return 0;
    }
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) {
        std::cerr << "--config needs a file\n" << kUsage;
        return 2;
      }
      config_path = args[++i];
      continue;
    }
    if (!positional.empty() && (sentinelle::collector::IsModelCommand(positional[0]) ||
                                positional[0] == "report")) {
      positional.push_back(args[i]);  // model commands take their own --options
      continue;
    }
    if (!args[i].empty() && args[i][0] == '-') {
      std::cerr << "unknown option " << args[i] << "\n" << kUsage;
      return 2;
    }
    positional.push_back(args[i]);
  }
  const std::string command = positional.empty() ? "run" : positional[0];
  if (command == "new-token") {
    const std::string token = sentinelle::collector::TokenAuth::NewToken();
    std::cout << "token:  " << token << "\nsha256: "
              << sentinelle::collector::TokenAuth::HashToken(token) << "\n";
    return 0;
  }
  if (command == "hash-token") {
    std::string token;
    std::getline(std::cin, token);
    if (token.empty()) {
      std::cerr << "hash-token: no token on stdin\n";
      return 2;
    }
    std::cout << sentinelle::collector::TokenAuth::HashToken(token) << "\n";
    return 0;
  }
  sentinelle::collector::CollectorConfig config;
  try {
    if (!config_path.empty()) {
      config = sentinelle::collector::LoadCollectorConfigFile(config_path);
    } else {
      sentinelle::ConfigReader empty(nlohmann::json::object(), "<defaults>");
      config = sentinelle::collector::LoadCollectorConfig(empty);
    }
    sentinelle::SetupLogging(config.log);
  } catch (const std::exception& e) {
    std::cerr << "configuration: " << e.what() << "\n";
    return 2;
  }
  if (command == "run" && positional.size() <= 1) return Run(config);
  if (command == "import" && positional.size() == 2) return Import(config, positional[1]);
  if (command == "report") return sentinelle::collector::RunReportCommand(config, positional);
  if (sentinelle::collector::IsModelCommand(command)) {
    return sentinelle::collector::RunModelCommand(config, positional);
  }
  std::cerr << "unknown command\n" << kUsage;
  return 2;
}
