// Test support: temporary directories, free loopback ports, child processes.
// Real processes, real sockets; nothing here is a mock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sentinelle::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction
// (kept when SENTINELLE_KEEP_TMP is set, for post-mortems).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();
// True when something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port);

// How much longer waits should be in this build: 4 under AddressSanitizer
// (code runs 2-5x slower), else 1; SENTINELLE_TEST_TIME_SCALE overrides it.
// WaitFor and ChildProcess::Wait apply it; tests with their own deadlines
// multiply by it.
int TimeScale();

// Polls `cond` every 10 ms until it is true or `timeout` (times TimeScale())
// passes.
bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A child process whose stdout+stderr go to a log file. Killed (SIGKILL) on
// destruction if still running.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts with stdin connected to a pipe when pipe_stdin is set.
  bool Start(bool pipe_stdin = false);
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit code, 128+signal when killed, -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Kill() { Signal(9); Wait(); }
  // Writes to the child's stdin (pipe_stdin). Returns false when the pipe is gone.
  bool WriteStdin(const std::string& data);
  void CloseStdin();
  std::string Log() const;
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
};

// Path of a project binary in the build tree.
std::string BinPath(const std::string& name);

}  // namespace sentinelle::testing
