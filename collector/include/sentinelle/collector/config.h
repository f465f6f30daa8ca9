// Collector configuration (configs/collector.example.json documents every key;
// docs/OPERATIONS.md, "Collector", explains them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sentinelle/collector/monitoring_config.h"
#include "sentinelle/collector/training_config.h"
#include "sentinelle/config.h"
#include "sentinelle/log.h"

namespace sentinelle::collector {

enum class Role { kViewer, kDataScientist, kAdmin };
std::string_view RoleName(Role r);

struct TokenEntry {
  std::string name;     // who holds it, for logs; never the token itself
  std::string sha256;   // lowercase hex SHA-256 of the bearer token
  Role role = Role::kViewer;
};

struct MqttConfig {
  std::string uri = "tcp://127.0.0.1:1883";
  std::string client_id = "sentinelle-collector";
  std::string topic_prefix = "sentinelle/v1";
  // Non-empty: subscribe through `$share/{shared_group}/...` so several
  // collectors split the stream (MQTT v5 shared subscription).
  std::string shared_group;
  std::string username;
  std::string password;
  std::string ca_file;  // non-empty: TLS with this CA
  int keepalive_s = 30;
  int session_expiry_s = 86400;  // broker keeps our subscriptions and queued messages this long
  // Outgoing QoS 1 messages (acks, commands) in flight at once; above this
  // acks are coalesced per station until deliveries complete.
  int max_inflight = 64;
};

struct IngestConfig {
  // Messages waiting for the writer; a full queue blocks the MQTT callback
  // up to enqueue_timeout_ms, then drops the message (counted; the gap
  // ledger recovers it by backfill since the agent still holds it).
  int queue_capacity = 20000;
  int enqueue_timeout_ms = 1000;
  // Group commit: the writer takes everything queued (up to
  // max_batch_readings readings) into one transaction; while it commits, the
  // next batch accumulates, so batches grow with the load.
  int max_batch_readings = 20000;
  // Threads decoding and validating payloads off the MQTT callback thread.
  // Stations are sharded over them (one station always goes to the same
  // thread), so each station's messages keep their order.
  int decoder_threads = 2;
  // Readings whose window ends later than arrival + future_tolerance_s are rejected.
  int future_tolerance_s = 300;
  // Live readings whose window end differs from their arrival time by more
  // than clock_tolerance_s are flagged "skew" for the station.
  int clock_tolerance_s = 600;
  // Readings from stations absent from the registry: accepted and the station
  // auto-registered (false) or rejected (true).
  bool require_registered = false;
};

struct GapConfig {
  // A gap is only requested once it is older than grace_s (out-of-order
  // delivery and agents' own replays close most gaps by themselves).
  int grace_s = 60;
  int retry_s = 120;            // between two requests for the same gap
  int max_attempts = 3;         // then the gap is closed as "lost"
  int max_range = 1000;         // seqs per backfill command
  double max_requests_per_s = 20;  // network-wide rate limit of backfill commands
  bool request_offline = false;  // send requests to stations whose status is offline
};

struct HealthConfig {
  // Silent: online (or unknown) but no reading for silent_after_intervals
  // times the station's interval.
  double silent_after_intervals = 3.0;
  // Offline with no status: no reading for offline_after_intervals intervals.
  double offline_after_intervals = 12.0;
  double qc_alarm_rate = 0.25;       // fraction of non-ok values over recent readings
  double fallback_degraded_rate = 0.5;  // fraction of predictions served by a fallback
  int model_stale_s = 7 * 86400;     // a reported model older than the current one for this long
  int recent_readings = 36;          // window of the QC / fallback rates (EWMA span)
};

struct HttpConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:8080";
  int threads = 4;
  int request_timeout_ms = 10000;
  size_t max_body_bytes = 16u << 20;   // POST bodies (CSV import)
  int max_query_rows = 100000;         // rows per readings/predictions query
  bool metrics_public = true;          // /metrics without a token (Prometheus scrape)
  bool read_public = false;            // GET /api/v1/... without a token
  std::vector<TokenEntry> tokens;
};

struct CollectorConfig {
  std::string db_path = "collector.db";
  std::string db_synchronous = "NORMAL";  // WAL + NORMAL: durable across process crashes
  int reader_connections = 4;
  MqttConfig mqtt;
  IngestConfig ingest;
  GapConfig gaps;
  HealthConfig health;
  HttpConfig http;
  TrainingConfig training;  // trainer, jobs, triggers
  ModelsConfig models;      // registry, artifacts, signing key, distribution
  MonitoringConfig monitoring;  // live accuracy, drift, alarms (docs/MONITORING.md)
  LogConfig log;
};

// Reads every key, then rejects unknown ones. Throws ConfigError.
CollectorConfig LoadCollectorConfig(ConfigReader& reader);
CollectorConfig LoadCollectorConfigFile(const std::string& path);

}  // namespace sentinelle::collector
