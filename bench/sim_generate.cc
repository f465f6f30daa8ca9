// History generation: a year of 5-minute rows for the default 5-station
// network (525,600 rows), as `sentinelle-sim generate --stations 5 --days 365`
// produces it. Compared in the same run against two baselines that write the
// same number of rows of the same schema without any model:
//   - a plain C loop formatting with fprintf (the formatting + I/O floor),
//   - python3's csv module (a common scripting baseline), when python3 exists.
//
//   build-sim/bin/sim_generate_bench [repeats=3] [dir=/tmp]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "sentinelle/history_csv.h"
#include "sentinelle/sim/engine.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kStations = 5;
constexpr int kDays = 365;
constexpr long kRows = kStations * kDays * 288L;

// CPU seconds of this process and its waited-for children: on a shared,
// loaded machine this is steadier than wall time, so both are reported.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9 + tv(ru.ru_utime) + tv(ru.ru_stime);
}

double g_last_cpu_s = 0;

double Seconds(const std::function<bool()>& fn, bool* ok) {
  const auto t0 = Clock::now();
  const double c0 = CpuSeconds();
  *ok = fn();
  g_last_cpu_s = CpuSeconds() - c0;
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool RunProcess(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool PlainLoop(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  std::fprintf(f, "%s\n", std::string(sentinelle::kHistoryCsvHeader).c_str());
  const long per_station = kRows / kStations;
  for (long i = 0; i < per_station; ++i) {
    const long ts = 1767225900 + 300 * i;
    const double x = static_cast<double>(i % 1000);
    for (int s = 0; s < kStations; ++s) {
      std::fprintf(f, "abj-s%d,%ld,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", s,
                   ts, 27 + x / 1000, 80 + x / 100, 1012 + x / 1000, 2 + x / 1000, x / 3, 0.0,
                   30 + x / 50, 60 + x / 25, 40 + x / 30, 30 + x / 40, 5 + x / 100, 0.5 + x / 5000);
    }
  }
  return std::fclose(f) == 0;
}

const char* kPython = R"(
import csv, sys, datetime
rows_per_station = int(sys.argv[2])
t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow("station_id,ts,temperature_c,humidity_pct,pressure_hpa,wind_speed_ms,wind_dir_deg,rain_mm,pm25,pm10,no2,o3,so2,co".split(","))
    for i in range(rows_per_station):
        ts = (t0 + datetime.timedelta(seconds=300 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%SZ")
        x = i % 1000
        for s in range(5):
            w.writerow([f"abj-s{s}", ts, round(27 + x / 1000, 3), round(80 + x / 100, 3),
                        round(1012 + x / 1000, 3), round(2 + x / 1000, 3), round(x / 3, 3), 0,
                        round(30 + x / 50, 3), round(60 + x / 25, 3), round(40 + x / 30, 3),
                        round(30 + x / 40, 3), round(5 + x / 100, 3), round(0.5 + x / 5000, 3)])
)";

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  const std::string out = dir + "/sim_generate_bench.csv";
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string bin_dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string("./x");
  bin_dir = bin_dir.substr(0, bin_dir.rfind('/'));
  const std::string sim = bin_dir + "/sentinelle-sim";

  struct Row {
    std::string name;
    std::vector<double> s;
    std::vector<double> cpu;
    bool ok = true;
  };
  std::vector<Row> rows = {{"sentinelle-sim generate --stations 5 --days 365 (process)", {}},
                           {"Generate() in-process (same scenario)", {}},
                           {"baseline: plain fprintf loop, same rows, no model", {}},
                           {"baseline: python3 csv module, same rows, no model", {}}};
  const bool have_python = RunProcess({"python3", "-c", "pass"});
  for (int r = 0; r < repeats; ++r) {
    bool ok = false;
    rows[0].s.push_back(Seconds(
        [&] {
          return RunProcess({sim, "generate", "--stations", "5", "--days", "365", "--out", out});
        },
        &ok));
    rows[0].cpu.push_back(g_last_cpu_s);
    rows[0].ok &= ok;
    rows[1].s.push_back(Seconds(
        [&] {
          sentinelle::sim::Scenario sc;
          sc.stations = sentinelle::sim::DefaultNetwork(kStations);
          sc.duration_s = kDays * 86400LL;
          sentinelle::sim::GenerateOptions o;
          o.out_path = out;
          auto stats = sentinelle::sim::Generate(sc, o);
          return stats.ok() && stats->rows == kRows;
        },
        &ok));
    rows[1].cpu.push_back(g_last_cpu_s);
    rows[1].ok &= ok;
    rows[2].s.push_back(Seconds([&] { return PlainLoop(out); }, &ok));
    rows[2].cpu.push_back(g_last_cpu_s);
    rows[2].ok &= ok;
    if (have_python) {
      rows[3].s.push_back(Seconds(
          [&] {
            return RunProcess({"python3", "-c", kPython, out, std::to_string(kRows / kStations)});
          },
          &ok));
      rows[3].cpu.push_back(g_last_cpu_s);
      rows[3].ok &= ok;
    }
  }
  std::remove(out.c_str());
  std::printf("rows per run: %ld (5 stations x 365 days x 288 windows), %d repeats, median:\n",
              kRows, repeats);
  bool all_ok = true;
  for (const Row& row : rows) {
    if (row.s.empty()) {
      std::printf("  %-58s  (python3 not found)\n", row.name.c_str());
      continue;
    }
    const double m = Median(row.s);
    std::printf("  %-58s %7.2f s wall %7.2f s CPU  %9.0f rows/s%s\n", row.name.c_str(), m,
                Median(row.cpu), kRows / m, row.ok ? "" : "  FAILED");
    all_ok &= row.ok;
  }
  return all_ok ? 0 : 1;
}
