#include "sentinelle/collector/gap_ledger.h"

#include <algorithm>

namespace sentinelle::collector {

GapLedger::GapLedger(GapConfig config) : config_(config) {}

void GapLedger::Restore(const std::vector<std::pair<std::string, int64_t>>& highest_seqs,
                        const std::vector<GapRecord>& open_gaps) {
  std::lock_guard<std::mutex> lock(mu_);
  committed_.clear();
  staged_.clear();
  staged_lost_.clear();
  for (const auto& [station, high] : highest_seqs) committed_[station].high = high;
  for (const GapRecord& g : open_gaps) {
    if (g.state != "open") continue;
    StationLedger& l = committed_[g.station_id];
    l.open.push_back(g);
    // A gap can only exist below the highest seq the ledger has heard of
    // (status last_seq may exceed what is stored).
    l.high = std::max(l.high, g.to_seq);
  }
  for (auto& [station, l] : committed_) {
    std::sort(l.open.begin(), l.open.end(),
              [](const GapRecord& a, const GapRecord& b) { return a.from_seq < b.from_seq; });
  }
}

GapLedger::StationLedger& GapLedger::Mutable(const std::string& station) {
  auto it = staged_.find(station);
  if (it != staged_.end()) return it->second;
  StationLedger copy;
  if (auto c = committed_.find(station); c != committed_.end()) copy = c->second;
  copy.gaps_dirty = false;
  return staged_.emplace(station, std::move(copy)).first->second;
}

void GapLedger::AddGap(const std::string& station, StationLedger& l, int64_t from, int64_t to,
                       int64_t now_ms) {
  GapRecord g;
  g.station_id = station;
  g.from_seq = from;
  g.to_seq = to;
  g.state = "open";
  g.detected_ms = now_ms;
  l.open.push_back(std::move(g));  // always above every existing gap
  l.gaps_dirty = true;
}

void GapLedger::CloseLost(StationLedger& l, size_t index, int64_t to_seq, int64_t now_ms,
                          const char* reason) {
  GapRecord& g = l.open[index];
  GapRecord lost = g;
  lost.to_seq = std::min(to_seq, g.to_seq);
  lost.state = "lost";
  lost.closed_ms = now_ms;
  lost.reason = reason;
  staged_lost_.push_back(lost);
  if (to_seq >= g.to_seq) {
    l.open.erase(l.open.begin() + static_cast<std::ptrdiff_t>(index));
  } else {
    g.from_seq = to_seq + 1;
  }
  l.gaps_dirty = true;
}

void GapLedger::RemoveSeq(StationLedger& l, int64_t seq) {
  auto it = std::upper_bound(l.open.begin(), l.open.end(), seq,
                             [](int64_t s, const GapRecord& g) { return s < g.from_seq; });
  if (it == l.open.begin()) return;
  --it;
  GapRecord& g = *it;
  if (seq > g.to_seq) return;
  l.gaps_dirty = true;
  if (g.from_seq == g.to_seq) {
    l.open.erase(it);
    return;
  }
  if (seq == g.from_seq) {
    ++g.from_seq;
  } else if (seq == g.to_seq) {
    --g.to_seq;
  } else {
    GapRecord upper = g;
    upper.from_seq = seq + 1;
    g.to_seq = seq - 1;
    l.open.insert(it + 1, std::move(upper));
    return;
  }
  // The requested chunk has fully arrived: the rest of the gap may be asked
  // for at once.
  if (g.requested_to > 0 && g.from_seq > g.requested_to) {
    g.attempts = 0;
    g.last_request_ms = 0;
    g.requested_to = 0;
  }
}

void GapLedger::Heard(StationLedger& l, int64_t now_ms) {
  // Back after a silence longer than a retry period (reconnected, or this
  // collector restarted): requests sent meanwhile may never have reached it,
  // and it is replaying its unconfirmed readings now. Its gaps get a full
  // retry period from here before they can time out.
  if (now_ms - l.heard_ms > int64_t{config_.retry_s} * 1000) {
    for (GapRecord& g : l.open) {
      if (g.attempts > 0 && g.last_request_ms < now_ms) {
        g.last_request_ms = now_ms;
        l.gaps_dirty = true;
      }
    }
  }
  l.heard_ms = std::max(l.heard_ms, now_ms);
}

void GapLedger::StageReading(const std::string& station, int64_t seq, bool replay,
                             int64_t now_ms) {
  if (seq <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  StationLedger& l = Mutable(station);
  Heard(l, now_ms);
  if (seq > l.high) {
    if (seq > l.high + 1) AddGap(station, l, l.high + 1, seq - 1, now_ms);
    l.high = seq;
    return;
  }
  if (replay) {
    for (size_t i = 0; i < l.open.size(); ++i) {
      const GapRecord& g = l.open[i];
      if (seq > g.from_seq && seq <= g.to_seq && g.attempts > 0) {
        // Agents replay in seq order: what lies below seq in this gap is gone.
        CloseLost(l, i, seq - 1, now_ms, "agent_answered");
        break;
      }
    }
  }
  RemoveSeq(l, seq);
}

void GapLedger::StageLastSeq(const std::string& station, int64_t last_seq, int64_t now_ms) {
  if (last_seq <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  StationLedger& l = Mutable(station);
  Heard(l, now_ms);
  if (last_seq > l.high) {
    AddGap(station, l, l.high + 1, last_seq, now_ms);
    l.high = last_seq;
  }
}

std::vector<BackfillRequest> GapLedger::StageRequests(
    int64_t now_ms, const std::function<bool(const std::string&)>& may_request,
    const std::function<Result<std::vector<int64_t>>(const std::string&, int64_t, int64_t)>&
        stored_seqs) {
  std::lock_guard<std::mutex> lock(mu_);
  const double burst = std::max(1.0, config_.max_requests_per_s);
  if (tokens_at_ms_ == 0) {
    tokens_ = burst;
  } else {
    tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ms - tokens_at_ms_) / 1000.0 *
                                            config_.max_requests_per_s);
  }
  tokens_at_ms_ = now_ms;
  const int64_t grace_ms = int64_t{config_.grace_s} * 1000;
  const int64_t retry_ms = int64_t{config_.retry_s} * 1000;
  std::vector<std::string> stations;
  for (const auto& [station, l] : committed_) {
    if (!l.open.empty()) stations.push_back(station);
  }
  std::vector<BackfillRequest> out;
  for (const std::string& station : stations) {
    StationLedger* l = nullptr;
    auto view = [&]() -> StationLedger& {
      if (!l) l = &Mutable(station);
      return *l;
    };
    const StationLedger& c = committed_.at(station);
    // Timeouts first: gaps asked for max_attempts times without an answer
    // although the station spoke after the last request. One silent since
    // may not have received it: its gap is asked again below.
    for (const GapRecord& g : c.open) {
      if (g.attempts >= config_.max_attempts && now_ms - g.last_request_ms >= retry_ms &&
          c.heard_ms > g.last_request_ms) {
        StationLedger& m = view();
        for (size_t i = 0; i < m.open.size(); ++i) {
          if (m.open[i].from_seq == g.from_seq) {
            CloseLost(m, i, m.open[i].to_seq, now_ms, "timeout");
            break;
          }
        }
      }
    }
    const StationLedger& cur = l ? *l : c;
    const GapRecord* due = nullptr;
    for (const GapRecord& g : cur.open) {
      if (now_ms - g.detected_ms < grace_ms) continue;
      if (g.attempts > 0 && now_ms - g.last_request_ms < retry_ms) continue;
      due = &g;
      break;
    }
    if (!due || !may_request(station)) continue;
    if (tokens_ < 1.0) break;
    const int64_t from = due->from_seq;
    const int64_t to = std::min(due->to_seq, from + std::max(1, config_.max_range) - 1);
    if (stored_seqs) {
      auto stored = stored_seqs(station, from, to);
      if (stored && !stored->empty()) {
        // Filled behind our back (another collector, an import): settle
        // the ledger and ask for the rest in a later round.
        StationLedger& m = view();
        for (int64_t s : *stored) RemoveSeq(m, s);
        continue;
      }
    }
    StationLedger& m = view();
    for (GapRecord& g : m.open) {
      if (g.from_seq != from) continue;
      ++g.attempts;
      g.last_request_ms = now_ms;
      g.requested_to = to;
      m.gaps_dirty = true;
      out.push_back({station, from, to, g.attempts});
      tokens_ -= 1.0;
      break;
    }
  }
  return out;
}

void GapLedger::ExportStaged(WriteBatch* batch) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [station, l] : staged_) {
    if (l.gaps_dirty) batch->open_gaps.emplace_back(station, l.open);
  }
  batch->lost_gaps.insert(batch->lost_gaps.end(), staged_lost_.begin(), staged_lost_.end());
}

bool GapLedger::HasStaged() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!staged_lost_.empty()) return true;
  for (const auto& [station, l] : staged_) {
    if (l.gaps_dirty) return true;
  }
  return false;
}

void GapLedger::CommitStaged() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [station, l] : staged_) {
    l.gaps_dirty = false;
    committed_[station] = std::move(l);
  }
  staged_.clear();
  staged_lost_.clear();
}

void GapLedger::AbortStaged() {
  std::lock_guard<std::mutex> lock(mu_);
  staged_.clear();
  staged_lost_.clear();
}

std::vector<GapRecord> GapLedger::OpenGaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<GapRecord> out;
  for (const auto& [station, l] : committed_) out.insert(out.end(), l.open.begin(), l.open.end());
  return out;
}

int64_t GapLedger::OutstandingSeqs() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [station, l] : committed_) {
    for (const GapRecord& g : l.open) n += g.to_seq - g.from_seq + 1;
  }
  return n;
}

int64_t GapLedger::OpenGapCount(const std::string& station) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = committed_.find(station);
  return it == committed_.end() ? 0 : static_cast<int64_t>(it->second.open.size());
}

std::map<std::string, int64_t> GapLedger::OpenGapCounts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int64_t> out;
  for (const auto& [station, l] : committed_) {
    if (!l.open.empty()) out[station] = static_cast<int64_t>(l.open.size());
  }
  return out;
}

int64_t GapLedger::HighestSeq(const std::string& station) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = committed_.find(station);
  return it == committed_.end() ? 0 : it->second.high;
}

}  // namespace sentinelle::collector
