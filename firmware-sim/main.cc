// sentinelle-sim: see docs/SIMULATOR.md.
#include <csignal>
#include <string>
#include <vector>

#include "sentinelle/sim/cli.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is reported as a write error
  std::vector<std::string> args(argv + 1, argv + argc);
  return sentinelle::sim::RunCli(args, stderr, &g_stop);
}
