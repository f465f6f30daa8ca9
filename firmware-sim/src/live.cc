#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include "line_sink.h"
#include "sentinelle/env.h"
#include "sentinelle/sim/engine.h"

namespace sentinelle::sim {

namespace {

class StdoutSink final : public LineSink {
 public:
  bool Send(const std::string& data) override {
    return std::fwrite(data.data(), 1, data.size(), stdout) == data.size() &&
           std::fflush(stdout) == 0;
  }
  bool Connected() override { return true; }
  bool Reconnect() override { return false; }
};

class SocketSink final : public LineSink {
 public:
  SocketSink(bool unix_socket, std::string path, int port)
      : unix_(unix_socket), path_(std::move(path)), port_(port) {}
  ~SocketSink() override { Close(); }

  bool Send(const std::string& data) override {
    if (fd_ < 0) return false;
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Close();
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Connected() override { return fd_ >= 0; }
  bool Reconnect() override {
    Close();
    const int fd = ::socket(unix_ ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int rc;
    if (unix_) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    }
    if (rc != 0) {
      ::close(fd);
      return false;
    }
    fd_ = fd;
    return true;
  }

 private:
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool unix_;
  std::string path_;
  int port_;
  int fd_ = -1;
};

}  // namespace

Result<std::unique_ptr<LineSink>> MakeLineSink(const std::string& target) {
  if (target == "stdout" || target == "-") return std::unique_ptr<LineSink>(new StdoutSink());
  if (target.rfind("unix:", 0) == 0) {
    const std::string path = target.substr(5);
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
      return MakeError("--to '" + target + "': a UNIX socket path of 1 to " +
                       std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes is needed");
    }
    return std::unique_ptr<LineSink>(new SocketSink(true, path, 0));
  }
  if (target.rfind("tcp:", 0) == 0) {
    std::string rest = target.substr(4);
    // Loopback only: the agent listens on 127.0.0.1.
    for (const char* host : {"127.0.0.1:", "localhost:"}) {
      if (rest.rfind(host, 0) == 0) rest = rest.substr(std::strlen(host));
    }
    int port = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
    if (ec != std::errc() || p != rest.data() + rest.size() || port < 1 || port > 65535) {
      return MakeError("--to '" + target +
                       "': expected tcp:PORT or tcp:127.0.0.1:PORT with a port in 1..65535");
    }
    return std::unique_ptr<LineSink>(new SocketSink(false, "", port));
  }
  return MakeError("--to '" + target + "': expected stdout, tcp:[127.0.0.1:]PORT or unix:PATH");
}

Result<LiveStats> RunLive(const Scenario& sc, const LiveOptions& options) {
  Status valid = ValidateScenario(sc);
  if (!valid.ok()) return valid.error();
  if (options.sample_s <= 0) return MakeError("--sample-s must be positive");
  if (options.tick_s < 0) return MakeError("--tick-s must be 0 or positive");
  const StationSpec* spec = &sc.stations.front();
  if (!options.station.empty()) {
    auto it = std::find_if(sc.stations.begin(), sc.stations.end(),
                           [&](const StationSpec& s) { return s.id == options.station; });
    if (it == sc.stations.end()) {
      return MakeError("--station '" + options.station + "' is not in the network");
    }
    spec = &*it;
  }
  auto sink_or = MakeLineSink(options.target);
  if (!sink_or) return sink_or.error();
  LineSink& sink = **sink_or;
  if (!sink.Connected()) {
    const int64_t deadline = RealMonotonicMs() + static_cast<int64_t>(options.connect_timeout_s * 1000);
    while (!sink.Reconnect()) {
      if (RealMonotonicMs() >= deadline || (options.stop && options.stop->load())) {
        return MakeError("cannot connect to " + options.target + " within " +
                         std::to_string(static_cast<int>(options.connect_timeout_s)) +
                         " s: " + std::strerror(errno));
      }
      Env::Default()->SleepMs(50);
    }
  }

  auto log = TruthLog::Open(options.truth_log);
  if (!log) return log.error();
  for (const Regime& r : sc.regimes) {
    if (r.station == "*" || r.station == spec->id) (*log)->WriteRegime(r);
  }

  WeatherModel weather(sc.seed, sc.start_s);
  StationModel model(*spec, sc.seed, sc.regimes, options.sample_s);
  FaultInjector injector(spec->id, sc.faults, DeriveSeed(sc.seed, 0x11FE), log->get(), true);
  AcceleratedEnv clock(sc.start_s * 1000, options.speed > 0 ? options.speed : 1);

  LiveStats stats;
  std::string pending;
  int64_t pending_lines = 0;
  int64_t last_retry_ms = 0;
  auto flush = [&]() {
    if (pending.empty()) return;
    if (!sink.Connected()) {
      const int64_t now = RealMonotonicMs();
      if (now - last_retry_ms >= 200) {
        last_retry_ms = now;
        if (sink.Reconnect()) ++stats.reconnects;
      }
    }
    if (sink.Connected() && sink.Send(pending)) {
      stats.lines += pending_lines;
    } else {
      stats.dropped_lines += pending_lines;
    }
    pending.clear();
    pending_lines = 0;
  };
  auto add = [&](const std::string& line) {
    pending += line;
    pending += '\n';
    ++pending_lines;
    if (pending.size() > (64 << 10)) flush();
  };
  auto wait_until = [&](int64_t sim_ms) {
    if (options.speed <= 0) return;
    const int64_t ahead = sim_ms - clock.WallMs();
    if (ahead > 0) {
      flush();
      clock.SleepMs(ahead);
    }
  };

  std::vector<Emission> emitted;
  Values truth;
  const int64_t end_s = sc.duration_s > 0 ? sc.start_s + sc.duration_s : INT64_MAX;
  int64_t next_tick = options.tick_s > 0 ? sc.start_s + options.tick_s : INT64_MAX;
  for (int64_t t = sc.start_s + options.sample_s; t <= end_s; t += options.sample_s) {
    if (options.stop != nullptr && options.stop->load()) break;
    while (next_tick < t) {
      wait_until(next_tick * 1000);
      add(EncodeClockTick(next_tick * 1000));
      next_tick += options.tick_s;
    }
    wait_until(t * 1000);
    weather.Step(t, options.sample_s);
    model.Step(t, options.sample_s, weather.state(), &truth);
    emitted.clear();
    if (const FaultSpec* power = injector.Apply(t, truth, &emitted)) {
      flush();
      if (power->partial_line) {
        Emission e;
        e.ts_s = t;
        e.values = truth;
        e.state.fill(SampleState::kValue);
        const std::string line = SensorLineFor(e);
        (void)sink.Send(line.substr(0, line.size() / 2));
      }
      // Power loss: no destructors, no flush, no goodbye.
      ::raise(SIGKILL);
      ::_exit(137);
    }
    for (const Emission& e : emitted) add(SensorLineFor(e));
    if (next_tick == t) {
      add(EncodeClockTick(t * 1000));
      next_tick += options.tick_s;
    }
  }
  emitted.clear();
  injector.Flush(&emitted);
  for (const Emission& e : emitted) add(SensorLineFor(e));
  flush();
  return stats;
}

}  // namespace sentinelle::sim
