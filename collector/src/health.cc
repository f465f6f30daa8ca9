#include "sentinelle/collector/health.h"

#include <algorithm>

namespace sentinelle::collector {

std::string_view HealthStateName(HealthState s) {
  switch (s) {
    case HealthState::kOffline: return "offline";
    case HealthState::kSilent: return "silent";
    case HealthState::kClockUnsynced: return "clock_unsynced";
    case HealthState::kQcAlarm: return "qc_alarm";
    case HealthState::kDegraded: return "degraded";
    case HealthState::kStaleModel: return "stale_model";
    case HealthState::kReady: return "ready";
    case HealthState::kUnknown: return "unknown";
  }
  return "unknown";
}

HealthTracker::HealthTracker(HealthConfig config)
    : config_(config), alpha_(2.0 / (std::max(1, config.recent_readings) + 1.0)) {}

void HealthTracker::Restore(const std::vector<StationRecord>& stations) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const StationRecord& rec : stations) {
    Entry& e = entries_[rec.info.id];
    e.first_seen_ms = rec.first_seen_ms;
    e.last_reading_ms = std::max(e.last_reading_ms, rec.last_reading_ms);
    if (rec.status) {
      auto st = DecodeStatus(rec.status->payload, rec.info.id);
      if (st) {
        e.status_state = st->state;
        e.status_ms = rec.status->received_ms;
        e.status_synced = st->time.synced || st->state == "offline";
        e.buffer_depth = st->buffer_depth;
        e.last_seq = st->last_seq;
        e.models = st->models;
      }
    }
  }
}

void HealthTracker::Track(const std::string& station) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.try_emplace(station);
}

void HealthTracker::OnReading(const StoredReading& sr) {
  const Reading& r = sr.reading;
  int bad = 0;
  for (int i = 0; i < kVariableCount; ++i) bad += r.qc[i] != QcFlag::kOk ? 1 : 0;
  const double rate = static_cast<double>(bad) / kVariableCount;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[r.station_id];
  if (e.first_seen_ms == 0) e.first_seen_ms = sr.arrival_ms;
  if (sr.origin == ReadingOrigin::kImport) return;
  e.qc_rate = e.has_qc ? e.qc_rate + alpha_ * (rate - e.qc_rate) : rate;
  e.has_qc = true;
  e.interval_s = r.interval_s;
  // Replayed windows are old news: they fill history, not freshness or clock state.
  if (sr.origin == ReadingOrigin::kLive && sr.arrival_ms >= e.last_reading_ms) {
    e.last_reading_ms = sr.arrival_ms;
    e.clock = sr.clock;
  } else if (sr.origin == ReadingOrigin::kReplay) {
    e.last_reading_ms = std::max(e.last_reading_ms, sr.arrival_ms);
    if (sr.clock == ClockFlag::kUnsynced) e.clock = sr.clock;
  }
}

void HealthTracker::OnStatus(const StationStatus& s, int64_t received_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[s.station_id];
  if (e.first_seen_ms == 0) e.first_seen_ms = received_ms;
  e.status_state = s.state;
  e.status_ms = received_ms;
  if (s.state == "online") {
    e.status_synced = s.time.synced;
    e.buffer_depth = s.buffer_depth;
    e.last_seq = s.last_seq;
    e.models = s.models;
  }
}

void HealthTracker::OnPrediction(const std::string& station, bool fallback) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[station];
  const double x = fallback ? 1.0 : 0.0;
  e.fallback_rate = e.has_fallback ? e.fallback_rate + alpha_ * (x - e.fallback_rate) : x;
  e.has_fallback = true;
}

namespace {
constexpr size_t kMaxKnownVersions = 4096;

// Registry versions are positive decimal integers; anything else is 0.
int64_t VersionNumber(const std::string& v) {
  if (v.empty() || v.size() > 18) return 0;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string FamilyLabel(const ModelFamilyKey& k) {
  return k.target + "/" + std::to_string(k.horizon_min) + "/" + k.kind;
}
}  // namespace

void HealthTracker::SetDistributedModels(const ModelFamilyKey& family,
                                         std::vector<DistributedModel> models) {
  std::lock_guard<std::mutex> lock(mu_);
  for (DistributedModel& m : models) {
    if (const int64_t n = VersionNumber(m.version); n > 0 && m.expires_ms > 0) {
      int64_t& e = expiry_by_version_[n];
      e = std::max(e, m.expires_ms);
    }
  }
  while (expiry_by_version_.size() > kMaxKnownVersions) {
    expiry_by_version_.erase(expiry_by_version_.begin());
  }
  if (models.empty()) {
    distributed_.erase(family);
    return;
  }
  auto it = distributed_.find(family);
  if (it != distributed_.end()) {
    // The same version in the same scope was expected before: keep since when.
    for (DistributedModel& m : models) {
      for (const DistributedModel& old : it->second) {
        if (old.version == m.version && old.stations == m.stations) {
          m.since_ms = std::min(m.since_ms, old.since_ms);
        }
      }
    }
  }
  distributed_[family] = std::move(models);
}

size_t HealthTracker::distributed_families() const {
  std::lock_guard<std::mutex> lock(mu_);
  return distributed_.size();
}

const DistributedModel* HealthTracker::Expected(const std::string& station,
                                                const ModelFamilyKey& key) const {
  auto it = distributed_.find(key);
  if (it == distributed_.end()) return nullptr;
  const DistributedModel* everyone = nullptr;
  for (const DistributedModel& m : it->second) {
    if (m.stations.empty()) {
      everyone = &m;
    } else if (std::find(m.stations.begin(), m.stations.end(), station) != m.stations.end()) {
      return &m;  // a canary in scope wins over production
    }
  }
  return everyone;
}

StationHealth HealthTracker::Evaluate(const std::string& id, const Entry& e, int64_t now_ms,
                                      int64_t open_gaps) const {
  StationHealth h;
  h.station_id = id;
  h.status_state = e.status_state;
  h.last_reading_ms = e.last_reading_ms;
  h.last_status_ms = e.status_ms;
  h.interval_s = e.interval_s;
  h.qc_failure_rate = e.qc_rate;
  h.fallback_rate = e.fallback_rate;
  h.open_gaps = open_gaps;
  h.buffer_depth = e.buffer_depth;
  h.last_seq = e.last_seq;
  h.models = e.models;
  h.clock = std::string(ClockFlagName(e.clock));
  if (!e.status_synced && e.clock == ClockFlag::kOk) h.clock = "unsynced";

  const double interval_ms = 1000.0 * std::max(1, e.interval_s);
  const int64_t last_heard = std::max(e.last_reading_ms, e.status_ms);
  std::vector<HealthState> found;
  auto add = [&](HealthState s, std::string why) {
    found.push_back(s);
    h.reasons.push_back(std::move(why));
  };
  if (last_heard == 0) {
    h.state = HealthState::kUnknown;
    h.reasons.push_back("never heard from");
    return h;
  }
  const bool will_after_data = e.status_state == "offline" && e.status_ms >= e.last_reading_ms;
  const int64_t since_reading =
      now_ms - (e.last_reading_ms > 0 ? e.last_reading_ms : e.status_ms);
  if (will_after_data) {
    add(HealthState::kOffline, "last will received");
  } else if (since_reading > config_.offline_after_intervals * interval_ms &&
             now_ms - e.status_ms > config_.offline_after_intervals * interval_ms) {
    add(HealthState::kOffline, "nothing heard for " + std::to_string(since_reading / 1000) + " s");
  } else if (since_reading > config_.silent_after_intervals * interval_ms) {
    add(HealthState::kSilent, "no reading for " + std::to_string(since_reading / 1000) + " s");
  }
  if (h.clock != "ok") add(HealthState::kClockUnsynced, "clock " + h.clock);
  if (e.has_qc && e.qc_rate > config_.qc_alarm_rate) {
    add(HealthState::kQcAlarm, "QC failure rate " + std::to_string(e.qc_rate));
  }
  if (open_gaps > 0) add(HealthState::kDegraded, std::to_string(open_gaps) + " open gaps");
  if (e.has_fallback && e.fallback_rate > config_.fallback_degraded_rate) {
    add(HealthState::kDegraded, "fallback rate " + std::to_string(e.fallback_rate));
  }
  for (const ModelVersionInfo& m : e.models) {
    // Shadow models ("network-shadow", ...) and persistence are not distributed answers.
    if (m.kind != "network" && m.kind != "linear" && m.kind != "station") continue;
    ModelFamilyKey key{m.target, m.horizon_min, m.kind, m.kind == "station" ? id : ""};
    const std::string family = FamilyLabel(key);
    if (const int64_t n = VersionNumber(m.version); n > 0) {
      auto exp = expiry_by_version_.find(n);
      if (exp != expiry_by_version_.end() && now_ms > exp->second) {
        add(HealthState::kStaleModel, "model " + family + " runs " + m.version +
                                          ", its manifest expired " +
                                          std::to_string((now_ms - exp->second) / 1000) + " s ago");
        continue;
      }
    }
    const DistributedModel* want = Expected(id, key);
    if (want == nullptr || want->version == m.version) continue;
    const int64_t behind_ms = now_ms - want->since_ms;
    if (behind_ms > int64_t{config_.model_stale_s} * 1000) {
      add(HealthState::kStaleModel, "model " + family + " runs " + m.version + ", current " +
                                        want->version + " since " +
                                        std::to_string(behind_ms / 1000) + " s");
    }
  }
  h.state = HealthState::kReady;
  for (HealthState s : found) h.state = std::min(h.state, s);
  return h;
}

bool HealthTracker::ReachableGuess(const std::string& station) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(station);
  return it == entries_.end() || it->second.status_state != "offline";
}

size_t HealthTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::optional<StationHealth> HealthTracker::Get(const std::string& station, int64_t now_ms,
                                                int64_t open_gaps) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(station);
  if (it == entries_.end()) return std::nullopt;
  return Evaluate(station, it->second, now_ms, open_gaps);
}

std::vector<StationHealth> HealthTracker::All(
    int64_t now_ms, const std::map<std::string, int64_t>& open_gaps) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StationHealth> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    auto g = open_gaps.find(id);
    out.push_back(Evaluate(id, e, now_ms, g == open_gaps.end() ? 0 : g->second));
  }
  return out;
}

std::array<int64_t, kHealthStateCount> HealthTracker::CountByState(
    int64_t now_ms, const std::map<std::string, int64_t>& open_gaps) const {
  std::array<int64_t, kHealthStateCount> counts{};
  for (const StationHealth& h : All(now_ms, open_gaps)) ++counts[static_cast<int>(h.state)];
  return counts;
}

}  // namespace sentinelle::collector
