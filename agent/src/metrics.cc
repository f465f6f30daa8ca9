#include "sentinelle/agent/metrics.h"

#include <prometheus/exposer.h>

#include <exception>

namespace sentinelle::agent {

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Counter& C(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& G(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add({});
}
}  // namespace

Metrics::Metrics()
    : Metrics(std::make_shared<prometheus::Registry>()) {}

Metrics::Metrics(std::shared_ptr<prometheus::Registry> reg)
    : lines_accepted(C(*reg, "sentinelle_agent_lines_accepted_total",
                       "Sensor lines accepted (samples and clock ticks)")),
      samples_in(C(*reg, "sentinelle_agent_samples_total",
                   "Variable samples received on accepted lines (valid or not)")),
      windows_closed(C(*reg, "sentinelle_agent_windows_closed_total",
                       "Aggregation windows closed and committed")),
      outbox_depth(G(*reg, "sentinelle_agent_outbox_depth",
                     "Readings stored but not yet confirmed by the collector")),
      store_rows(G(*reg, "sentinelle_agent_store_rows", "Readings held in the station store")),
      store_bytes(G(*reg, "sentinelle_agent_store_bytes",
                    "Payload bytes held in the station store (budgeted)")),
      last_seq(G(*reg, "sentinelle_agent_last_seq", "Last committed sequence number")),
      connected(G(*reg, "sentinelle_agent_mqtt_connected", "1 while connected to the broker")),
      publish_latency(BuildHistogram()
                          .Name("sentinelle_agent_publish_latency_seconds")
                          .Help("From first publish of a batch to the collector's end-to-end ack")
                          .Register(*reg)
                          .Add({}, prometheus::Histogram::BucketBoundaries{
                                       0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                       30, 60, 300})),
      reconnects(C(*reg, "sentinelle_agent_reconnects_total",
                   "Connection attempts to the broker after the first")),
      connect_failures(C(*reg, "sentinelle_agent_connect_failures_total",
                         "Failed connection attempts (refused, unreachable, TLS handshake)")),
      failed_publish_writes(C(*reg, "sentinelle_agent_mqtt_failed_writes_total",
                              "Publishes whose socket write failed (the connection was reset)")),
      client_resets(C(*reg, "sentinelle_agent_mqtt_client_resets_total",
                      "Connects made on a new MQTT client handle after a failed write")),
      ack_timeouts(C(*reg, "sentinelle_agent_ack_timeouts_total",
                     "Replays of unconfirmed readings after mqtt.ack_timeout_ms without ack progress")),
      store_errors(C(*reg, "sentinelle_agent_store_errors_total",
                     "Failed SQLite operations (commit, read, confirm)")),
      readings_confirmed(C(*reg, "sentinelle_agent_readings_confirmed_total",
                           "Readings confirmed end to end by the collector")),
      messages_published(C(*reg, "sentinelle_agent_messages_published_total",
                           "Reading batch messages handed to the MQTT client")),
      publish_failures(C(*reg, "sentinelle_agent_publish_failures_total",
                         "Reading batches the MQTT client refused (retried later)")),
      acks_rejected(C(*reg, "sentinelle_agent_acks_rejected_total",
                      "Ack payloads rejected as malformed or for another station")),
      commands_received(C(*reg, "sentinelle_agent_commands_total", "Commands accepted")),
      commands_rejected(C(*reg, "sentinelle_agent_commands_rejected_total",
                          "Command payloads rejected")),
      predictions_published(C(*reg, "sentinelle_agent_predictions_published_total",
                              "Prediction payloads published")),
      registry_(reg),
      rejected_family_(BuildCounter()
                           .Name("sentinelle_agent_input_rejected_total")
                           .Help("Sensor lines rejected whole, by reason")
                           .Register(*reg)),
      drops_family_(BuildCounter()
                        .Name("sentinelle_agent_drops_total")
                        .Help("Samples, windows or readings dropped, by reason")
                        .Register(*reg)),
      qc_family_(BuildCounter()
                     .Name("sentinelle_agent_qc_failures_total")
                     .Help("QC failures: rejected samples and stuck windows, by variable and flag")
                     .Register(*reg)),
      published_family_(BuildCounter()
                            .Name("sentinelle_agent_readings_published_total")
                            .Help("Readings published, by kind (live or replay)")
                            .Register(*reg)) {
  for (const char* r : kRejectReasons) rejected_family_.Add({{"reason", r}});
  for (const char* r : kDropReasons) drops_family_.Add({{"reason", r}});
  Published(false);
  Published(true);
}

Metrics::~Metrics() = default;

prometheus::Counter& Metrics::Rejected(const std::string& reason) {
  return rejected_family_.Add({{"reason", reason}});
}
prometheus::Counter& Metrics::Dropped(const std::string& reason) {
  return drops_family_.Add({{"reason", reason}});
}
prometheus::Counter& Metrics::QcFailure(Variable v, QcFlag flag) {
  return qc_family_.Add({{"variable", std::string(Name(v))}, {"flag", std::string(QcFlagName(flag))}});
}
prometheus::Counter& Metrics::Published(bool replay) {
  return published_family_.Add({{"kind", replay ? "replay" : "live"}});
}

Result<int> Metrics::Expose(const std::string& listen) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
    exposer_->RegisterCollectable(registry_);
    const auto ports = exposer_->GetListeningPorts();
    if (ports.empty()) return MakeError("metrics: no listening port on " + listen);
    return static_cast<int>(ports.front());
  } catch (const std::exception& e) {
    exposer_.reset();
    return MakeError("metrics: cannot listen on " + listen + ": " + e.what());
  }
}

double Metrics::Value(const std::string& name,
                      const std::map<std::string, std::string>& labels) const {
  double total = 0;
  for (const auto& family : registry_->Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (!match) continue;
      if (family.type == prometheus::MetricType::Counter) total += m.counter.value;
      else if (family.type == prometheus::MetricType::Gauge) total += m.gauge.value;
      else if (family.type == prometheus::MetricType::Histogram)
        total += static_cast<double>(m.histogram.sample_count);
    }
  }
  return total;
}

}  // namespace sentinelle::agent
