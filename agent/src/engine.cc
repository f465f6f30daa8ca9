#include "sentinelle/agent/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "sentinelle/sensor_line.h"
#include "sentinelle/version.h"

namespace sentinelle::agent {

namespace {
constexpr int64_t kWorkerTickMs = 100;  // idle wake-ups; events wake the worker at once
constexpr int64_t kCommitRetryMs = 1000;
constexpr int kLogBudgetPer10s = 10;
constexpr size_t kMaxQueuedBackfills = 64;
constexpr size_t kMaxSentBatches = 4096;
constexpr int kMaxBackfillRows = 1000;

std::string NewBootId() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    const uint32_t r = rd();
    for (int k = 0; k < 4; ++k) id += kHex[(r >> (k * 8 + 4)) & 0xF], id += kHex[(r >> (k * 8)) & 0xF];
  }
  return id;
}
}  // namespace

void InputClockEnv::SleepMs(int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void InputClockEnv::Observe(int64_t ts_ms) {
  int64_t cur = latest_ms_.load();
  while (ts_ms > cur && !latest_ms_.compare_exchange_weak(cur, ts_ms)) {
  }
}

Engine::Engine(AgentConfig config, Env* env, std::unique_ptr<Env> owned_env, std::string boot_id)
    : config_(std::move(config)),
      owned_env_(std::move(owned_env)),
      env_(env),
      boot_id_(std::move(boot_id)),
      topics_(config_.topic_prefix),
      rng_state_(std::random_device{}()) {}

Result<std::unique_ptr<Engine>> Engine::Create(AgentConfig config, Env* env) {
  std::unique_ptr<Env> owned;
  InputClockEnv* input_clock = nullptr;
  if (env == nullptr) {
    if (config.clock.source == ClockSource::kInput) {
      auto ic = std::make_unique<InputClockEnv>();
      input_clock = ic.get();
      owned = std::move(ic);
      env = input_clock;
    } else {
      env = Env::Default();
    }
  } else if (config.clock.source == ClockSource::kInput) {
    input_clock = dynamic_cast<InputClockEnv*>(env);
    if (input_clock == nullptr) return MakeError("clock.source \"input\" needs an InputClockEnv");
  }
  std::unique_ptr<Engine> e(new Engine(std::move(config), env, std::move(owned), NewBootId()));
  e->input_clock_ = input_clock;
  const AgentConfig& c = e->config_;

  auto store = Store::Open(c.store, c.station_id, e->boot_id_);
  if (!store) return MakeError("store: " + store.message());
  e->store_ = std::move(*store);
  e->aggregator_ = std::make_unique<Aggregator>(c.station_id, c.aggregation, c.qc);
  e->aggregator_->SetLastClosedWindowEnd(e->store_->last_window_end());

  if (c.input.kind != InputKind::kNone) {
    auto input = Input::Open(c.input);
    if (!input) return MakeError("input: " + input.message());
    e->input_ = std::move(*input);
  }

  MqttClientOptions mo;
  mo.uri = c.mqtt.uri;
  mo.client_id = c.mqtt.client_id;
  mo.username = c.mqtt.username;
  mo.password = c.mqtt.password;
  mo.ca_file = c.mqtt.ca_file;
  mo.cert_file = c.mqtt.cert_file;
  mo.key_file = c.mqtt.key_file;
  mo.keepalive_s = c.mqtt.keepalive_s;
  mo.connect_timeout_s = c.mqtt.connect_timeout_s;
  mo.max_inflight = std::max(64, c.mqtt.max_inflight_messages * 2);
  mo.subscriptions = {e->topics_.Ack(c.station_id), e->topics_.Commands(c.station_id)};
  // Model manifests for every scope, production and staged rollout
  // (docs/PROTOCOL.md, "Topics per scope").
  for (std::string& f : e->topics_.StationManifestFilters(c.station_id)) {
    mo.subscriptions.push_back(std::move(f));
  }
  mo.will_topic = e->topics_.Status(c.station_id);
  {
    std::lock_guard lock(e->mu_);
    mo.will_payload = e->StatusPayloadLocked(false, true);
  }
  Engine* self = e.get();
  auto mqtt = MqttClient::Create(
      std::move(mo),
      [self](bool up, const std::string& cause) {
        {
          std::lock_guard lock(self->in_mu_);
          self->link_events_.emplace_back(up, cause);
        }
        self->Wake();
      },
      [self](const std::string& topic, const std::string& payload) {
        {
          std::lock_guard lock(self->in_mu_);
          if (self->incoming_.size() < 10000) self->incoming_.push_back({topic, payload});
        }
        self->Wake();
      },
      [self] { self->Wake(); });  // a PUBACK frees an in-flight slot
  if (!mqtt) return mqtt.error();
  e->mqtt_ = std::move(*mqtt);
  spdlog::info("agent: station {} boot {} store {} (last seq {}, last window {}, {} unconfirmed)",
               c.station_id, e->boot_id_, c.store.path, e->store_->last_seq(),
               e->store_->last_window_end() > 0 ? FormatUtc(e->store_->last_window_end()) : "none",
               e->store_->unconfirmed());
  return e;
}

Engine::~Engine() { Stop(); }

Status Engine::Start() {
  if (started_.exchange(true)) return MakeError("engine already started");
  if (!config_.metrics.listen.empty()) {
    auto port = metrics_.Expose(config_.metrics.listen);
    if (!port) return port.error();
    metrics_port_ = *port;
    spdlog::info("agent: metrics on {} (port {})", config_.metrics.listen, metrics_port_);
  }
  {
    std::lock_guard lock(mu_);
    UpdateGaugesLocked();
  }
  worker_ = std::thread([this] { WorkerLoop(); });
  if (input_) input_thread_ = std::thread([this] { InputLoop(); });
  return Status::Ok();
}

void Engine::Stop() {
  if (!started_.load() || stopping_.exchange(true)) return;
  stop_requested_ = true;
  if (input_) input_->Stop();
  if (input_thread_.joinable()) input_thread_.join();
  Wake();
  if (worker_.joinable()) worker_.join();
  std::string offline;
  {
    std::lock_guard lock(mu_);
    offline = StatusPayloadLocked(false, false);
    const auto open = aggregator_->open_windows();
    if (open > 0) {
      metrics_.Dropped("shutdown_open_window").Increment(static_cast<double>(open));
      spdlog::warn("agent: {} open window(s) not yet due are discarded at shutdown", open);
    }
  }
  mqtt_->Disconnect(1000, topics_.Status(config_.station_id), offline);
  metrics_.connected.Set(0);
  spdlog::info("agent: stopped");
}

void Engine::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    wake_flag_ = true;
  }
  wake_.notify_one();
}

void Engine::InputLoop() {
  input_->Run([this](std::string_view line) { HandleLine(line); },
              [this](std::string_view reason) { RejectLine(reason, "input stream"); });
  if (input_->reached_eof()) {
    spdlog::info("agent: end of input");
    if (config_.input.exit_on_eof) stop_requested_ = true;
  }
}

void Engine::RejectLine(std::string_view reason, const std::string& detail) {
  metrics_.Rejected(std::string(reason)).Increment();
  std::lock_guard lock(log_mu_);
  const int64_t now = RealMonotonicMs();
  if (now - log_budget_reset_mono_ms_ >= 10000) {
    if (log_budget_ > kLogBudgetPer10s) {
      spdlog::warn("input: {} more rejected lines not logged", log_budget_ - kLogBudgetPer10s);
    }
    log_budget_reset_mono_ms_ = now;
    log_budget_ = 0;
  }
  if (++log_budget_ <= kLogBudgetPer10s) {
    spdlog::warn("input: line rejected ({}): {}", reason, detail.substr(0, 200));
  }
}

void Engine::HandleLine(std::string_view line) {
  auto parsed = ParseSensorLine(line);
  if (!parsed) {
    const bool too_long = line.size() > kMaxSensorLineBytes + 1;
    RejectLine(too_long ? "too_long" : "parse", parsed.message());
    return;
  }
  const SensorLine& s = *parsed;
  std::lock_guard lock(mu_);
  const int64_t future_ms = config_.input.max_future_s * 1000;
  const int64_t past_ms = config_.input.max_past_s * 1000;
  int64_t now_ms = 0;
  bool have_now = false;
  if (input_clock_ != nullptr) {
    now_ms = input_clock_->WallMs();
    have_now = now_ms > 0;
  } else if (ClockTrustedLocked()) {
    now_ms = env_->WallMs();
    have_now = true;
  }
  if (s.ts_ms < kSaneWallClockFloorMs) {
    RejectLine("too_old", "timestamp before 2024-01-01: " + std::to_string(s.ts_ms));
    return;
  }
  if (have_now && s.ts_ms > now_ms + future_ms) {
    RejectLine("future", "timestamp " + std::to_string(s.ts_ms) + " is ahead of the clock " +
                             std::to_string(now_ms));
    return;
  }
  if (have_now && s.ts_ms < now_ms - past_ms) {
    RejectLine("too_old", "timestamp " + std::to_string(s.ts_ms) + " is older than max_past_s");
    return;
  }
  metrics_.lines_accepted.Increment();
  if (!s.unknown_variables.empty()) {
    metrics_.Rejected("unknown_variable").Increment(static_cast<double>(s.unknown_variables.size()));
  }
  if (!s.clock_tick) {
    int present = 0;
    for (auto st : s.state) present += st != SampleState::kAbsent;
    metrics_.samples_in.Increment(present);
    if (aggregator_->Add(s) == Aggregator::AddResult::kLate) {
      metrics_.Dropped("late_sample").Increment();
    }
    if (const int dropped = aggregator_->EnforceOpenLimit(); dropped > 0) {
      metrics_.Dropped("open_window_overflow").Increment(dropped);
      spdlog::warn("aggregator: dropped {} open window(s) beyond max_open_windows", dropped);
    }
  }
  if (input_clock_ != nullptr) {
    input_clock_->Observe(s.ts_ms);
    CloseAndCommitLocked(input_clock_->WallMs());
  }
}

bool Engine::ClockTrustedLocked() {
  return config_.clock.assume_synced || env_->WallClockSynced();
}

TimeQuality Engine::TimeQualityLocked() {
  if (input_clock_ != nullptr) return {true, "sim"};
  if (env_->WallClockSynced()) return {true, "ntp"};
  if (config_.clock.assume_synced) return {true, "rtc"};
  return {false, "none"};
}

void Engine::CloseAndCommitLocked(int64_t now_ms) {
  auto closed = aggregator_->CloseDue(now_ms, TimeQualityLocked());
  const int64_t skipped = aggregator_->skipped_gap_windows();
  if (skipped > gap_skipped_seen_) {
    metrics_.Dropped("gap_skipped").Increment(static_cast<double>(skipped - gap_skipped_seen_));
    spdlog::warn("aggregator: skipped {} empty windows (gap longer than max_gap_windows)",
                 skipped - gap_skipped_seen_);
    gap_skipped_seen_ = skipped;
  }
  const QcCounts qc = aggregator_->TakeQcCounts();
  for (int v = 0; v < kVariableCount; ++v) {
    for (int f = 0; f < kQcFlagCount; ++f) {
      if (qc[v][f] > 0) {
        metrics_.QcFailure(static_cast<Variable>(v), static_cast<QcFlag>(f))
            .Increment(static_cast<double>(qc[v][f]));
      }
    }
  }
  if (closed.empty() && pending_commits_.empty()) return;
  for (Reading& r : closed) {
    r.boot_id = boot_id_;
    pending_commits_.push_back(std::move(r));
  }
  while (pending_commits_.size() > static_cast<size_t>(config_.store.max_pending_commits)) {
    spdlog::error("store: dropping uncommitted window {} (pending queue full)",
                  FormatUtc(pending_commits_.front().window_end_s));
    pending_commits_.pop_front();
    metrics_.Dropped("commit_failed").Increment();
  }
  // With no failing backlog a fresh window is committed at once; otherwise
  // it waits for the backlog's next retry.
  if (!closed.empty() && pending_commits_.size() == closed.size()) next_commit_retry_mono_ms_ = 0;
  CommitPendingLocked();
}

void Engine::CommitPendingLocked() {
  const int64_t now = RealMonotonicMs();
  if (pending_commits_.empty() || now < next_commit_retry_mono_ms_) return;
  bool committed = false;
  while (!pending_commits_.empty()) {
    Reading& r = pending_commits_.front();
    if (auto st = store_->Commit(r); !st) {
      metrics_.store_errors.Increment();
      spdlog::error("store: commit of window {} failed ({} pending, retry in {} ms): {}",
                    FormatUtc(r.window_end_s), pending_commits_.size(), kCommitRetryMs,
                    st.message());
      next_commit_retry_mono_ms_ = now + kCommitRetryMs;
      break;
    }
    metrics_.windows_closed.Increment();
    observer_queue_.push_back(std::move(r));
    pending_commits_.pop_front();
    committed = true;
  }
  if (committed) {
    const StoreCounters& c = store_->counters();
    if (c.evicted_confirmed > store_counters_seen_.evicted_confirmed) {
      metrics_.Dropped("evicted_confirmed")
          .Increment(static_cast<double>(c.evicted_confirmed - store_counters_seen_.evicted_confirmed));
    }
    if (c.dropped_unconfirmed > store_counters_seen_.dropped_unconfirmed) {
      metrics_.Dropped("dropped_unconfirmed")
          .Increment(
              static_cast<double>(c.dropped_unconfirmed - store_counters_seen_.dropped_unconfirmed));
    }
    store_counters_seen_ = c;
    UpdateGaugesLocked();
    Wake();
  }
}

void Engine::UpdateGaugesLocked() {
  metrics_.outbox_depth.Set(static_cast<double>(store_->unconfirmed()));
  metrics_.store_rows.Set(static_cast<double>(store_->rows()));
  metrics_.store_bytes.Set(static_cast<double>(store_->bytes()));
  metrics_.last_seq.Set(static_cast<double>(store_->last_seq()));
}

std::string Engine::StatusPayloadLocked(bool online, bool will) {
  StationStatus s;
  s.station_id = config_.station_id;
  s.state = online ? "online" : "offline";
  s.agent_version = kVersion;
  s.boot_id = boot_id_;
  const bool trusted = input_clock_ != nullptr ? env_->WallMs() > 0 : ClockTrustedLocked();
  s.ts_s = (!will && trusted) ? env_->WallMs() / 1000 : 0;  // never stamp an untrusted time
  s.buffer_depth = store_->unconfirmed();
  s.last_seq = store_->last_seq();
  s.time = TimeQualityLocked();
  if (!will) s.models = cached_models_;
  return EncodeStatus(s);
}

void Engine::PublishStatusLocked(bool online) {
  if (auto st = mqtt_->Publish(topics_.Status(config_.station_id), StatusPayloadLocked(online, false),
                               true);
      !st) {
    spdlog::warn("mqtt: status not published: {}", st.message());
  }
}

void Engine::ManageConnectionLocked(int64_t now) {
  if (link_up_ || connecting_ || now < next_attempt_mono_ms_) return;
  if (attempts_++ > 0) metrics_.reconnects.Increment();
  connecting_ = true;
  if (auto st = mqtt_->ConnectAsync(); !st) {
    connecting_ = false;
    metrics_.connect_failures.Increment();
    spdlog::warn("mqtt: {}", st.message());
    ScheduleReconnectLocked(now);
  }
}

void Engine::ScheduleReconnectLocked(int64_t now) {
  // Exponential backoff with equal jitter: [b/2, b], b doubling up to the max.
  if (backoff_ms_ <= 0) backoff_ms_ = config_.mqtt.reconnect_min_ms;
  next_attempt_mono_ms_ = now + JitterLocked(backoff_ms_);
  backoff_ms_ = std::min(backoff_ms_ * 2, config_.mqtt.reconnect_max_ms);
}

int64_t Engine::JitterLocked(int64_t d) {
  rng_state_ = rng_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  const int64_t half = d / 2;
  return half + static_cast<int64_t>((rng_state_ >> 33) % static_cast<uint64_t>(half + 1));
}

void Engine::ResetAckBackoffLocked() {
  ack_timeouts_in_row_ = 0;
  ack_wait_ms_ = config_.mqtt.ack_timeout_ms;
}

void Engine::OnLinkEventLocked(bool up, const std::string& cause, int64_t now) {
  // The client counts on paho's threads; the metric follows at link events,
  // which every failed write leads to.
  for (const uint64_t n = mqtt_->failed_publish_writes(); failed_writes_seen_ < n;
       ++failed_writes_seen_) {
    metrics_.failed_publish_writes.Increment();
  }
  for (const uint64_t n = mqtt_->client_resets(); client_resets_seen_ < n; ++client_resets_seen_) {
    metrics_.client_resets.Increment();
  }
  if (up) {
    const bool first = !ever_connected_;
    ever_connected_ = true;
    link_up_ = true;
    connecting_ = false;
    backoff_ms_ = 0;
    live_floor_seq_ = store_->last_seq();
    send_cursor_ = 0;  // replay every unconfirmed reading, in order
    last_progress_mono_ms_ = now;
    metrics_.connected.Set(1);
    spdlog::info("mqtt: {} to {} ({} unconfirmed to replay)", first ? "connected" : "reconnected",
                 config_.mqtt.uri, store_->unconfirmed());
    PublishStatusLocked(true);
    last_status_mono_ms_ = now;
    return;
  }
  if (link_up_) {
    spdlog::warn("mqtt: connection lost: {}", cause);
  } else {
    metrics_.connect_failures.Increment();
    spdlog::warn("mqtt: attempt {} to {}: {}", attempts_, config_.mqtt.uri, cause);
  }
  link_up_ = false;
  connecting_ = false;
  metrics_.connected.Set(0);
  ScheduleReconnectLocked(now);
}

bool Engine::PublishRowsLocked(const std::vector<StoredReading>& rows, size_t count, bool replay,
                               int64_t now) {
  std::vector<const std::string*> fragments;
  fragments.reserve(count);
  for (size_t i = 0; i < count; ++i) fragments.push_back(&rows[i].fragment);
  const std::string payload = BuildBatchPayload(
      config_.station_id, replay ? DeliveryKind::kReplay : DeliveryKind::kLive, fragments);
  if (auto st = mqtt_->Publish(topics_.Readings(config_.station_id), payload, false); !st) {
    // The pump retries on the next delivery or tick: one line per 10 s at
    // most, with how many were left out.
    metrics_.publish_failures.Increment();
    ++publish_failures_unlogged_;
    if (now - publish_failure_logged_mono_ms_ >= 10000 || publish_failure_logged_mono_ms_ == 0) {
      spdlog::warn("mqtt: batch {}..{} not published: {} ({} such failures since the last line)",
                   rows[0].seq, rows[count - 1].seq, st.message(), publish_failures_unlogged_);
      publish_failure_logged_mono_ms_ = now;
      publish_failures_unlogged_ = 0;
    }
    return false;
  }
  metrics_.messages_published.Increment();
  metrics_.Published(replay).Increment(static_cast<double>(count));
  const int64_t first = rows[0].seq;
  const int64_t last = rows[count - 1].seq;
  if (last > max_sent_seq_) {
    sent_batches_.push_back({first, last, now});
    if (sent_batches_.size() > kMaxSentBatches) sent_batches_.pop_front();
    max_sent_seq_ = last;
  }
  return true;
}

void Engine::PumpLocked(int64_t now) {
  if (!link_up_) return;
  const size_t cap = static_cast<size_t>(config_.mqtt.max_inflight_messages);
  const int batch = config_.mqtt.batch_max_readings;
  // Backfill requests first: explicit asks from the collector.
  while (!backfills_.empty() && mqtt_->pending_deliveries() < cap) {
    SeqRange& b = backfills_.front();
    auto rows = store_->Range(b.first, b.last, std::min(batch, kMaxBackfillRows));
    if (!rows) {
      metrics_.store_errors.Increment();
      spdlog::error("store: backfill read failed: {}", rows.message());
      return;
    }
    if (rows->empty()) {
      backfills_.pop_front();
      continue;
    }
    const size_t count = RowsThatFit(config_.station_id, *rows, rows->size());
    if (!PublishRowsLocked(*rows, count, true, now)) return;
    b.first = (*rows)[count - 1].seq + 1;
    if (b.first > b.last) backfills_.pop_front();
  }
  // No ack progress for too long: the collector may have lost what it got
  // after the broker's PUBACK. Replay every unconfirmed reading.
  if (ack_wait_ms_ <= 0) ResetAckBackoffLocked();
  if (store_->unconfirmed() > 0 && send_cursor_ > 0 && now - last_progress_mono_ms_ > ack_wait_ms_) {
    const int64_t base = config_.mqtt.ack_timeout_ms;
    const int64_t max_wait = std::max(base, config_.mqtt.ack_timeout_max_ms);
    int64_t d = base;
    for (int i = 0; i <= ack_timeouts_in_row_ && d < max_wait; ++i) d = std::min(max_wait, d * 2);
    const int64_t waited = now - last_progress_mono_ms_;
    ++ack_timeouts_in_row_;
    ack_wait_ms_ = std::max(base, JitterLocked(d));
    metrics_.ack_timeouts.Increment();
    spdlog::warn("mqtt: no ack for {} ms, replaying {} unconfirmed readings (replay {} in a row; "
                 "next after {} ms without ack)",
                 waited, store_->unconfirmed(), ack_timeouts_in_row_, ack_wait_ms_);
    send_cursor_ = 0;
    last_progress_mono_ms_ = now;
  }
  while (mqtt_->pending_deliveries() < cap) {
    auto in_window = send_cursor_ > 0 ? store_->CountUnconfirmedUpTo(send_cursor_) : Result<int64_t>(0);
    if (!in_window) {
      metrics_.store_errors.Increment();
      return;
    }
    const int64_t room = config_.mqtt.window_readings - *in_window;
    if (room <= 0) return;
    auto rows = store_->Unconfirmed(send_cursor_, static_cast<int>(std::min<int64_t>(batch, room)));
    if (!rows) {
      metrics_.store_errors.Increment();
      spdlog::error("store: outbox read failed: {}", rows.message());
      return;
    }
    if (rows->empty()) return;
    if (*in_window == 0) last_progress_mono_ms_ = now;  // the ack clock starts now
    auto is_live = [&](int64_t seq) { return seq > live_floor_seq_ && seq > max_sent_seq_; };
    const bool live = is_live((*rows)[0].seq);
    size_t count = 1;
    while (count < rows->size() && is_live((*rows)[count].seq) == live) ++count;
    count = RowsThatFit(config_.station_id, *rows, count);
    if (!PublishRowsLocked(*rows, count, !live, now)) return;
    send_cursor_ = (*rows)[count - 1].seq;
  }
}

void Engine::HandleIncomingLocked(const Incoming& msg, int64_t now,
                                  std::vector<Command>& commands) {
  if (msg.topic == topics_.Ack(config_.station_id)) {
    auto ack = DecodeAck(msg.payload, config_.station_id);
    if (!ack) {
      metrics_.acks_rejected.Increment();
      spdlog::warn("mqtt: ack rejected: {}", ack.message());
      return;
    }
    auto n = store_->Confirm(ack->committed);
    if (!n) {
      metrics_.store_errors.Increment();
      spdlog::error("store: confirm failed: {}", n.message());
      return;
    }
    if (*n > 0) {
      metrics_.readings_confirmed.Increment(static_cast<double>(*n));
      last_progress_mono_ms_ = now;
      ResetAckBackoffLocked();
    }
    for (auto it = sent_batches_.begin(); it != sent_batches_.end();) {
      const bool covered = std::any_of(ack->committed.begin(), ack->committed.end(),
                                       [&](const SeqRange& r) {
                                         return r.first <= it->first_seq && it->last_seq <= r.last;
                                       });
      if (covered) {
        metrics_.publish_latency.Observe(static_cast<double>(now - it->sent_mono_ms) / 1000.0);
        it = sent_batches_.erase(it);
      } else {
        ++it;
      }
    }
    UpdateGaugesLocked();
    return;
  }
  if (msg.topic == topics_.Commands(config_.station_id)) {
    auto cmd = DecodeCommand(msg.payload, config_.station_id);
    if (!cmd) {
      metrics_.commands_rejected.Increment();
      spdlog::warn("mqtt: command rejected: {}", cmd.message());
      return;
    }
    metrics_.commands_received.Increment();
    spdlog::info("mqtt: command {} ({})", cmd->name, cmd->id);
    if (cmd->name == "backfill") {
      if (cmd->from_seq >= 1 && cmd->to_seq >= cmd->from_seq &&
          backfills_.size() < kMaxQueuedBackfills) {
        backfills_.push_back({cmd->from_seq, cmd->to_seq});
      } else {
        spdlog::warn("mqtt: backfill {}..{} ignored", cmd->from_seq, cmd->to_seq);
      }
    } else if (cmd->name == "resync") {
      send_cursor_ = 0;
    } else if (cmd->name == "rollback") {
      spdlog::info("mqtt: rollback requested for {} / {} min (handled by the model updater)",
                   cmd->target, cmd->horizon_min);
    }
    commands.push_back(std::move(*cmd));
    return;
  }
  if (msg.topic.rfind(topics_.prefix() + "/models/", 0) == 0) {
    if (manifest_queue_.size() < 256) manifest_queue_.push_back(msg);
    return;
  }
  spdlog::debug("mqtt: message on unexpected topic {}", msg.topic);
}

void Engine::WorkerLoop() {
  int64_t flush_deadline = -1;
  for (;;) {
    {
      std::unique_lock lock(wake_mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(kWorkerTickMs), [this] { return wake_flag_; });
      wake_flag_ = false;
    }
    RefreshModelInfo();
    std::deque<Incoming> incoming;
    std::deque<std::pair<bool, std::string>> events;
    {
      std::lock_guard lock(in_mu_);
      incoming.swap(incoming_);
      events.swap(link_events_);
    }
    std::deque<Reading> to_observe;
    std::vector<Command> commands;
    std::deque<Incoming> manifests;
    bool done = false;
    {
      std::lock_guard lock(mu_);
      const int64_t now = RealMonotonicMs();
      for (const auto& [up, cause] : events) OnLinkEventLocked(up, cause, now);
      for (const Incoming& m : incoming) HandleIncomingLocked(m, now, commands);
      if (input_clock_ == nullptr && ClockTrustedLocked() && !stopping_) {
        CloseAndCommitLocked(env_->WallMs());
      } else {
        CommitPendingLocked();
      }
      if (!stopping_) ManageConnectionLocked(now);
      PumpLocked(now);
      if (link_up_ && now - last_status_mono_ms_ >= config_.mqtt.status_interval_s * 1000) {
        PublishStatusLocked(true);
        last_status_mono_ms_ = now;
      }
      to_observe.swap(observer_queue_);
      manifests.swap(manifest_queue_);
      if (stopping_) {
        if (flush_deadline < 0) flush_deadline = now + config_.mqtt.shutdown_flush_ms;
        done = !link_up_ || store_->unconfirmed() == 0 || now >= flush_deadline;
      }
    }
    for (const Reading& r : to_observe) {
      for (const auto& obs : observers_) {
        try {
          obs(r);
        } catch (const std::exception& e) {
          spdlog::error("agent: reading observer threw: {}", e.what());
        }
      }
    }
    for (const Command& c : commands) {
      for (const auto& obs : command_observers_) {
        try {
          obs(c);
        } catch (const std::exception& e) {
          spdlog::error("agent: command observer threw: {}", e.what());
        }
      }
    }
    for (const Incoming& m : manifests) {
      for (const auto& obs : manifest_observers_) {
        try {
          obs(m.topic, m.payload);
        } catch (const std::exception& e) {
          spdlog::error("agent: manifest observer threw: {}", e.what());
        }
      }
    }
    if (done) return;
  }
}

void Engine::RefreshModelInfo() {
  // The provider belongs to other code and may take its own locks: call it
  // without the engine lock, at most once a second, and cache the answer.
  const int64_t now = RealMonotonicMs();
  ModelInfoProvider provider;
  {
    std::lock_guard lock(mu_);
    if (!model_info_ || (models_refreshed_ && now - models_refreshed_mono_ms_ < 1000)) return;
    provider = model_info_;
  }
  std::vector<ModelVersionInfo> models;
  try {
    models = provider();
  } catch (const std::exception& e) {
    spdlog::error("agent: model info provider threw: {}", e.what());
  }
  std::lock_guard lock(mu_);
  cached_models_ = std::move(models);
  models_refreshed_mono_ms_ = now;
  models_refreshed_ = true;
}

void Engine::AddReadingObserver(ReadingObserver observer) {
  std::lock_guard lock(mu_);
  observers_.push_back(std::move(observer));
}

void Engine::SetModelInfoProvider(ModelInfoProvider provider) {
  std::lock_guard lock(mu_);
  model_info_ = std::move(provider);
}

void Engine::AddCommandObserver(CommandObserver observer) {
  std::lock_guard lock(mu_);
  command_observers_.push_back(std::move(observer));
}

void Engine::AddManifestObserver(ManifestObserver observer) {
  std::lock_guard lock(mu_);
  manifest_observers_.push_back(std::move(observer));
}

Status Engine::PublishPredictions(std::string payload) {
  if (!mqtt_->connected()) {
    metrics_.Dropped("predictions_offline").Increment();
    return MakeError("not connected: prediction payload dropped");
  }
  auto st = mqtt_->Publish(topics_.Predictions(config_.station_id), payload, false);
  if (!st) {
    metrics_.Dropped("predictions_offline").Increment();
    return st;
  }
  metrics_.predictions_published.Increment();
  return Status::Ok();
}

Engine::Snapshot Engine::GetSnapshot() {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.last_seq = store_->last_seq();
  s.unconfirmed = store_->unconfirmed();
  s.rows = store_->rows();
  s.bytes = store_->bytes();
  s.open_windows = aggregator_->open_windows();
  s.pending_commits = pending_commits_.size();
  s.connected = link_up_;
  return s;
}

Status Engine::TEST_SetStoreMaxPageCount(int64_t pages) {
  std::lock_guard lock(mu_);
  return store_->TEST_SetMaxPageCount(pages);
}

}  // namespace sentinelle::agent
