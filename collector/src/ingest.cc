#include "sentinelle/collector/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "rate_limited_log.h"
#include "sentinelle/predict/prediction_codec.h"

namespace sentinelle::collector {

namespace {

RateLimitedLog& RejectLog() {
  static RateLimitedLog log;
  return log;
}

RejectReason Classify(const std::string& message) {
  if (message.find("exceeds the limit") != std::string::npos) return RejectReason::kTooLarge;
  if (message.find("nested deeper") != std::string::npos) return RejectReason::kTooDeep;
  if (message.find("malformed JSON") != std::string::npos) return RejectReason::kMalformedJson;
  if (message.find("but the topic names") != std::string::npos) return RejectReason::kWrongStation;
  return RejectReason::kInvalidField;
}

}  // namespace

IngestPipeline::IngestPipeline(const CollectorConfig& config, HistoryStore* store,
                               GapLedger* ledger, HealthTracker* health,
                               CollectorMetrics* metrics, Outbound* outbound, Env* env)
    : config_(config),
      topics_(config.mqtt.topic_prefix),
      store_(store),
      ledger_(ledger),
      health_(health),
      metrics_(metrics),
      outbound_(outbound),
      env_(env) {}

IngestPipeline::~IngestPipeline() { Stop(); }

Status IngestPipeline::Start() {
  auto highs = store_->HighestSeqs();
  if (!highs) return MakeError("restore ledger: " + highs.message());
  auto gaps = store_->ListGaps(INT64_MAX);
  if (!gaps) return MakeError("restore ledger: " + gaps.message());
  ledger_->Restore(*highs, *gaps);
  auto stations = store_->ListStations();
  if (!stations) return MakeError("restore health: " + stations.message());
  health_->Restore(*stations);
  {
    std::lock_guard<std::mutex> lock(registered_mu_);
    for (const StationRecord& s : *stations) registered_.insert(s.info.id);
  }
  last_maintenance_ms_ = env_->WallMs();
  stopping_ = false;
  writer_ = std::thread([this] { WriterLoop(); });
  shards_.clear();
  for (int i = 0; i < std::max(1, config_.ingest.decoder_threads); ++i) {
    shards_.push_back(std::make_unique<Shard>());
    Shard* shard = shards_.back().get();
    shard->thread = std::thread([this, shard] { DecoderLoop(shard); });
  }
  started_ = true;
  return Status::Ok();
}

void IngestPipeline::Stop() {
  if (!started_.exchange(false)) return;
  // Decoders first (they drain into the writer's queue), then the writer.
  for (auto& shard : shards_) {
    {
      std::lock_guard<std::mutex> lock(shard->mu);
      shard->stopping = true;
    }
    shard->not_empty.notify_all();
    shard->not_full.notify_all();
  }
  for (auto& shard : shards_) {
    if (shard->thread.joinable()) shard->thread.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void IngestPipeline::NoteRegistered(const std::string& station_id) {
  std::lock_guard<std::mutex> lock(registered_mu_);
  registered_.insert(station_id);
}

size_t IngestPipeline::QueueDepth() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    n += shard->queue.size();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return n + queue_.size();
}

void IngestPipeline::Submit(std::string_view topic, std::string_view payload,
                            int64_t arrival_ms) {
  auto parsed = topics_.ParseStation(topic);
  if (!parsed || shards_.empty()) {
    (void)Offer(topic, payload, arrival_ms);  // rejected on this thread, cheaply
    return;
  }
  Shard& shard = *shards_[std::hash<std::string>{}(parsed->station_id) % shards_.size()];
  const size_t capacity = static_cast<size_t>(
      std::max<int64_t>(1, config_.ingest.queue_capacity / static_cast<int64_t>(shards_.size())));
  std::unique_lock<std::mutex> lock(shard.mu);
  if (shard.queue.size() >= capacity) {
    shard.not_full.wait_for(lock, std::chrono::milliseconds(config_.ingest.enqueue_timeout_ms),
                            [&] { return shard.queue.size() < capacity || shard.stopping; });
    if (shard.queue.size() >= capacity || shard.stopping) {
      lock.unlock();
      (void)Reject(RejectReason::kQueueFull, parsed->station_id + ": decoder queue full");
      return;
    }
  }
  shard.queue.push_back(Raw{std::string(topic), std::string(payload), arrival_ms});
  lock.unlock();
  shard.not_empty.notify_one();
}

void IngestPipeline::DecoderLoop(Shard* shard) {
  while (true) {
    Raw raw;
    {
      std::unique_lock<std::mutex> lock(shard->mu);
      shard->not_empty.wait(lock, [&] { return !shard->queue.empty() || shard->stopping; });
      if (shard->queue.empty()) return;  // stopping and drained
      raw = std::move(shard->queue.front());
      shard->queue.pop_front();
    }
    shard->not_full.notify_one();
    (void)Offer(raw.topic, raw.payload, raw.arrival_ms);
  }
}

OfferResult IngestPipeline::Reject(RejectReason reason, std::string detail) {
  metrics_->rejected(reason).Increment();
  RejectLog().Warn(std::string(RejectReasonName(reason)),
                   "rejected message (" + std::string(RejectReasonName(reason)) + "): " +
                       detail.substr(0, 200));
  return OfferResult{false, reason, std::move(detail)};
}

OfferResult IngestPipeline::Offer(std::string_view topic, std::string_view payload,
                                  int64_t arrival_ms) {
  auto parsed = topics_.ParseStation(topic);
  if (!parsed || (parsed->channel != StationChannel::kReadings &&
                  parsed->channel != StationChannel::kStatus &&
                  parsed->channel != StationChannel::kPredictions)) {
    return Reject(RejectReason::kBadTopic, "topic '" + std::string(topic.substr(0, 128)) + "'");
  }
  const std::string& station = parsed->station_id;
  if (payload.size() > kMaxPayloadBytes) {
    return Reject(RejectReason::kTooLarge,
                  station + ": payload of " + std::to_string(payload.size()) + " bytes");
  }
  if (config_.ingest.require_registered) {
    std::lock_guard<std::mutex> lock(registered_mu_);
    if (!registered_.count(station)) {
      return Reject(RejectReason::kUnregistered, station + ": not in the station registry");
    }
  }
  Item item;
  item.channel = parsed->channel;
  item.station = station;
  item.arrival_ms = arrival_ms;
  if (parsed->channel == StationChannel::kReadings) {
    auto batch = DecodeReadingBatch(payload, station);
    if (!batch) return Reject(Classify(batch.message()), station + ": " + batch.message());
    const int64_t arrival_s = arrival_ms / 1000;
    const bool replay = batch->kind == DeliveryKind::kReplay;
    item.replay = replay;
    item.readings.reserve(batch->readings.size());
    for (Reading& r : batch->readings) {
      if (r.window_end_s > arrival_s + config_.ingest.future_tolerance_s) {
        return Reject(RejectReason::kFutureTimestamp,
                      station + ": seq " + std::to_string(r.seq) + " window_end " +
                          FormatUtc(r.window_end_s) + " is in the future");
      }
      StoredReading sr;
      sr.origin = replay ? ReadingOrigin::kReplay : ReadingOrigin::kLive;
      sr.arrival_ms = arrival_ms;
      if (!r.time.synced) {
        sr.clock = ClockFlag::kUnsynced;
      } else if (!replay &&
                 std::abs(arrival_s - r.window_end_s) > config_.ingest.clock_tolerance_s) {
        sr.clock = ClockFlag::kSkew;
      }
      sr.reading = std::move(r);
      item.readings.push_back(std::move(sr));
    }
  } else if (parsed->channel == StationChannel::kStatus) {
    auto status = DecodeStatus(payload, station);
    if (!status) return Reject(Classify(status.message()), station + ": " + status.message());
    item.status = std::move(*status);
    item.raw = std::string(payload);
  } else {
    auto batch = predict::DecodePredictionBatch(payload, station);
    if (!batch) return Reject(Classify(batch.message()), station + ": " + batch.message());
    if (batch->window_end_s > arrival_ms / 1000 + config_.ingest.future_tolerance_s) {
      return Reject(RejectReason::kFutureTimestamp,
                    station + ": predictions from window " + FormatUtc(batch->window_end_s) +
                        " are in the future");
    }
    item.predictions.reserve(batch->predictions.size());
    for (const predict::Prediction& p : batch->predictions) {
      PredictionRecord rec;
      rec.station_id = station;
      rec.issued_s = p.from_window_end_s;
      rec.target = std::string(Name(p.target));
      rec.horizon_min = p.horizon_min;
      rec.value = p.value;
      rec.model_kind = p.answered() ? std::string(predict::LinkKindName(p.link)) : "none";
      rec.model_version = p.model_version;
      // Why the links before the answering one were skipped, in chain order.
      for (const predict::LinkSkip& skip : p.skipped) {
        if (!rec.fallback_reason.empty()) rec.fallback_reason += ";";
        rec.fallback_reason += std::string(predict::LinkKindName(skip.link)) + ":" +
                               std::string(predict::SkipReasonName(skip.reason));
      }
      rec.arrival_ms = arrival_ms;
      item.predictions.push_back(std::move(rec));
    }
  }
  const int channel = parsed->channel == StationChannel::kReadings  ? 0
                      : parsed->channel == StationChannel::kStatus ? 1
                                                                   : 2;
  if (!Enqueue(std::move(item))) {
    return Reject(RejectReason::kQueueFull, station + ": writer queue full");
  }
  metrics_->accepted(channel).Increment();
  return OfferResult{true, RejectReason::kInvalidField, {}};
}

bool IngestPipeline::Enqueue(Item item) {
  std::unique_lock<std::mutex> lock(mu_);
  const size_t capacity = static_cast<size_t>(std::max(1, config_.ingest.queue_capacity));
  if (queue_.size() >= capacity) {
    not_full_.wait_for(lock, std::chrono::milliseconds(config_.ingest.enqueue_timeout_ms),
                       [&] { return queue_.size() < capacity || stopping_; });
    if (queue_.size() >= capacity) return false;
  }
  queue_.push_back(std::move(item));
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

void IngestPipeline::WriterLoop() {
  const size_t max_readings = static_cast<size_t>(std::max(1, config_.ingest.max_batch_readings));
  while (true) {
    std::vector<Item> items;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      not_empty_.wait_for(lock, std::chrono::milliseconds(200),
                          [&] { return !queue_.empty() || stopping_; });
      size_t readings = 0;
      while (!queue_.empty() && readings < max_readings) {
        readings += std::max<size_t>(1, queue_.front().readings.size());
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
    }
    if (!items.empty()) {
      not_full_.notify_all();
      CommitItems(items);
    }
    const int64_t now = env_->WallMs();
    if (now - last_maintenance_ms_ >= 1000 || now < last_maintenance_ms_) {
      last_maintenance_ms_ = now;
      Maintain(now);
    }
    if (stop) break;
  }
}

bool IngestPipeline::CommitItems(std::vector<Item>& items) {
  WriteBatch batch;
  std::vector<const StationStatus*> statuses;
  for (Item& item : items) {
    if (item.channel == StationChannel::kReadings) {
      for (StoredReading& sr : item.readings) batch.readings.push_back(std::move(sr));
    } else if (item.channel == StationChannel::kPredictions) {
      for (PredictionRecord& p : item.predictions) batch.predictions.push_back(std::move(p));
    } else if (item.channel == StationChannel::kStatus) {
      batch.statuses.push_back({item.station, item.status.state, item.arrival_ms, item.raw});
      statuses.push_back(&item.status);
    }
  }
  int attempt = 0;
  int64_t backoff_ms = 50;
  const auto t0 = std::chrono::steady_clock::now();
  while (true) {
    const int64_t now = env_->WallMs();
    batch.open_gaps.clear();
    batch.lost_gaps.clear();
    for (const StoredReading& sr : batch.readings) {
      ledger_->StageReading(sr.reading.station_id, sr.reading.seq,
                            sr.origin == ReadingOrigin::kReplay, now);
    }
    for (const StationStatus* s : statuses) {
      if (s->state == "online") ledger_->StageLastSeq(s->station_id, s->last_seq, now);
    }
    ledger_->ExportStaged(&batch);
    auto result = store_->Commit(batch);
    if (result) {
      ledger_->CommitStaged();
      store_writable_ = true;
      const auto t1 = std::chrono::steady_clock::now();
      metrics_->commit_duration_s->Observe(std::chrono::duration<double>(t1 - t0).count());
      metrics_->commit_readings->Observe(static_cast<double>(batch.readings.size()));
      metrics_->commits->Increment();
      metrics_->readings_stored->Increment(static_cast<double>(result->inserted));
      metrics_->readings_duplicate->Increment(static_cast<double>(result->duplicates));
      metrics_->predictions_stored->Increment(static_cast<double>(result->predictions_inserted));
      for (const GapRecord& g : batch.lost_gaps) {
        auto* c = g.reason == "timeout" ? metrics_->gap_seqs_lost_timeout
                                        : metrics_->gap_seqs_lost_answered;
        c->Increment(static_cast<double>(g.to_seq - g.from_seq + 1));
      }
      break;
    }
    ledger_->AbortStaged();
    store_writable_ = false;
    metrics_->commit_errors->Increment();
    static RateLimitedLog commit_log;
    commit_log.Warn("commit", "store commit failed (attempt " + std::to_string(attempt + 1) +
                                  "), will retry: " + result.message());
    ++attempt;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
    }
    if (stopping && attempt >= 3) {
      spdlog::error("giving up on {} readings at shutdown; agents still hold them unacked",
                    batch.readings.size());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
  }
  const int64_t committed_ms = env_->WallMs();
  std::map<std::string, std::vector<int64_t>> seqs;
  for (const StoredReading& sr : batch.readings) {
    metrics_->ingest_latency_s->Observe(
        static_cast<double>(std::max<int64_t>(0, committed_ms - sr.arrival_ms)) / 1000.0);
    if (sr.clock == ClockFlag::kUnsynced) metrics_->clock_unsynced->Increment();
    if (sr.clock == ClockFlag::kSkew) metrics_->clock_skew->Increment();
    health_->OnReading(sr);
    metrics_->station_gauges().OnReading(sr);
    if (sr.reading.seq > 0) seqs[sr.reading.station_id].push_back(sr.reading.seq);
  }
  for (const PredictionRecord& p : batch.predictions) {
    // The chain's first link is the station model: anything else is a fallback.
    health_->OnPrediction(p.station_id, p.model_kind != "station");
    metrics_->station_gauges().OnPrediction(p);
  }
  for (size_t i = 0; i < statuses.size(); ++i) {
    health_->OnStatus(*statuses[i], batch.statuses[i].received_ms);
  }
  commits_.fetch_add(1);
  if (outbound_) {
    for (size_t i = 0; i < statuses.size(); ++i) ReackOnStatus(*statuses[i], &seqs);
    for (auto& [station, list] : seqs) {
      outbound_->SendAck(Ack{station, ToRanges(std::move(list))});
    }
  }
  return true;
}

void IngestPipeline::ReackOnStatus(const StationStatus& status,
                                   std::map<std::string, std::vector<int64_t>>* seqs) {
  // An agent announcing unconfirmed readings may have lost acks (its
  // connection, or this collector, died between commit and ack): confirm
  // again what the store holds among its most recent seqs, so it does not
  // replay them forever. Unconfirmed readings are normally the newest ones;
  // an older straggler is replayed by the agent and acked on arrival.
  if (status.state != "online" || status.buffer_depth <= 0 || status.last_seq <= 0) return;
  const int64_t window = std::min<int64_t>(kReackMaxSeqs, 2 * status.buffer_depth + 100);
  const int64_t from = std::max<int64_t>(1, status.last_seq - window + 1);
  auto stored = store_->StoredSeqs(status.station_id, from, status.last_seq);
  if (!stored) {
    static RateLimitedLog log;
    log.Warn("reack", "re-ack of " + status.station_id + ": " + stored.message());
    return;
  }
  if (stored->empty()) return;
  auto& list = (*seqs)[status.station_id];
  list.insert(list.end(), stored->begin(), stored->end());
}

void IngestPipeline::Maintain(int64_t now_ms) {
  auto requests = ledger_->StageRequests(
      now_ms,
      [&](const std::string& station) {
        return config_.gaps.request_offline || health_->ReachableGuess(station);
      },
      [&](const std::string& station, int64_t from, int64_t to) {
        return store_->StoredSeqs(station, from, to);
      });
  if (ledger_->HasStaged()) {
    WriteBatch batch;
    ledger_->ExportStaged(&batch);
    auto result = store_->Commit(batch);
    if (!result) {
      ledger_->AbortStaged();
      metrics_->commit_errors->Increment();
      static RateLimitedLog log;
      log.Warn("ledger", "gap ledger commit failed: " + result.message());
      UpdateGauges(now_ms);
      return;  // the attempts were not recorded: do not send the commands
    }
    ledger_->CommitStaged();
    for (const GapRecord& g : batch.lost_gaps) {
      auto* c = g.reason == "timeout" ? metrics_->gap_seqs_lost_timeout
                                      : metrics_->gap_seqs_lost_answered;
      c->Increment(static_cast<double>(g.to_seq - g.from_seq + 1));
      spdlog::info("gap {} [{}, {}] closed as lost ({})", g.station_id, g.from_seq, g.to_seq,
                   g.reason);
    }
  } else {
    ledger_->AbortStaged();
  }
  for (const BackfillRequest& r : requests) {
    Command c;
    c.station_id = r.station_id;
    c.id = "bf-" + std::to_string(now_ms) + "-" + std::to_string(++command_counter_);
    c.name = "backfill";
    c.from_seq = r.from_seq;
    c.to_seq = r.to_seq;
    metrics_->backfill_requests->Increment();
    spdlog::info("backfill {} [{}, {}] attempt {}", r.station_id, r.from_seq, r.to_seq,
                 r.attempt);
    if (outbound_) outbound_->SendCommand(c);
  }
  UpdateGauges(now_ms);
}

void IngestPipeline::UpdateGauges(int64_t now_ms) {
  metrics_->queue_depth->Set(static_cast<double>(QueueDepth()));
  const auto open = ledger_->OpenGapCounts();
  int64_t gaps = 0;
  for (const auto& [station, n] : open) gaps += n;
  metrics_->gaps_open->Set(static_cast<double>(gaps));
  metrics_->gap_seqs_outstanding->Set(static_cast<double>(ledger_->OutstandingSeqs()));
  const auto counts = health_->CountByState(now_ms, open);
  for (int i = 0; i < kHealthStateCount; ++i) {
    metrics_->stations(static_cast<HealthState>(i)).Set(static_cast<double>(counts[i]));
  }
  metrics_->station_gauges().OnHealth(health_->All(now_ms, open));
}

}  // namespace sentinelle::collector
