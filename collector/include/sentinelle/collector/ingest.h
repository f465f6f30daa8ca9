// IngestPipeline: validation, the bounded queue, the single writer thread
// that group-commits to the HistoryStore, acknowledgements after commit, and
// the gap ledger's backfill planning (docs/ARCHITECTURE.md, "Collector").
//
//   MQTT callback thread --Offer()--> [validate] --> bounded queue
//   writer thread: pop many -> one transaction -> commit -> ledger/health ->
//                  Outbound::SendAck (per station, committed seq ranges)
//   writer thread, once per second: ledger plans backfill -> commit -> SendCommand
//
// Offer() never touches SQLite and never throws; it blocks only when the
// queue is full (up to ingest.enqueue_timeout_ms, then the message is dropped
// and counted: the agent still holds it and the gap ledger asks for it again).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/collector/config.h"
#include "sentinelle/collector/gap_ledger.h"
#include "sentinelle/collector/health.h"
#include "sentinelle/collector/metrics.h"
#include "sentinelle/collector/store.h"
#include "sentinelle/env.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {

// Where the writer sends acks and commands (the MQTT link in production).
// Implementations must not block: called on the writer thread.
class Outbound {
 public:
  virtual ~Outbound() = default;
  virtual void SendAck(const Ack& ack) = 0;
  virtual void SendCommand(const Command& command) = 0;
};

struct OfferResult {
  bool accepted = false;
  RejectReason reason = RejectReason::kInvalidField;  // when !accepted
  std::string detail;                                  // the decoder's message
};

class IngestPipeline {
 public:
  // Largest seq window re-acknowledged on an agent's status (bounds the
  // store query and keeps the ack under the codec's 10,000 ranges).
  static constexpr int64_t kReackMaxSeqs = 10000;

  // All pointers are borrowed and must outlive the pipeline. outbound may be
  // null (no acks or commands, e.g. offline tools).
  IngestPipeline(const CollectorConfig& config, HistoryStore* store, GapLedger* ledger,
                 HealthTracker* health, CollectorMetrics* metrics, Outbound* outbound, Env* env);
  ~IngestPipeline();  // Stop()
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  // Restores the ledger and health from the store, starts the writer.
  Status Start();
  // Commits what is queued (bounded by a few attempts if the store fails),
  // then stops the writer. Idempotent.
  void Stop();

  // Validates one MQTT message and queues it for the writer, on the calling
  // thread. Thread-safe, never throws.
  OfferResult Offer(std::string_view topic, std::string_view payload, int64_t arrival_ms);
  // What the MQTT callback calls: copies the message to the decoder thread
  // of its station (blocking up to enqueue_timeout_ms when that thread is
  // behind, then dropping and counting it as queue_full), which runs Offer.
  void Submit(std::string_view topic, std::string_view payload, int64_t arrival_ms);

  // A station created through the registry (so require_registered admits it).
  void NoteRegistered(const std::string& station_id);

  size_t QueueDepth() const;
  // False once the writer has failed its last commit (cleared on success).
  bool StoreWritable() const { return store_writable_.load(); }
  // Incremented after each successful commit (tests wait on it).
  int64_t commits() const { return commits_.load(); }

 private:
  struct Item {
    StationChannel channel = StationChannel::kReadings;
    std::string station;
    std::vector<StoredReading> readings;
    std::vector<PredictionRecord> predictions;
    bool replay = false;
    StationStatus status;
    std::string raw;
    int64_t arrival_ms = 0;
  };
  struct Raw {
    std::string topic;
    std::string payload;
    int64_t arrival_ms = 0;
  };
  struct Shard {
    std::mutex mu;
    std::condition_variable not_empty;
    std::condition_variable not_full;
    std::deque<Raw> queue;
    bool stopping = false;
    std::thread thread;
  };
  void DecoderLoop(Shard* shard);
  OfferResult Reject(RejectReason reason, std::string detail);
  bool Enqueue(Item item);
  void WriterLoop();
  // Commits the items (retrying while the store fails, unless stopping).
  // Returns false when given up.
  bool CommitItems(std::vector<Item>& items);
  // Adds to `seqs` the stored seqs an online status's agent may still hold
  // unconfirmed (at most kReackMaxSeqs below its last_seq).
  void ReackOnStatus(const StationStatus& status,
                     std::map<std::string, std::vector<int64_t>>* seqs);
  void Maintain(int64_t now_ms);
  void UpdateGauges(int64_t now_ms);

  CollectorConfig config_;
  Topics topics_;
  HistoryStore* store_;
  GapLedger* ledger_;
  HealthTracker* health_;
  CollectorMetrics* metrics_;
  Outbound* outbound_;
  Env* env_;

  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread writer_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> started_{false};
  std::atomic<bool> store_writable_{true};
  std::atomic<int64_t> commits_{0};
  std::mutex registered_mu_;
  std::unordered_set<std::string> registered_;
  int64_t last_maintenance_ms_ = 0;
  int64_t command_counter_ = 0;
};

}  // namespace sentinelle::collector
