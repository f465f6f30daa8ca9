// Logs at most one line per key per interval, counting what it suppressed.
// Thread-safe. Private to the collector library.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace sentinelle::collector {

class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : interval_(interval) {}

  void Warn(const std::string& key, const std::string& message) {
    const auto now = std::chrono::steady_clock::now();
    int64_t suppressed = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Slot& s = slots_[key];
      if (s.logged && now - s.last < interval_) {
        ++s.suppressed;
        return;
      }
      s.logged = true;
      s.last = now;
      suppressed = s.suppressed;
      s.suppressed = 0;
    }
    if (suppressed > 0) {
      spdlog::warn("{} ({} similar suppressed)", message, suppressed);
    } else {
      spdlog::warn("{}", message);
    }
  }

 private:
  struct Slot {
    bool logged = false;
    std::chrono::steady_clock::time_point last;
    int64_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::map<std::string, Slot> slots_;
};

}  // namespace sentinelle::collector
