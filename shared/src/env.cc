#include "sentinelle/env.h"

#include <sys/timex.h>

#include <chrono>
#include <thread>

namespace sentinelle {

int64_t RealMonotonicMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Env* Env::Default() {
  static SystemEnv* env = new SystemEnv();
  return env;
}

int64_t SystemEnv::WallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t SystemEnv::MonotonicMs() { return RealMonotonicMs(); }

void SystemEnv::SleepMs(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

bool SystemEnv::WallClockSynced() {
  if (WallMs() < kSaneWallClockFloorMs) return false;
  struct timex tx{};
  const int state = adjtimex(&tx);
  // TIME_ERROR means the kernel clock is not synchronised. Containers and
  // hosts without an NTP daemon report it too; the agent's config can
  // declare the clock trusted (time_source "rtc"/"assume_synced").
  return state != -1 && state != TIME_ERROR;
}

AcceleratedEnv::AcceleratedEnv(int64_t sim_start_ms, double speed)
    : sim_start_ms_(sim_start_ms), speed_(speed > 0 ? speed : 1.0),
      real_start_mono_ms_(RealMonotonicMs()) {}

int64_t AcceleratedEnv::WallMs() {
  return sim_start_ms_ + static_cast<int64_t>((RealMonotonicMs() - real_start_mono_ms_) * speed_);
}

int64_t AcceleratedEnv::MonotonicMs() { return WallMs() - sim_start_ms_; }

void AcceleratedEnv::SleepMs(int64_t sim_ms) {
  if (sim_ms <= 0) return;
  const auto real_us = static_cast<int64_t>(sim_ms * 1000.0 / speed_);
  std::this_thread::sleep_for(std::chrono::microseconds(real_us));
}

}  // namespace sentinelle
