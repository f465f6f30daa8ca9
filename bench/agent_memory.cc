// Resident memory of the real sentinelle-agent over a simulated day: 288
// five-minute windows from 8,640 sample lines (one every 10 s, all 12
// variables) fed on stdin at 10,000x speed with the input clock, publishing
// to a real Mosquitto and confirmed by an ack peer. RSS is read from
// /proc/<pid>/status every 50 ms; the baseline is the agent's RSS right after
// start-up (connected, idle) in the same run.
//
//   build/bin/agent_memory_bench [days=1] [tls|plain] [models]
//
// With "tls" the agent connects over TLS (ssl://, mqtt.ca_file) to a TLS
// listener of the same broker, as production stations do; the ack peer
// stays on the plain loopback listener. With "models" the agent runs with
// prediction.model_dir holding the 8 benchmark models of predict_make_models
// (200 trees, depth 6 each; written to a temporary directory first), so every
// closed window is also predicted. The end also prints the resident pages per
// mapping (/proc/<pid>/smaps), largest first.
#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "secure_broker.h"
#include "sentinelle/sensor_line.h"

using namespace sentinelle;
using sentinelle::testing::AckPeer;
using sentinelle::testing::BinPath;
using sentinelle::testing::ChildProcess;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;

namespace {

long StatusKb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  }
  return -1;
}

// Resident KiB per mapped file ("[heap]", "[anon]" for the rest), from smaps.
std::vector<std::pair<long, std::string>> RssByMapping(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::map<std::string, long> kb;
  std::string line, current;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string first;
    ls >> first;
    if (first.find('-') != std::string::npos && first.back() != ':') {
      std::string perms, offset, dev, inode, path;
      ls >> perms >> offset >> dev >> inode;
      std::getline(ls >> std::ws, path);
      current = path.empty() ? "[anon]" : path;
    } else if (first == "Rss:") {
      long v = 0;
      ls >> v;
      kb[current] += v;
    }
  }
  std::vector<std::pair<long, std::string>> out;
  for (const auto& [name, v] : kb) out.emplace_back(v, name);
  std::sort(out.rbegin(), out.rend());
  return out;
}

// Failure exits print the log they refer to: the temporary directories
// holding it are removed on the way out.
int Fail(const std::string& what, const std::string& log_file) {
  std::ifstream in(log_file);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "%s\n%s\n", what.c_str(), log.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int days = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  const bool tls = argc > 2 && std::string(argv[2]) == "tls";
  const bool models = argc > 3 && std::string(argv[3]) == "models";
  TempDir model_dir;
  if (models) {
    ChildProcess make({BinPath("predict_make_models"), model_dir.path()}, model_dir.File("make.log"));
    if (!make.Start(false) || make.Wait(std::chrono::minutes(10)) != 0) {
      return Fail("predict_make_models failed:", model_dir.File("make.log"));
    }
    std::remove(model_dir.File("history.json").c_str());  // not a model
    std::remove(model_dir.File("make.log").c_str());
  }
  TempDir pki;
  const int tls_port = sentinelle::testing::FreeLoopbackPort();
  sentinelle::testing::BrokerOptions bo;
  if (tls) {
    if (sentinelle::testing::RunScript("scripts/make-dev-certs.sh", {pki.File("pki")},
                                       pki.File("log")) != 0) {
      return Fail("scripts/make-dev-certs.sh failed:", pki.File("log"));
    }
    bo.extra_config = "listener " + std::to_string(tls_port) + " 127.0.0.1\ncafile " +
                      pki.File("pki/ca.crt") + "\ncertfile " + pki.File("pki/server.crt") +
                      "\nkeyfile " + pki.File("pki/server.key") + "\n";
  }
  MosquittoBroker broker(bo);
  if (!broker.Start()) {
    std::fprintf(stderr, "mosquitto did not start:\n%s\n", broker.Log().c_str());
    return 1;
  }
  AckPeer peer(broker.uri());
  if (!peer.Connect()) {
    std::fprintf(stderr, "the ack peer could not connect to %s\n", broker.uri().c_str());
    return 1;
  }
  TempDir dir;
  const std::string cfg = dir.File("agent.json");
  // The benchmark models are trained for station "st-1" (bench/predict_models.h)
  // and a station refuses another station's models.
  std::ofstream(cfg) << R"({"station_id":")" << (models ? "st-1" : "mem-bench")
                     << R"(","clock":{"source":"input"},)"
                     << R"("input":{"kind":"stdin"},"store":{"path":")" << dir.File("agent.db")
                     << R"("},"mqtt":{"uri":")"
                     << (tls ? "ssl://127.0.0.1:" + std::to_string(tls_port) : broker.uri())
                     << (tls ? R"(","ca_file":")" + pki.File("pki/ca.crt") : std::string())
                     << R"("},"metrics":{"listen":"127.0.0.1:0"},"log":{"level":"warn"})"
                     << (models ? R"(,"prediction":{"model_dir":")" + model_dir.path() + "\"}"
                                : std::string())
                     << "}";
  ChildProcess agent({BinPath("sentinelle-agent"), "--config", cfg}, dir.File("agent.log"));
  if (!agent.Start(true)) return Fail("sentinelle-agent did not start:", dir.File("agent.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // connected, idle
  const long baseline_kb = StatusKb(agent.pid(), "VmRSS");

  constexpr int64_t kT0 = 1767225600000;
  const int lines = 8640 * days;
  const double speed = 10000.0;
  std::vector<long> rss;
  const auto start = std::chrono::steady_clock::now();
  std::array<bool, kVariableCount> present{};
  present.fill(true);
  for (int i = 0; i < lines; ++i) {
    std::array<double, kVariableCount> v{};
    const double t = i / 360.0;  // hours
    v[0] = 25 + 5 * std::sin(t / 24 * 2 * M_PI);
    v[1] = 60 + 20 * std::sin(t / 24 * 2 * M_PI + 1);
    v[2] = 1010 + std::sin(t);
    v[3] = 3 + std::sin(t * 3);
    v[4] = std::fmod(180 + 90 * std::sin(t), 360);
    v[5] = 0;
    v[6] = 15 + 5 * std::sin(t * 2);
    v[7] = 30 + 8 * std::sin(t * 2);
    v[8] = 40 + 10 * std::sin(t);
    v[9] = 60 + 20 * std::sin(t);
    v[10] = 8 + std::sin(t);
    v[11] = 0.6 + 0.1 * std::sin(t);
    const int64_t ts = kT0 + int64_t{i} * 10000;
    if (!agent.WriteStdin(EncodeSensorLine(ts, v, present) + "\n")) {
      return Fail("the agent stopped reading its input at line " + std::to_string(i) + ":",
                  dir.File("agent.log"));
    }
    // Pace to 10,000x: 10 simulated seconds per line = 1 ms real.
    const auto due = start + std::chrono::microseconds(static_cast<int64_t>(int64_t{i} * 10000 * 1000 / speed));
    std::this_thread::sleep_until(due);
    if (i % 50 == 0) rss.push_back(StatusKb(agent.pid(), "VmRSS"));
  }
  agent.WriteStdin(EncodeClockTick(kT0 + int64_t{lines} * 10000 + 60000) + "\n");
  const size_t windows = static_cast<size_t>(288 * days);
  WaitFor([&] { return peer.acked_count() >= windows; }, std::chrono::seconds(30));
  rss.push_back(StatusKb(agent.pid(), "VmRSS"));
  const long hwm = StatusKb(agent.pid(), "VmHWM");
  const long anon = StatusKb(agent.pid(), "RssAnon");
  const long file = StatusKb(agent.pid(), "RssFile");
  long pss = -1;
  {
    std::ifstream in("/proc/" + std::to_string(agent.pid()) + "/smaps_rollup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Pss:", 0) == 0) pss = std::atol(line.c_str() + 4);
    }
  }
  const auto mappings = RssByMapping(agent.pid());
  std::vector<long> second_half(rss.begin() + static_cast<std::ptrdiff_t>(rss.size() / 2), rss.end());
  std::sort(second_half.begin(), second_half.end());
  agent.Signal(SIGTERM);
  const int rc = agent.Wait();
  std::printf("simulated days: %d (%d sample lines, %zu windows, %zu confirmed)\n", days, lines,
              windows, peer.acked_count());
  std::printf("baseline RSS after start-up (connected, idle): %.2f MiB\n", baseline_kb / 1024.0);
  std::printf("steady RSS, median of 2nd half:              %.2f MiB\n",
              second_half[second_half.size() / 2] / 1024.0);
  std::printf("steady RSS, max of 2nd half:                 %.2f MiB\n", second_half.back() / 1024.0);
  std::printf("peak RSS (VmHWM):                            %.2f MiB\n", hwm / 1024.0);
  std::printf("at the end: RssAnon %.2f MiB (heap, stacks), RssFile %.2f MiB (mapped "
              "libraries and binary, shared clean pages), Pss %.2f MiB\n",
              anon / 1024.0, file / 1024.0, pss / 1024.0);
  std::printf("link: %s\n", tls ? "TLS (ssl://, mqtt.ca_file)" : "plain tcp://");
  std::printf("models: %s\n", models ? "8 (200 trees, depth 6) in prediction.model_dir" : "none");
  std::printf("resident KiB per mapping at the end (largest 25):\n");
  for (size_t i = 0; i < mappings.size() && i < 25; ++i) {
    std::printf("  %6ld  %s\n", mappings[i].first, mappings[i].second.c_str());
  }
  std::printf("exit code after SIGTERM: %d\n", rc);
  // A run that lost windows or did not stop cleanly measured something else.
  if (peer.acked_count() < windows || rc != 0) {
    return Fail("incomplete run: " + std::to_string(peer.acked_count()) + " of " +
                    std::to_string(windows) + " windows confirmed, agent exit code " +
                    std::to_string(rc) + "; agent log:",
                dir.File("agent.log"));
  }
  return 0;
}
