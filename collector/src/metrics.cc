#include "sentinelle/collector/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace sentinelle::collector {

std::string_view RejectReasonName(RejectReason r) {
  static constexpr std::array<std::string_view, kRejectReasonCount> kNames = {
      "bad_topic",     "too_large",        "too_deep",     "malformed_json", "wrong_station",
      "invalid_field", "future_timestamp", "unregistered", "queue_full"};
  return kNames[static_cast<int>(r)];
}

std::string_view HttpRejectReasonName(HttpRejectReason r) {
  static constexpr std::array<std::string_view, kHttpRejectReasonCount> kNames = {
      "missing_token", "invalid_token", "forbidden",         "body_too_large",
      "bad_request",   "not_found",     "method_not_allowed"};
  return kNames[static_cast<int>(r)];
}

CollectorMetrics::CollectorMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  using prometheus::BuildHistogram;
  auto& messages = BuildCounter()
                       .Name("sentinelle_collector_messages_accepted_total")
                       .Help("MQTT messages accepted for storage, by channel")
                       .Register(*registry_);
  accepted_[0] = &messages.Add({{"channel", "readings"}});
  accepted_[1] = &messages.Add({{"channel", "status"}});
  accepted_[2] = &messages.Add({{"channel", "predictions"}});
  auto& rejected = BuildCounter()
                       .Name("sentinelle_collector_messages_rejected_total")
                       .Help("MQTT messages refused, by reason")
                       .Register(*registry_);
  for (int i = 0; i < kRejectReasonCount; ++i) {
    rejected_[i] = &rejected.Add(
        {{"reason", std::string(RejectReasonName(static_cast<RejectReason>(i)))}});
  }
  auto& http_rejected = BuildCounter()
                            .Name("sentinelle_collector_http_rejected_total")
                            .Help("HTTP requests refused, by reason")
                            .Register(*registry_);
  for (int i = 0; i < kHttpRejectReasonCount; ++i) {
    http_rejected_[i] = &http_rejected.Add(
        {{"reason", std::string(HttpRejectReasonName(static_cast<HttpRejectReason>(i)))}});
  }
  auto counter = [&](const char* name, const char* help) {
    return &BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  readings_stored = counter("sentinelle_collector_readings_stored_total",
                            "Readings committed to the store for the first time");
  readings_duplicate = counter("sentinelle_collector_readings_duplicate_total",
                               "Readings whose (station, window) was already stored");
  readings_imported = counter("sentinelle_collector_readings_imported_total",
                              "Readings stored from history CSV imports");
  predictions_stored = counter("sentinelle_collector_predictions_stored_total",
                               "Predictions committed to the store");
  auto& clock = BuildCounter()
                    .Name("sentinelle_collector_clock_flagged_readings_total")
                    .Help("Readings whose time is not trusted, by flag")
                    .Register(*registry_);
  clock_unsynced = &clock.Add({{"flag", "unsynced"}});
  clock_skew = &clock.Add({{"flag", "skew"}});
  acks_sent = counter("sentinelle_collector_acks_sent_total",
                      "End-to-end acknowledgements published after commit");
  acks_coalesced = counter("sentinelle_collector_acks_coalesced_total",
                           "Acks merged into a later one while the MQTT in-flight window was full");
  publish_errors = counter("sentinelle_collector_publish_errors_total",
                           "Acks or commands the MQTT client refused or failed to deliver");
  mqtt_failed_writes = counter("sentinelle_collector_mqtt_failed_writes_total",
                               "Publishes whose socket write failed (the connection was reset)");
  mqtt_client_resets = counter("sentinelle_collector_mqtt_client_resets_total",
                               "Connects made on a new MQTT client after a failed write");
  backfill_requests = counter("sentinelle_collector_backfill_requests_total",
                              "Targeted backfill commands sent");
  auto& lost = BuildCounter()
                   .Name("sentinelle_collector_gap_seqs_lost_total")
                   .Help("Sequence numbers given up as lost, by reason")
                   .Register(*registry_);
  gap_seqs_lost_answered = &lost.Add({{"reason", "agent_answered"}});
  gap_seqs_lost_timeout = &lost.Add({{"reason", "timeout"}});
  commits = counter("sentinelle_collector_commits_total", "Writer transactions committed");
  commit_errors = counter("sentinelle_collector_commit_errors_total",
                          "Writer transactions that failed (retried)");
  http_requests = counter("sentinelle_collector_http_requests_total", "HTTP requests received");
  ingest_latency_s =
      &BuildHistogram()
           .Name("sentinelle_collector_ingest_latency_seconds")
           .Help("From a reading's arrival at the collector to its commit")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  commit_duration_s =
      &BuildHistogram()
           .Name("sentinelle_collector_commit_duration_seconds")
           .Help("Duration of one writer transaction")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025, 0.05, 0.1, 0.25, 0.5, 1});
  commit_readings =
      &BuildHistogram()
           .Name("sentinelle_collector_commit_readings")
           .Help("Readings per writer transaction")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000, 5000, 20000});
  auto gauge = [&](const char* name, const char* help) {
    return &BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
  };
  queue_depth = gauge("sentinelle_collector_queue_depth", "Messages waiting for the writer");
  gap_seqs_outstanding = gauge("sentinelle_collector_gap_seqs_outstanding",
                               "Sequence numbers (windows) missing in open gaps, all stations");
  gaps_open = gauge("sentinelle_collector_gaps_open", "Open gaps, all stations");
  mqtt_connected = gauge("sentinelle_collector_mqtt_connected", "1 while connected to the broker");
  auto& stations = BuildGauge()
                       .Name("sentinelle_collector_stations")
                       .Help("Stations per health state")
                       .Register(*registry_);
  for (int i = 0; i < kHealthStateCount; ++i) {
    stations_[i] =
        &stations.Add({{"state", std::string(HealthStateName(static_cast<HealthState>(i)))}});
  }
  station_gauges_ = std::make_unique<StationGauges>(*registry_);
}

std::string CollectorMetrics::Serialize() const {
  prometheus::TextSerializer serializer;
  std::ostringstream out;
  serializer.Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace sentinelle::collector
