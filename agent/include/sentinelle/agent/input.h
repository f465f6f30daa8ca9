// Input: the sensor line sources (stdin, a UNIX stream socket server, or a
// TCP server on 127.0.0.1), split into lines of at most kMaxSensorLineBytes.
//
// Run() blocks on the calling thread and calls the handlers there; Stop() may
// be called from any thread. A line longer than the limit is never buffered
// whole: the bytes up to its newline are discarded and on_oversize is called
// once. Sockets accept up to max_clients connections at a time; more are
// closed at once (counted through on_oversize with reason "overflow").
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sentinelle/agent/config.h"
#include "sentinelle/result.h"

namespace sentinelle::agent {

class Input {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  using RejectHandler = std::function<void(std::string_view reason)>;

  // Binds the socket (unix/tcp) or takes stdin. kNone gives an input whose
  // Run() only waits for Stop().
  static Result<std::unique_ptr<Input>> Open(const InputConfig& config);
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  // Returns after Stop(), or at end of stdin.
  void Run(const LineHandler& on_line, const RejectHandler& on_reject);
  void Stop();

  int port() const { return port_; }  // bound TCP port (tcp input)
  bool reached_eof() const { return eof_.load(); }

 private:
  explicit Input(InputConfig config) : config_(std::move(config)) {}

  InputConfig config_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> eof_{false};
};

}  // namespace sentinelle::agent
