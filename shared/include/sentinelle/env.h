// Env: the one seam for clocks and sleeping, so tests can run time fast.
//
// Wall time is what readings are stamped with; monotonic time measures
// intervals. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace sentinelle {

class Env {
 public:
  virtual ~Env() = default;
  virtual int64_t WallMs() = 0;        // Unix epoch milliseconds
  virtual int64_t MonotonicMs() = 0;
  virtual void SleepMs(int64_t ms) = 0;
  // True when the wall clock is believed correct (NTP/GPS synced).
  virtual bool WallClockSynced() = 0;

  static Env* Default();  // real clocks; never deleted
};

// Real clocks. Clock sync is judged from adjtimex() (kernel NTP state) and a
// sanity floor: a wall clock before 2024-01-01 is never trusted.
class SystemEnv final : public Env {
 public:
  int64_t WallMs() override;
  int64_t MonotonicMs() override;
  void SleepMs(int64_t ms) override;
  bool WallClockSynced() override;
};

// Manually driven clock for tests.
class FakeEnv final : public Env {
 public:
  explicit FakeEnv(int64_t start_wall_ms = 1767225600000 /* 2026-01-01 */)
      : wall_ms_(start_wall_ms) {}
  int64_t WallMs() override { return wall_ms_.load(); }
  int64_t MonotonicMs() override { return mono_ms_.load(); }
  void SleepMs(int64_t ms) override { Advance(ms); }
  bool WallClockSynced() override { return synced_.load(); }
  void Advance(int64_t ms) { wall_ms_ += ms; mono_ms_ += ms; }
  void SetWallMs(int64_t ms) { wall_ms_ = ms; }
  void SetSynced(bool s) { synced_ = s; }

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> mono_ms_{0};
  std::atomic<bool> synced_{true};
};

// A simulated clock that runs `speed` times faster than real time from a
// given simulated start. Used by the simulator and by agents in accelerated
// demos; both sides derive the same time from the same (start, speed, epoch).
class AcceleratedEnv final : public Env {
 public:
  AcceleratedEnv(int64_t sim_start_ms, double speed);
  int64_t WallMs() override;
  int64_t MonotonicMs() override;
  void SleepMs(int64_t sim_ms) override;   // sleeps sim_ms / speed real ms
  bool WallClockSynced() override { return true; }
  double speed() const { return speed_; }

 private:
  int64_t sim_start_ms_;
  double speed_;
  int64_t real_start_mono_ms_;
};

int64_t RealMonotonicMs();

// The earliest wall time a synced clock can show; readings are never stamped
// before it.
inline constexpr int64_t kSaneWallClockFloorMs = 1704067200000;  // 2024-01-01T00:00:00Z

}  // namespace sentinelle
