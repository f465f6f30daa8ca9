// ResettableRelay: a loopback TCP relay to a local port (a test broker) that
// a test can reset at any moment: every open connection then ends with an
// RST on both sides, as when a station's link or a NAT drops it. New
// connections are relayed as before. Writes never block, so a reset always
// gets through.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace sentinelle::testing {

class ResettableRelay {
 public:
  explicit ResettableRelay(int target_port);
  ~ResettableRelay();
  ResettableRelay(const ResettableRelay&) = delete;
  ResettableRelay& operator=(const ResettableRelay&) = delete;

  int port() const { return port_; }  // 0 when the relay could not listen
  // Resets every open connection; returns once all of them are closed
  // (false after 10 s, times TimeScale()). Connections made meanwhile are
  // relayed.
  bool Reset();

 private:
  void AcceptLoop();
  void Relay(int client, int upstream, int gen);
  int OpenBefore(int gen);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> generation_{0};
  std::mutex mu_;
  std::map<int, int> open_;  // open connections by the generation they started in
  std::thread acceptor_;
  std::vector<std::thread> relays_;  // touched by the acceptor only, joined after it
};

// Runs `step` over and over on its own thread (a load generator: a publish
// flood while a relay resets the link) until Stop() or destruction. `step`
// returns false when it could not make progress; the loop then sleeps
// 200 us before the next call.
class RepeatingThread {
 public:
  explicit RepeatingThread(std::function<bool()> step);
  ~RepeatingThread() { Stop(); }
  RepeatingThread(const RepeatingThread&) = delete;
  RepeatingThread& operator=(const RepeatingThread&) = delete;
  void Stop();

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace sentinelle::testing
