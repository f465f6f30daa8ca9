// sentinelle-agent: the station agent. See docs/OPERATIONS.md, "Agent".
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "sentinelle/agent/config.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/agent/model_updater.h"
#include "sentinelle/agent/prediction_service.h"
#include "sentinelle/config.h"
#include "sentinelle/log.h"
#include "sentinelle/version.h"

namespace {

constexpr const char* kUsage = R"(Usage: sentinelle-agent --config FILE
       sentinelle-agent --help | --version

The Sentinelle station agent: reads sensor samples (one JSON line each, from
stdin, a UNIX socket or a loopback TCP port), aggregates them into windows,
commits every window to SQLite, and publishes readings over MQTT (QoS 1) until
the collector confirms them end to end.

Options:
  --config FILE   JSON configuration (see configs/agent.example.json)
  --help          show this help and exit
  --version       print the version and exit

Signals: SIGTERM/SIGINT stop gracefully (drain the outbox for up to
mqtt.shutdown_flush_ms, publish the offline status, close the store, exit 0).
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
)";

}  // namespace

int main(int argc, char** argv) {
  // A station agent is a handful of mostly idle threads: one malloc arena
  // per thread (glibc's default, up to 8 x cores) only keeps freed pages of
  // each thread resident. Two arenas, and free memory above 128 KiB returned
  // to the kernel (docs/PERFORMANCE.md, "Resident memory").
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024);
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("sentinelle-agent %s\n", sentinelle::kVersion);
      return 0;
    }
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::fprintf(stderr, "sentinelle-agent: unknown argument '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "sentinelle-agent: --config FILE is required\n\n%s", kUsage);
    return 2;
  }

  sentinelle::agent::AgentConfig config;
  sentinelle::agent::PredictionConfig prediction_config;
  sentinelle::agent::UpdaterConfig updater_config;
  try {
    config = sentinelle::agent::LoadAgentConfig(config_path);
    sentinelle::SetupLogging(config.log);
    prediction_config = sentinelle::agent::PredictionConfig::FromAgentConfig(config);
    updater_config = sentinelle::agent::UpdaterConfig::FromAgentConfig(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sentinelle-agent: %s\n", e.what());
    return 2;
  }

  // Signals are taken synchronously by this thread; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Declared before the engine so that the engine (and its worker thread,
  // which calls the prediction observer) is destroyed first.
  std::unique_ptr<sentinelle::agent::PredictionService> prediction;
  std::unique_ptr<sentinelle::agent::ModelUpdater> updater;  // uses `prediction`
  auto engine = sentinelle::agent::Engine::Create(config);
  if (!engine) {
    spdlog::critical("agent: {}", engine.message());
    return 1;
  }
  if (prediction_config.enabled) {
    auto p = sentinelle::agent::PredictionService::Create(
        prediction_config, config.station_id, (*engine)->registry(),
        [e = engine->get()](std::string payload) { return e->PublishPredictions(std::move(payload)); });
    if (!p) {
      spdlog::critical("agent: {}", p.message());
      return 1;
    }
    prediction = std::move(p.value());
    prediction->Attach(**engine);
  }
  if (updater_config.enabled) {
    auto u = sentinelle::agent::ModelUpdater::Create(
        updater_config, config.station_id, config.topic_prefix, (*engine)->env(), (*engine)->registry(),
        sentinelle::agent::MakePredictionServiceHook(prediction.get()));
    if (!u) {
      spdlog::critical("agent: {}", u.message());
      return 1;
    }
    updater = std::move(u.value());
    updater->Attach(**engine);
    (*engine)->SetModelInfoProvider(
        [u = updater.get(), p = prediction.get()] { return u->StatusModels(p); });
    updater->Start();
  }
  if (auto st = (*engine)->Start(); !st) {
    spdlog::critical("agent: {}", st.message());
    return 1;
  }
  const timespec tick{0, 200 * 1000 * 1000};
  while (!(*engine)->stop_requested()) {
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("agent: {} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
  }
  (*engine)->Stop();
  if (updater) updater->Stop();
  return 0;
}
