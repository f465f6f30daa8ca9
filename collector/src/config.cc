#include "sentinelle/collector/config.h"

#include <algorithm>

namespace sentinelle::collector {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kViewer: return "viewer";
    case Role::kDataScientist: return "data_scientist";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

namespace {

template <typename T>
T Positive(ConfigReader& r, const std::string& key, T fallback) {
  T v = r.Get<T>(key, fallback);
  if (!(v > 0)) throw ConfigError(r.source() + ": " + key + " must be positive");
  return v;
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

CollectorConfig LoadCollectorConfig(ConfigReader& r) {
  CollectorConfig c;
  c.db_path = r.Get<std::string>("store.path", c.db_path);
  c.db_synchronous = r.Get<std::string>("store.synchronous", c.db_synchronous);
  if (c.db_synchronous != "NORMAL" && c.db_synchronous != "FULL") {
    throw ConfigError(r.source() + ": store.synchronous must be NORMAL or FULL");
  }
  c.reader_connections = Positive(r, "store.reader_connections", c.reader_connections);

  MqttConfig& m = c.mqtt;
  m.uri = r.Get<std::string>("mqtt.uri", m.uri);
  m.client_id = r.Get<std::string>("mqtt.client_id", m.client_id);
  m.topic_prefix = r.Get<std::string>("mqtt.topic_prefix", m.topic_prefix);
  m.shared_group = r.Get<std::string>("mqtt.shared_group", m.shared_group);
  if (m.shared_group.find_first_of("/+#") != std::string::npos) {
    throw ConfigError(r.source() + ": mqtt.shared_group must not contain '/', '+' or '#'");
  }
  m.username = r.Get<std::string>("mqtt.username", m.username);
  m.password = r.Get<std::string>("mqtt.password", m.password);
  m.ca_file = r.Get<std::string>("mqtt.ca_file", m.ca_file);
  m.keepalive_s = Positive(r, "mqtt.keepalive_s", m.keepalive_s);
  m.session_expiry_s = r.Get<int>("mqtt.session_expiry_s", m.session_expiry_s);
  m.max_inflight = Positive(r, "mqtt.max_inflight", m.max_inflight);

  IngestConfig& i = c.ingest;
  i.queue_capacity = Positive(r, "ingest.queue_capacity", i.queue_capacity);
  i.enqueue_timeout_ms = r.Get<int>("ingest.enqueue_timeout_ms", i.enqueue_timeout_ms);
  i.max_batch_readings = Positive(r, "ingest.max_batch_readings", i.max_batch_readings);
  i.decoder_threads = Positive(r, "ingest.decoder_threads", i.decoder_threads);
  i.future_tolerance_s = r.Get<int>("ingest.future_tolerance_s", i.future_tolerance_s);
  i.clock_tolerance_s = Positive(r, "ingest.clock_tolerance_s", i.clock_tolerance_s);
  i.require_registered = r.Get<bool>("ingest.require_registered", i.require_registered);

  GapConfig& g = c.gaps;
  g.grace_s = r.Get<int>("gaps.grace_s", g.grace_s);
  g.retry_s = r.Get<int>("gaps.retry_s", g.retry_s);
  g.max_attempts = Positive(r, "gaps.max_attempts", g.max_attempts);
  g.max_range = Positive(r, "gaps.max_range", g.max_range);
  g.max_requests_per_s = Positive(r, "gaps.max_requests_per_s", g.max_requests_per_s);
  g.request_offline = r.Get<bool>("gaps.request_offline", g.request_offline);

  HealthConfig& h = c.health;
  h.silent_after_intervals = Positive(r, "health.silent_after_intervals", h.silent_after_intervals);
  h.offline_after_intervals =
      Positive(r, "health.offline_after_intervals", h.offline_after_intervals);
  h.qc_alarm_rate = Positive(r, "health.qc_alarm_rate", h.qc_alarm_rate);
  h.fallback_degraded_rate = Positive(r, "health.fallback_degraded_rate", h.fallback_degraded_rate);
  h.model_stale_s = r.Get<int>("health.model_stale_s", h.model_stale_s);
  h.recent_readings = Positive(r, "health.recent_readings", h.recent_readings);

  HttpConfig& w = c.http;
  w.enabled = r.Get<bool>("http.enabled", w.enabled);
  w.listen = r.Get<std::string>("http.listen", w.listen);
  w.threads = Positive(r, "http.threads", w.threads);
  w.request_timeout_ms = Positive(r, "http.request_timeout_ms", w.request_timeout_ms);
  w.max_body_bytes = static_cast<size_t>(
      Positive<int64_t>(r, "http.max_body_bytes", static_cast<int64_t>(w.max_body_bytes)));
  w.max_query_rows = Positive(r, "http.max_query_rows", w.max_query_rows);
  w.metrics_public = r.Get<bool>("http.metrics_public", w.metrics_public);
  w.read_public = r.Get<bool>("http.read_public", w.read_public);
  if (const nlohmann::json* tokens = r.Raw("http.tokens")) {
    if (!tokens->is_array()) throw ConfigError(r.source() + ": http.tokens must be an array");
    for (size_t k = 0; k < tokens->size(); ++k) {
      const std::string where = r.source() + ": http.tokens[" + std::to_string(k) + "]";
      const auto& t = (*tokens)[k];
      if (!t.is_object()) throw ConfigError(where + " must be an object");
      for (auto it = t.begin(); it != t.end(); ++it) {
        if (it.key() != "name" && it.key() != "sha256" && it.key() != "role") {
          throw ConfigError(where + ": unknown key '" + it.key() + "'");
        }
      }
      TokenEntry e;
      if (!t.contains("name") || !t["name"].is_string() || !t.contains("sha256") ||
          !t["sha256"].is_string() || !t.contains("role") || !t["role"].is_string()) {
        throw ConfigError(where + " needs string fields name, sha256 and role");
      }
      e.name = t["name"].get<std::string>();
      e.sha256 = t["sha256"].get<std::string>();
      if (!IsHex64(e.sha256)) {
        throw ConfigError(where + ".sha256 must be 64 lowercase hex characters");
      }
      const std::string role = t["role"].get<std::string>();
      if (role == "viewer") e.role = Role::kViewer;
      else if (role == "data_scientist") e.role = Role::kDataScientist;
      else if (role == "admin") e.role = Role::kAdmin;
      else throw ConfigError(where + ".role must be viewer, data_scientist or admin");
      w.tokens.push_back(std::move(e));
    }
  }

  LoadTrainingConfig(r, c.db_path, c.training, c.models);
  LoadMonitoringConfig(r, c.monitoring);

  c.log.level = r.Get<std::string>("log.level", c.log.level);
  c.log.json = r.Get<bool>("log.json", c.log.json);
  c.log.name = "collector";
  r.RejectUnknown();
  return c;
}

CollectorConfig LoadCollectorConfigFile(const std::string& path) {
  ConfigReader r = ConfigReader::FromFile(path);
  return LoadCollectorConfig(r);
}

}  // namespace sentinelle::collector
