// Backlog drain: 30 days of 5-minute readings (8,640) from the agent's outbox
// to "confirmed" at a receiving peer (decode + end-to-end ack) on loopback,
// through a real Mosquitto. Compares batch sizes and in-flight caps in the
// same run; the batch-of-1 rows are the baseline.
//
//   build/bin/agent_drain_bench [readings=8640] [batch inflight [fsync]]
// With batch and inflight only that one configuration runs ("fsync": each
// confirmation committed with its own fsync, StoreConfig::relaxed_confirm_sync
// off, as before).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/agent/store.h"

using namespace sentinelle;
using namespace sentinelle::agent;
using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;

namespace {

constexpr int64_t kEnd0 = 1767225900;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "%s\n", why.c_str());
  std::exit(1);
}

void Prefill(const std::string& path, const std::string& station, int n) {
  StoreConfig sc;
  sc.path = path;
  sc.db.synchronous = "OFF";  // preparation only; the engine reopens with FULL
  auto store = Store::Open(sc, station, "prefill");
  if (!store) Die("prefill: " + store.message());
  for (int i = 0; i < n; ++i) {
    Reading r;
    r.station_id = station;
    r.window_end_s = kEnd0 + 300LL * i;
    r.boot_id = "prefill";
    r.time = {true, "ntp"};
    for (const auto& info : Variables()) {
      const int v = static_cast<int>(info.variable);
      // Plausible values (a strict decoder refuses an "ok" value out of range).
      r.values[v] = info.min + (info.max - info.min) * (0.05 + 0.001 * (i % 17));
      r.qc[v] = QcFlag::kOk;
      r.samples[v] = 30;
    }
    r.aqi = 55;
    r.aqi_dominant = Variable::kPm25;
    if (auto st = (*store)->Commit(r); !st) Die("prefill: " + st.message());
  }
}

struct Outcome {
  double seconds = 0;
  int64_t confirmed = 0;
  bool finished = false;
  size_t messages = 0;
};

Outcome Run(MosquittoBroker& broker, int n, int batch, int inflight, bool confirm_fsync,
            int run_id) {
  TempDir dir;
  const std::string station = "bench-" + std::to_string(run_id);
  Prefill(dir.File("agent.db"), station, n);
  AckPeer peer(broker.uri(), "sentinelle/v1", "peer-" + std::to_string(run_id));
  if (!peer.Connect()) Die("the ack peer could not connect to " + broker.uri());
  AgentConfig c;
  c.station_id = station;
  c.clock.source = ClockSource::kInput;
  c.input.kind = InputKind::kNone;
  c.store.path = dir.File("agent.db");
  c.store.max_rows = 1000000;
  c.store.relaxed_confirm_sync = !confirm_fsync;
  c.mqtt.uri = broker.uri();
  c.mqtt.client_id = "agent-" + station;
  c.mqtt.batch_max_readings = batch;
  c.mqtt.max_inflight_messages = inflight;
  c.mqtt.window_readings = 100000;
  c.metrics.listen = "";
  auto engine = Engine::Create(c);
  if (!engine) Die("agent engine: " + engine.message());
  if (Status st = (*engine)->Start(); !st) Die("agent engine start: " + st.message());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(*engine)->GetSnapshot().connected) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (std::chrono::steady_clock::now() > deadline) Die("the agent did not connect in 60 s");
  }
  // Replay of the whole outbox starts at the connect.
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o;
  while (std::chrono::steady_clock::now() < deadline) {
    if ((*engine)->GetSnapshot().unconfirmed == 0) {
      o.finished = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  o.confirmed = n - (*engine)->GetSnapshot().unconfirmed;
  o.messages = peer.messages();
  if (peer.rejected() > 0) std::fprintf(stderr, "peer rejected %zu payloads\n", peer.rejected());
  (*engine)->Stop();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 8640;
  spdlog::set_level(spdlog::level::warn);
  MosquittoBroker broker;
  if (!broker.Start()) {
    std::fprintf(stderr, "mosquitto did not start\n%s", broker.Log().c_str());
    return 1;
  }
  struct Case {
    int batch;
    int inflight;
    const char* note;
    bool confirm_fsync = false;  // each confirmation with its own fsync (as before)
  };
  std::vector<Case> cases = {
      {1, 8, "baseline: one reading per message"},
      {1, 1000, "one reading per message, 1000 in flight"},
      {50, 8, ""},
      {500, 8, "default"},
      {1000, 8, "max batch"},
      {1, 8, "baseline, each confirmation fsynced", true},
      {50, 8, "each confirmation fsynced", true},
      {500, 8, "default, each confirmation fsynced", true},
  };
  if (argc > 3) {
    cases = {{std::atoi(argv[2]), std::atoi(argv[3]), "selected",
              argc > 4 && std::string(argv[4]) == "fsync"}};
  }
  std::printf("%-9s %-9s %-9s %-10s %-12s %-14s %s\n", "readings", "batch", "inflight", "messages",
              "seconds", "readings/s", "note");
  int run = 0;
  int unfinished = 0;
  for (const Case& k : cases) {
    const Outcome o = Run(broker, n, k.batch, k.inflight, k.confirm_fsync, ++run);
    std::printf("%-9lld %-9d %-9d %-10zu %-12.3f %-14.0f %s%s\n", static_cast<long long>(o.confirmed),
                k.batch, k.inflight, o.messages, o.seconds, o.confirmed / o.seconds, k.note,
                o.finished ? "" : " (DID NOT FINISH in 60 s)");
    std::fflush(stdout);
    unfinished += o.finished ? 0 : 1;
  }
  return unfinished == 0 ? 0 : 1;
}
