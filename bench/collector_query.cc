// One station's last 24 h (288 readings) from a store holding a year of
// 5-minute history for 100 stations (10.5 M readings), through the same
// HistoryStore::QueryReadings the HTTP API uses. Baseline in the same run:
// the identical query on a store holding one day of one station.
//
//   collector_query_bench [--db PATH] [--stations 100] [--days 365] [--queries 2000]
// The big store is built once at PATH (default /tmp/sentinelle-query-bench.db)
// and reused by later runs.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "sentinelle/aqi.h"
#include "sentinelle/collector/sqlite_store.h"

using namespace sentinelle;
using namespace sentinelle::collector;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kEndS = 1767225600;  // 2026-01-01T00:00:00Z, end of the history

std::string Arg(int argc, char** argv, const char* name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

std::string StationId(int s) { return "st-" + std::to_string(s); }

Status Fill(SqliteHistoryStore& store, int stations, int days) {
  const int64_t windows = int64_t{days} * 288;
  WriteBatch batch;
  const auto t0 = Clock::now();
  int64_t total = 0;
  for (int s = 0; s < stations; ++s) {
    for (int64_t w = 0; w < windows; ++w) {
      StoredReading sr;
      Reading& r = sr.reading;
      r.station_id = StationId(s);
      r.seq = w + 1;
      r.window_end_s = kEndS - (windows - 1 - w) * 300;
      r.boot_id = "bench";
      r.time = {true, "ntp"};
      for (const auto& info : Variables()) {
        const int i = static_cast<int>(info.variable);
        r.values[i] = info.min + (info.max - info.min) * 0.001 * static_cast<double>((w * 13 + i + s) % 500);
        r.qc[i] = QcFlag::kOk;
        r.samples[i] = 30;
      }
      if (auto a = ComputeAqi(r)) {
        r.aqi = a->aqi;
        r.aqi_dominant = a->dominant;
      }
      sr.arrival_ms = r.window_end_s * 1000 + 1500;
      batch.readings.push_back(std::move(sr));
      if (batch.readings.size() == 20000) {
        auto c = store.Commit(batch);
        if (!c) return c.error();
        total += c->inserted;
        batch.readings.clear();
      }
    }
    std::fprintf(stderr, "\rfilling: station %d/%d", s + 1, stations);
  }
  auto c = store.Commit(batch);
  if (!c) return c.error();
  total += c->inserted;
  std::fprintf(stderr, "\n%lld readings written in %.1f s\n", static_cast<long long>(total),
               std::chrono::duration<double>(Clock::now() - t0).count());
  return Status::Ok();
}

struct Stats {
  double p50_ms, p99_ms, mean_ms;
  double cpu_p50_ms, cpu_p99_ms;  // CPU time of the querying thread (immune to run-queue waits)
  size_t rows;
};

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Result<Stats> Measure(SqliteHistoryStore& store, int stations, int queries) {
  std::mt19937 rng(42);
  std::vector<double> ms, cpu;
  size_t rows = 0;
  const TimeRange last_day{kEndS - 86400 + 1, kEndS + 1};
  for (int q = 0; q < queries; ++q) {
    const std::string id = StationId(static_cast<int>(rng() % static_cast<unsigned>(stations)));
    const double c0 = ThreadCpuMs();
    const auto t0 = Clock::now();
    auto r = store.QueryReadings(id, last_day, 100000);
    const auto t1 = Clock::now();
    cpu.push_back(ThreadCpuMs() - c0);
    if (!r) return r.error();
    rows = r->size();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  double sum = 0;
  for (double x : ms) sum += x;
  return Stats{ms[ms.size() / 2], ms[ms.size() * 99 / 100], sum / static_cast<double>(ms.size()),
               cpu[cpu.size() / 2], cpu[cpu.size() * 99 / 100], rows};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = Arg(argc, argv, "--db", "/tmp/sentinelle-query-bench.db");
  const int stations = std::stoi(Arg(argc, argv, "--stations", "100"));
  const int days = std::stoi(Arg(argc, argv, "--days", "365"));
  const int queries = std::stoi(Arg(argc, argv, "--queries", "2000"));

  SqliteStoreOptions o;
  o.path = path;
  auto big = SqliteHistoryStore::Open(o);
  if (!big) {
    std::fprintf(stderr, "%s\n", big.message().c_str());
    return 1;
  }
  auto last = (*big)->GetStation(StationId(stations - 1));
  if (!last || !*last || (**last).reading_count != int64_t{days} * 288) {
    if (auto st = Fill(**big, stations, days); !st) {
      std::fprintf(stderr, "fill: %s\n", st.message().c_str());
      return 1;
    }
  }
  const std::string small_path = path + ".small";
  std::filesystem::remove(small_path);
  std::filesystem::remove(small_path + "-wal");
  std::filesystem::remove(small_path + "-shm");
  o.path = small_path;
  auto small = SqliteHistoryStore::Open(o);
  if (!small || !Fill(**small, 1, 1).ok()) return 1;

  auto base = Measure(**small, 1, queries);
  auto full = Measure(**big, stations, queries);
  if (!base || !full) return 1;
  std::printf("baseline (1 station x 1 day): %zu rows, wall p50 %.3f ms, p99 %.3f ms, mean %.3f ms; "
              "thread CPU p50 %.3f ms, p99 %.3f ms\n",
              base->rows, base->p50_ms, base->p99_ms, base->mean_ms, base->cpu_p50_ms, base->cpu_p99_ms);
  std::printf("%d stations x %d days (%lld readings): %zu rows, wall p50 %.3f ms, p99 %.3f ms, "
              "mean %.3f ms; thread CPU p50 %.3f ms, p99 %.3f ms\n",
              stations, days, static_cast<long long>(int64_t{stations} * days * 288), full->rows,
              full->p50_ms, full->p99_ms, full->mean_ms, full->cpu_p50_ms, full->cpu_p99_ms);
  std::printf("database size: %.2f GB\n",
              static_cast<double>(std::filesystem::file_size(path)) / 1e9);
  return 0;
}
