// MqttLink: the collector's only MQTT client (paho async, MQTT v5). The one
// file that includes paho headers is mqtt_link.cc.
//
// - Subscribes (QoS 1) to {p}/stations/+/readings|status|predictions, through
//   `$share/{group}/...` when mqtt.shared_group is set; persistent session
//   (clean_start = false, session expiry). A background connector connects
//   and reconnects after every loss, with backoff; paho's own automatic
//   reconnect is off, so that after a failed publish write the connector
//   first replaces the client (paho would resend that message from memory it
//   has freed; mqtt_link.cc, on_failure).
// - Hands every message to a sink (the IngestPipeline's Offer) on paho's
//   callback thread; the sink must not block on storage.
// - Publishes acks and commands (QoS 1) without blocking the caller. At most
//   mqtt.max_inflight are outstanding at once: paho's C library slows down
//   badly with many QoS 1 messages in flight, so above the limit acks are
//   coalesced per station (their ranges merged) and sent as deliveries
//   complete; commands wait in a FIFO.
//
// Thread-safe. Exceptions from paho are caught here and never escape.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "sentinelle/collector/config.h"
#include "sentinelle/collector/ingest.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/env.h"

namespace sentinelle::collector {

using MessageSink =
    std::function<void(std::string_view topic, std::string_view payload, int64_t arrival_ms)>;

// Merges overlapping or adjacent ranges; output sorted.
std::vector<SeqRange> MergeRanges(std::vector<SeqRange> ranges);

class MqttLink final : public Outbound {
 public:
  MqttLink(MqttConfig config, MessageSink sink, CollectorMetrics* metrics, Env* env);
  ~MqttLink() override;  // Stop()

  // Starts connecting (returns at once; connection happens in the background).
  // Throws ConfigError for an invalid URI (start-up error).
  void Start();
  // Disconnects (waiting up to 2 s for in-flight deliveries) and stops.
  void Stop();
  bool connected() const;

  void SendAck(const Ack& ack) override;
  void SendCommand(const Command& command) override;
  // Publishes a retained QoS 1 message (model manifests). Only the latest
  // payload per topic is kept while disconnected; it is sent on (re)connect.
  // An empty payload clears the topic's retained message.
  void PublishRetained(const std::string& topic, const std::string& payload);

  // Outgoing messages waiting for an in-flight slot (acks by station + commands).
  size_t pending() const;
  // Publishes whose socket write failed, and the connects then made on a
  // new paho client.
  uint64_t failed_writes() const;
  uint64_t client_resets() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentinelle::collector
