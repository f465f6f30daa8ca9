// A stand-in station agent for collector tests: publishes reading batches and
// status over a real paho MQTT v5 connection, records the collector's acks
// and commands, and can answer backfill commands by replaying what it "holds".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/reading.h"

namespace sentinelle::testing {

// A valid reading: every variable ok and in range.
Reading MakeReading(const std::string& station, int64_t seq, int64_t window_end_s);
// A reading batch payload for seqs [from, to], windows base_s + seq * 300.
std::string MakeBatch(const std::string& station, int64_t from, int64_t to, int64_t base_s,
                      DeliveryKind kind = DeliveryKind::kLive);
// Aligned window base so that window_end = base + seq * 300 lies in the past.
int64_t PastBase(int64_t seqs_ahead = 100000);

class TestAgent {
 public:
  TestAgent(std::string uri, std::string station, std::string prefix = "sentinelle/v1");
  ~TestAgent();

  bool Connect();
  void Disconnect();
  // Publishes seqs [from, to] (QoS 1, waits for the broker's PUBACK) in one batch.
  bool Publish(int64_t from, int64_t to, DeliveryKind kind = DeliveryKind::kLive);
  // Publishes a raw payload on any topic (QoS 1).
  bool PublishRaw(const std::string& topic, const std::string& payload, bool retained = false);
  // Retained status "online" with last_seq.
  bool PublishStatus(int64_t last_seq, bool synced = true);
  // Answer backfill commands by replaying the held seqs in the range.
  void AnswerBackfill(bool on) { answer_backfill_ = on; }
  // Seqs this agent no longer holds (its disk budget dropped them).
  void Forget(int64_t from, int64_t to);

  std::set<int64_t> Acked() const;
  bool AckedAll(int64_t from, int64_t to) const;
  std::vector<Command> Commands() const;
  int64_t base_s() const { return base_s_; }
  const std::string& station() const { return station_; }
  std::string ReadingsTopic() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string station_;
  int64_t base_s_;
  bool answer_backfill_ = false;
  friend struct Impl;
};

}  // namespace sentinelle::testing
