#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>

#include "sentinelle/sensor_line.h"

namespace sentinelle::agent::test {

namespace {
// Triangle wave 20, 19, ..., 0, 1, ..., 20: consecutive windows always differ
// by one step, so no spike and no stuck sensor.
double Tri(int w) { return std::abs((w % 40) - 20); }
}  // namespace

double ValueFor(Variable v, int w) {
  switch (v) {
    case Variable::kTemperatureC: return 20.0 + 0.25 * Tri(w);
    case Variable::kHumidityPct: return 40.0 + Tri(w);
    case Variable::kPressureHpa: return 1000.0 + 0.5 * Tri(w);
    case Variable::kWindSpeedMs: return 2.0 + 0.1 * Tri(w);
    case Variable::kWindDirDeg: return 5.0 + 10.0 * (w % 36);
    case Variable::kRainMm: return 0.0;
    case Variable::kPm25: return 10.0 + 0.5 * (w % 40);
    case Variable::kPm10: return 20.0 + 0.5 * (w % 40);
    case Variable::kNo2: return 30.0 + 0.5 * (w % 40);
    case Variable::kO3: return 40.0 + 0.5 * (w % 40);
    case Variable::kSo2: return 5.0 + 0.5 * (w % 40);
    case Variable::kCo: return 0.5 + 0.01 * (w % 40);
  }
  return 0;
}

std::vector<std::string> WindowLines(int w) {
  std::array<double, kVariableCount> values{};
  std::array<bool, kVariableCount> present{};
  present.fill(true);
  for (const auto& info : Variables()) {
    values[static_cast<int>(info.variable)] = ValueFor(info.variable, w);
  }
  std::vector<std::string> out;
  for (int k = 0; k < kSamplesPerWindow; ++k) {
    out.push_back(EncodeSensorLine(kT0Ms + int64_t{w} * 300000 + int64_t{k} * 60000, values,
                                   present));
  }
  return out;
}

std::string TickClosing(int w) { return EncodeClockTick(kT0Ms + int64_t{w} * 300000 + 30000); }

std::vector<std::string> Burst(int first, int count) {
  std::vector<std::string> out;
  for (int w = first; w < first + count; ++w) {
    auto l = WindowLines(w);
    out.insert(out.end(), l.begin(), l.end());
  }
  out.push_back(TickClosing(first + count));
  return out;
}

AgentConfig TestConfig(const std::string& station, const std::string& broker_uri,
                       const std::string& db_path) {
  AgentConfig c;
  c.station_id = station;
  c.clock.source = ClockSource::kInput;
  c.input.kind = InputKind::kNone;
  c.store.path = db_path;
  c.mqtt.uri = broker_uri;
  c.mqtt.client_id = "agent-" + station;
  c.mqtt.reconnect_min_ms = 100;
  c.mqtt.reconnect_max_ms = 400;
  c.mqtt.connect_timeout_s = 5;
  c.mqtt.shutdown_flush_ms = 2000;
  c.mqtt.ack_timeout_ms = 3000;
  c.metrics.listen = "127.0.0.1:0";
  return c;
}

std::string ScrapeMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

}  // namespace sentinelle::agent::test
