#include "sentinelle/agent/config.h"

#include "sentinelle/config.h"
#include "sentinelle/topics.h"

namespace sentinelle::agent {

namespace {

[[noreturn]] void Bad(const std::string& source, const std::string& key, const std::string& what) {
  throw ConfigError(source + ": " + key + " " + what);
}

template <typename T>
T InRange(ConfigReader& r, const std::string& key, T fallback, T lo, T hi) {
  const T v = r.Get<T>(key, fallback);
  if (v < lo || v > hi) {
    Bad(r.source(), key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

}  // namespace

namespace {

AgentConfig Parse(ConfigReader& r) {
  const std::string& source = r.source();
  AgentConfig c;
  c.station_id = r.Require<std::string>("station_id");
  if (!IsValidStationId(c.station_id)) Bad(source, "station_id", "must match [a-z0-9_-]{1,64}");
  c.topic_prefix = r.Get<std::string>("topic_prefix", c.topic_prefix);
  if (c.topic_prefix.empty() || c.topic_prefix.find_first_of("#+") != std::string::npos) {
    Bad(source, "topic_prefix", "must be non-empty and free of MQTT wildcards");
  }

  const auto clock = r.Get<std::string>("clock.source", "system");
  if (clock == "system") c.clock.source = ClockSource::kSystem;
  else if (clock == "input") c.clock.source = ClockSource::kInput;
  else Bad(source, "clock.source", "must be \"system\" or \"input\"");
  c.clock.assume_synced = r.Get<bool>("clock.assume_synced", false);

  const auto input = r.Get<std::string>("input.kind", "stdin");
  if (input == "stdin") c.input.kind = InputKind::kStdin;
  else if (input == "unix") c.input.kind = InputKind::kUnix;
  else if (input == "tcp") c.input.kind = InputKind::kTcp;
  else if (input == "none") c.input.kind = InputKind::kNone;
  else Bad(source, "input.kind", "must be \"stdin\", \"unix\", \"tcp\" or \"none\"");
  c.input.unix_path = r.Get<std::string>("input.unix_path", "");
  if (c.input.kind == InputKind::kUnix && c.input.unix_path.empty()) {
    Bad(source, "input.unix_path", "is required when input.kind is \"unix\"");
  }
  if (c.input.unix_path.size() > 100) Bad(source, "input.unix_path", "is too long for a socket");
  c.input.tcp_port = InRange(r, "input.tcp_port", 0, 0, 65535);
  c.input.max_clients = InRange(r, "input.max_clients", 8, 1, 256);
  c.input.max_future_s = InRange<int64_t>(r, "input.max_future_s", 300, 0, 86400 * 366);
  c.input.max_past_s = InRange<int64_t>(r, "input.max_past_s", 86400, 0, 86400 * 366 * 10);
  c.input.exit_on_eof = r.Get<bool>("input.exit_on_eof", false);

  c.aggregation.interval_s = InRange(r, "aggregation.interval_s", 300, 10, 86400);
  c.aggregation.grace_s = InRange<int64_t>(r, "aggregation.grace_s", 30, 0, 86400);
  c.aggregation.max_open_windows = InRange(r, "aggregation.max_open_windows", 24, 1, 10000);
  c.aggregation.max_gap_windows = InRange(r, "aggregation.max_gap_windows", 288, 0, 1000000);

  c.qc.stuck_windows = InRange(r, "qc.stuck_windows", 6, 2, 10000);
  c.qc.stuck_epsilon = InRange(r, "qc.stuck_epsilon", 1e-9, 0.0, 1e6);
  c.qc.stuck_ignores_zero = r.Get<bool>("qc.stuck_ignores_zero", true);

  c.store.path = r.Get<std::string>("store.path", c.store.path);
  c.store.db.wal = r.Get<bool>("store.wal", true);
  c.store.db.synchronous = r.Get<std::string>("store.synchronous", "FULL");
  if (c.store.db.synchronous != "FULL" && c.store.db.synchronous != "NORMAL" &&
      c.store.db.synchronous != "EXTRA") {
    Bad(source, "store.synchronous", "must be FULL, EXTRA or NORMAL");
  }
  c.store.db.cache_kib = InRange(r, "store.cache_kib", 512, 64, 1 << 20);
  c.store.max_rows = InRange<int64_t>(r, "store.max_rows", c.store.max_rows, 10, int64_t{1} << 40);
  c.store.max_bytes =
      InRange<int64_t>(r, "store.max_bytes", c.store.max_bytes, 4096, int64_t{1} << 50);
  c.store.max_pending_commits = InRange(r, "store.max_pending_commits", 1000, 1, 1000000);

  c.mqtt.uri = r.Get<std::string>("mqtt.uri", c.mqtt.uri);
  c.mqtt.client_id = r.Get<std::string>("mqtt.client_id", "sentinelle-agent-" + c.station_id);
  c.mqtt.username = r.Get<std::string>("mqtt.username", "");
  c.mqtt.password = r.Get<std::string>("mqtt.password", "");
  const bool tls = IsTlsMqttUri(c.mqtt.uri);
  if (!tls && c.mqtt.uri.rfind("tcp://", 0) != 0 && c.mqtt.uri.rfind("mqtt://", 0) != 0) {
    Bad(source, "mqtt.uri", "must start with tcp://, mqtt://, ssl:// or mqtts://");
  }
  c.mqtt.ca_file = r.Get<std::string>("mqtt.ca_file", "");
  c.mqtt.cert_file = r.Get<std::string>("mqtt.cert_file", "");
  c.mqtt.key_file = r.Get<std::string>("mqtt.key_file", "");
  if (tls && c.mqtt.ca_file.empty()) {
    Bad(source, "mqtt.ca_file", "is required with an ssl:// or mqtts:// mqtt.uri");
  }
  if (!tls && !(c.mqtt.ca_file.empty() && c.mqtt.cert_file.empty() && c.mqtt.key_file.empty())) {
    Bad(source, "mqtt.ca_file", "(and cert_file, key_file) need an ssl:// or mqtts:// mqtt.uri");
  }
  if (c.mqtt.cert_file.empty() != c.mqtt.key_file.empty()) {
    Bad(source, c.mqtt.cert_file.empty() ? "mqtt.cert_file" : "mqtt.key_file",
        "is required when the other of mqtt.cert_file / mqtt.key_file is set");
  }
  c.mqtt.keepalive_s = InRange(r, "mqtt.keepalive_s", 30, 2, 3600);
  c.mqtt.connect_timeout_s = InRange(r, "mqtt.connect_timeout_s", 10, 1, 600);
  c.mqtt.batch_max_readings = InRange(r, "mqtt.batch_max_readings", 500, 1, 1000);
  c.mqtt.max_inflight_messages = InRange(r, "mqtt.max_inflight_messages", 8, 1, 1000);
  c.mqtt.window_readings = InRange(r, "mqtt.window_readings", 5000, 1, 10000000);
  c.mqtt.ack_timeout_ms = InRange<int64_t>(r, "mqtt.ack_timeout_ms", 60000, 100, 86400000);
  c.mqtt.ack_timeout_max_ms =
      InRange<int64_t>(r, "mqtt.ack_timeout_max_ms", 600000, 100, 86400000);
  if (c.mqtt.ack_timeout_max_ms < c.mqtt.ack_timeout_ms) {
    Bad(source, "mqtt.ack_timeout_max_ms", "must be >= mqtt.ack_timeout_ms");
  }
  c.mqtt.reconnect_min_ms = InRange<int64_t>(r, "mqtt.reconnect_min_ms", 500, 10, 3600000);
  c.mqtt.reconnect_max_ms = InRange<int64_t>(r, "mqtt.reconnect_max_ms", 60000, 10, 3600000);
  if (c.mqtt.reconnect_max_ms < c.mqtt.reconnect_min_ms) {
    Bad(source, "mqtt.reconnect_max_ms", "must be >= mqtt.reconnect_min_ms");
  }
  c.mqtt.status_interval_s = InRange<int64_t>(r, "mqtt.status_interval_s", 60, 1, 86400);
  c.mqtt.shutdown_flush_ms = InRange<int64_t>(r, "mqtt.shutdown_flush_ms", 3000, 0, 600000);

  c.metrics.listen = r.Get<std::string>("metrics.listen", c.metrics.listen);
  c.log.level = r.Get<std::string>("log.level", "info");
  c.log.json = r.Get<bool>("log.json", false);
  c.log.name = "agent";
  if (const nlohmann::json* p = r.Raw("prediction")) {
    if (!p->is_object()) Bad(source, "prediction", "must be an object");
    c.prediction = *p;
  }
  if (const nlohmann::json* u = r.Raw("updater")) {
    if (!u->is_object()) Bad(source, "updater", "must be an object");
    c.updater = *u;
  }
  r.RejectUnknown();
  return c;
}

}  // namespace

bool IsTlsMqttUri(const std::string& uri) {
  return uri.rfind("ssl://", 0) == 0 || uri.rfind("mqtts://", 0) == 0;
}

AgentConfig ParseAgentConfig(const nlohmann::json& root, const std::string& source) {
  ConfigReader r(root, source);
  return Parse(r);
}

AgentConfig LoadAgentConfig(const std::string& path) {
  ConfigReader r = ConfigReader::FromFile(path);
  return Parse(r);
}

}  // namespace sentinelle::agent
