// AckPeer: a stand-in for the collector's ingest, for agent tests and the
// drain benchmark. A real paho client subscribes to {p}/stations/+/readings,
// decodes every batch with DecodeReadingBatch, records what it received and
// publishes the end-to-end ack on {p}/stations/{id}/ack (optionally after a
// delay, or never, to play a dead collector).
//
// Thread-safe: received() and the setters may be called while messages arrive.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sentinelle/codec.h"

namespace sentinelle::testing {

struct ReceivedReading {
  int64_t seq = 0;
  DeliveryKind kind = DeliveryKind::kLive;
  int64_t window_end_s = 0;
  std::string boot_id;
  Reading reading;
};

class AckPeer {
 public:
  AckPeer(std::string broker_uri, std::string prefix = "sentinelle/v1",
          std::string client_id = "ack-peer");
  ~AckPeer();

  // Broker account for the next Connect() (brokers without anonymous access).
  void set_credentials(std::string username, std::string password) {
    username_ = std::move(username);
    password_ = std::move(password);
  }
  // true: the next Connect() keeps a persistent session (clean_session off),
  // as the collector does, so the broker queues readings published while this
  // peer is away, across a broker restart too (the test broker persists).
  void set_persistent_session(bool on) { persistent_session_ = on; }
  bool Connect();      // waits until subscribed; false on failure
  void Disconnect();

  void set_ack(bool on) { ack_ = on; }            // false: record but never ack
  void set_ack_delay_ms(int ms) { ack_delay_ms_ = ms; }
  // Publishes a raw payload (commands, garbage acks) on a topic, QoS 1.
  bool Publish(const std::string& topic, const std::string& payload);

  // Also records every message on `filter` (e.g. a status topic); LastRaw
  // returns the latest payload seen on exactly `topic` ("" when none).
  bool SubscribeRaw(const std::string& filter);
  std::string LastRaw(const std::string& topic) const;
  size_t RawCount(const std::string& topic) const;

  std::vector<ReceivedReading> received() const;
  size_t received_count() const;
  size_t messages() const { return messages_.load(); }
  size_t rejected() const { return rejected_.load(); }
  // Largest reading message payload received, in bytes.
  size_t max_payload_bytes() const { return max_payload_.load(); }
  // Distinct seqs acknowledged so far.
  size_t acked_count() const;
  void Clear();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::string username_;
  std::string password_;
  bool persistent_session_ = false;
  std::atomic<bool> ack_{true};
  std::atomic<int> ack_delay_ms_{0};
  std::atomic<size_t> messages_{0};
  std::atomic<size_t> rejected_{0};
  std::atomic<size_t> max_payload_{0};
};

}  // namespace sentinelle::testing
