// The agent's Prometheus metrics (all prefixed sentinelle_agent_), on one
// registry that other on-station code can register into, optionally exposed
// over HTTP (prometheus-cpp Exposer) at metrics.listen.
//
// Thread-safe (prometheus-cpp metrics are atomic).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <string>

#include "sentinelle/reading.h"
#include "sentinelle/result.h"

namespace prometheus {
class Exposer;
}

namespace sentinelle::agent {

// Reasons a sensor line is rejected (label of input_rejected_total).
// "unknown_variable" counts ignored variable names on accepted lines;
// "overflow" counts socket connections refused beyond input.max_clients.
inline constexpr std::array<const char*, 6> kRejectReasons = {
    "parse", "too_long", "too_old", "future", "unknown_variable", "overflow"};
// Reasons data is dropped (label of drops_total).
inline constexpr std::array<const char*, 8> kDropReasons = {
    "late_sample",          // sample for a window already closed
    "open_window_overflow", // more open windows than max_open_windows
    "gap_skipped",          // all-missing windows skipped beyond max_gap_windows
    "commit_failed",        // closed window could not be stored (pending queue full)
    "evicted_confirmed",    // disk budget: confirmed reading deleted (collector has it)
    "dropped_unconfirmed",  // disk budget: unconfirmed reading deleted (data loss)
    "predictions_offline",  // prediction payload while disconnected
    "shutdown_open_window", // windows not yet due when the agent stopped
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // Starts the HTTP endpoint ("host:port"; port 0 picks a free one). Returns
  // the bound port.
  Result<int> Expose(const std::string& listen);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  prometheus::Counter& lines_accepted;
  prometheus::Counter& samples_in;
  prometheus::Counter& windows_closed;
  prometheus::Gauge& outbox_depth;
  prometheus::Gauge& store_rows;
  prometheus::Gauge& store_bytes;
  prometheus::Gauge& last_seq;
  prometheus::Gauge& connected;
  prometheus::Histogram& publish_latency;
  prometheus::Counter& reconnects;
  prometheus::Counter& connect_failures;
  prometheus::Counter& failed_publish_writes;
  prometheus::Counter& client_resets;
  prometheus::Counter& ack_timeouts;
  prometheus::Counter& store_errors;
  prometheus::Counter& readings_confirmed;
  prometheus::Counter& messages_published;
  prometheus::Counter& publish_failures;
  prometheus::Counter& acks_rejected;
  prometheus::Counter& commands_received;
  prometheus::Counter& commands_rejected;
  prometheus::Counter& predictions_published;

  prometheus::Counter& Rejected(const std::string& reason);
  prometheus::Counter& Dropped(const std::string& reason);
  prometheus::Counter& QcFailure(Variable v, QcFlag flag);
  prometheus::Counter& Published(bool replay);

  // Current value of a counter or gauge sample (tests, status); 0 when absent.
  double Value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;

 private:
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rejected_family_;
  prometheus::Family<prometheus::Counter>& drops_family_;
  prometheus::Family<prometheus::Counter>& qc_family_;
  prometheus::Family<prometheus::Counter>& published_family_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sentinelle::agent
