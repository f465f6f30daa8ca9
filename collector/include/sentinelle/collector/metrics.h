// The collector's Prometheus metrics, in a Registry the collector owns and
// serves on its own HTTP port (/metrics). Every label takes values from a
// fixed, small set: nothing here is labelled per station, so cardinality
// stays bounded with thousands of stations (health is exposed as counts per
// state). The per-station series the dashboards need live in StationGauges,
// capped at a fixed number of stations.
//
// Registration happens in the constructor (may throw, start-up only); every
// accessor afterwards is thread-safe and never throws.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "sentinelle/collector/health.h"
#include "sentinelle/collector/station_gauges.h"

namespace sentinelle::collector {

// Why an MQTT message was refused (label `reason`).
enum class RejectReason : uint8_t {
  kBadTopic = 0,        // not {p}/stations/{valid id}/{readings|status|predictions}
  kTooLarge,            // over the payload limit
  kTooDeep,             // JSON nested too deep
  kMalformedJson,
  kWrongStation,        // payload names another station than the topic
  kInvalidField,        // schema version, types, ranges, unknown fields
  kFutureTimestamp,     // window ends after arrival + future_tolerance_s
  kUnregistered,        // require_registered and the station is unknown
  kQueueFull,           // writer backlog full for enqueue_timeout_ms
};
inline constexpr int kRejectReasonCount = 9;
std::string_view RejectReasonName(RejectReason r);

// Why an HTTP request was refused (label `reason`).
enum class HttpRejectReason : uint8_t {
  kMissingToken = 0,
  kInvalidToken,
  kForbidden,       // valid token, role lacks the permission
  kBodyTooLarge,
  kBadRequest,
  kNotFound,
  kMethodNotAllowed,
};
inline constexpr int kHttpRejectReasonCount = 7;
std::string_view HttpRejectReasonName(HttpRejectReason r);

class CollectorMetrics {
 public:
  CollectorMetrics();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }
  // Prometheus text exposition of everything registered.
  std::string Serialize() const;

  prometheus::Counter& accepted(int channel) { return *accepted_[channel]; }  // 0 readings, 1 status, 2 predictions
  prometheus::Counter& rejected(RejectReason r) { return *rejected_[static_cast<int>(r)]; }
  prometheus::Counter& http_rejected(HttpRejectReason r) {
    return *http_rejected_[static_cast<int>(r)];
  }
  prometheus::Counter* readings_stored;
  prometheus::Counter* readings_duplicate;
  prometheus::Counter* readings_imported;
  prometheus::Counter* predictions_stored;
  prometheus::Counter* clock_unsynced;
  prometheus::Counter* clock_skew;
  prometheus::Counter* acks_sent;
  prometheus::Counter* acks_coalesced;
  prometheus::Counter* publish_errors;
  prometheus::Counter* mqtt_failed_writes;
  prometheus::Counter* mqtt_client_resets;
  prometheus::Counter* backfill_requests;
  prometheus::Counter* gap_seqs_lost_answered;
  prometheus::Counter* gap_seqs_lost_timeout;
  prometheus::Counter* commits;
  prometheus::Counter* commit_errors;
  prometheus::Counter* http_requests;
  prometheus::Histogram* ingest_latency_s;   // arrival at the collector -> commit
  prometheus::Histogram* commit_duration_s;
  prometheus::Histogram* commit_readings;
  prometheus::Gauge* queue_depth;
  prometheus::Gauge* gap_seqs_outstanding;
  prometheus::Gauge* gaps_open;
  prometheus::Gauge* mqtt_connected;
  prometheus::Gauge& stations(HealthState s) { return *stations_[static_cast<int>(s)]; }
  StationGauges& station_gauges() { return *station_gauges_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, 3> accepted_{};
  std::array<prometheus::Counter*, kRejectReasonCount> rejected_{};
  std::array<prometheus::Counter*, kHttpRejectReasonCount> http_rejected_{};
  std::array<prometheus::Gauge*, kHealthStateCount> stations_{};
  std::unique_ptr<StationGauges> station_gauges_;
};

}  // namespace sentinelle::collector
