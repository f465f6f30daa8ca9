// Agent configuration (JSON, every key documented in configs/agent.example.json
// and docs/OPERATIONS.md, "Agent"). Unknown keys are rejected at start-up,
// except inside the opaque `prediction` and `updater` sub-objects, which are
// handed as-is to the on-station prediction code and the model updater.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "sentinelle/log.h"
#include "sentinelle/qc.h"
#include "sentinelle/sqlite.h"

namespace sentinelle::agent {

enum class ClockSource { kSystem, kInput };
enum class InputKind { kNone, kStdin, kUnix, kTcp };

struct ClockConfig {
  ClockSource source = ClockSource::kSystem;
  // Trust the system clock even when the kernel reports no NTP state (hosts
  // with a battery RTC and no NTP daemon). Readings then say source "rtc".
  bool assume_synced = false;
};

struct InputConfig {
  InputKind kind = InputKind::kStdin;
  std::string unix_path;      // kUnix: socket path (created, removed on exit)
  int tcp_port = 0;           // kTcp: port on 127.0.0.1 (0 = ephemeral, see Input::port())
  int max_clients = 8;        // concurrent socket connections
  // Acceptance window for sample timestamps relative to the agent's clock.
  int64_t max_future_s = 300;
  int64_t max_past_s = 86400;
  bool exit_on_eof = false;   // kStdin: shut down gracefully at end of input
};

struct AggregationConfig {
  int32_t interval_s = 300;
  // A window [end - interval, end) closes when the clock passes end + grace_s.
  // Samples for an already closed window are late: dropped and counted.
  int64_t grace_s = 30;
  // Windows kept open at once (clock not trusted, or samples ahead of the clock).
  int max_open_windows = 24;
  // Consecutive windows without any sample are still published (all
  // variables "missing") up to this many; a longer gap is logged and skipped.
  int max_gap_windows = 288;
};

struct StoreConfig {
  std::string path = "agent.db";
  DbOptions db;                  // WAL + synchronous=FULL, 512 KiB page cache by default
  int64_t max_rows = 100000;     // budget: stored readings (confirmed + unconfirmed)
  int64_t max_bytes = 256LL << 20;  // budget: stored payload bytes
  // Closed windows whose commit failed (disk full/IO error) are kept in
  // memory and retried; beyond this many the oldest is dropped and counted.
  int max_pending_commits = 1000;
  // When true (with WAL and synchronous FULL or EXTRA), confirmations are
  // committed without an fsync of their own (synchronous NORMAL for that
  // transaction): a confirmation lost on power failure makes readings go out
  // again (a duplicate the contract allows) and turns confirmed readings back
  // into unconfirmed ones for the disk-budget policy. Off: every confirmation
  // is durable (tests/faults/power_loss_test.cc checks that no confirmation
  // is lost at any write point), and the default batch drains at well over
  // the target either way (docs/PERFORMANCE.md). Not a configuration key; the
  // drain benchmark compares both.
  bool relaxed_confirm_sync = false;
};

struct MqttConfig {
  std::string uri = "tcp://127.0.0.1:1883";
  std::string client_id;          // default "sentinelle-agent-{station_id}"
  std::string username;
  std::string password;
  // TLS, required with an ssl:// or mqtts:// uri and refused with any other:
  // the CA that signed the broker's certificate (the only one trusted), and
  // optionally a client certificate and its key (PEM, both or neither).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  int keepalive_s = 30;
  int connect_timeout_s = 10;
  int batch_max_readings = 500;   // readings per published message (1..1000)
  int max_inflight_messages = 8;  // published messages awaiting PUBACK
  int window_readings = 5000;     // sent but not yet end-to-end confirmed
  // No ack progress for this long: replay unconfirmed readings. Each further
  // replay without progress waits longer (exponential backoff, jittered,
  // capped at ack_timeout_max_ms); progress resets it. See Engine.
  int64_t ack_timeout_ms = 60000;
  int64_t ack_timeout_max_ms = 600000;
  int64_t reconnect_min_ms = 500;
  int64_t reconnect_max_ms = 60000;
  int64_t status_interval_s = 60;
  int64_t shutdown_flush_ms = 3000;  // on SIGTERM: time allowed to drain the outbox
};

struct MetricsConfig {
  std::string listen = "127.0.0.1:9101";  // empty: no HTTP endpoint
};

struct AgentConfig {
  std::string station_id;
  std::string topic_prefix = "sentinelle/v1";
  ClockConfig clock;
  InputConfig input;
  AggregationConfig aggregation;
  QcConfig qc;
  StoreConfig store;
  MqttConfig mqtt;
  MetricsConfig metrics;
  LogConfig log;
  // Opaque: parsed by the prediction code, never validated here.
  nlohmann::json prediction = nlohmann::json::object();
  // Opaque: parsed by the model updater (UpdaterConfig::FromAgentConfig).
  nlohmann::json updater = nlohmann::json::object();
};

// True for the MQTT URI schemes that mean TLS (ssl://, mqtts://).
bool IsTlsMqttUri(const std::string& uri);

// Throws ConfigError naming the key on any invalid or unknown setting.
AgentConfig ParseAgentConfig(const nlohmann::json& root, const std::string& source = "<config>");
AgentConfig LoadAgentConfig(const std::string& path);

}  // namespace sentinelle::agent
