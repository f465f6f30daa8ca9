// Running the real sentinelle-sim binary, and a minimal line-collecting
// server standing in for the agent's TCP/UNIX listener.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace sentinelle::sim::testing {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

inline RunResult RunSim(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  sentinelle::testing::TempDir dir;
  std::vector<std::string> argv = {sentinelle::testing::BinPath("sentinelle-sim")};
  argv.insert(argv.end(), args.begin(), args.end());
  sentinelle::testing::ChildProcess p(argv, dir.File("log"));
  RunResult r;
  if (!p.Start()) return r;
  r.exit_code = p.Wait(timeout);
  r.output = p.Log();
  return r;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Accepts one connection at a time and collects everything received.
class LineServer {
 public:
  // TCP on 127.0.0.1:port when unix_path is empty, else a UNIX socket.
  // With close_after_bytes > 0 the first connection is closed by the server
  // once that much arrived (an agent that goes away); later ones are kept.
  explicit LineServer(int port, const std::string& unix_path = "", size_t close_after_bytes = 0)
      : close_after_bytes_(close_after_bytes) {
    if (unix_path.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path.c_str());
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    }
    ok_ = ok_ && ::listen(fd_, 4) == 0;
    if (ok_) thread_ = std::thread([this] { Loop(); });
  }
  ~LineServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return ok_; }
  std::string Received() {
    std::lock_guard<std::mutex> l(mu_);
    return data_;
  }
  int connections() const { return connections_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      const bool first = ++connections_ == 1;
      char buf[65536];
      ssize_t n;
      size_t got = 0;
      while ((n = ::read(c, buf, sizeof(buf))) > 0) {
        std::lock_guard<std::mutex> l(mu_);
        data_.append(buf, static_cast<size_t>(n));
        got += static_cast<size_t>(n);
        if (first && close_after_bytes_ > 0 && got >= close_after_bytes_) break;
      }
      ::close(c);
    }
  }
  size_t close_after_bytes_ = 0;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::mutex mu_;
  std::string data_;
};

}  // namespace sentinelle::sim::testing
