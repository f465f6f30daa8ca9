#include "sentinelle/monitor/rolling.h"

#include <cmath>
#include <stdexcept>

#include "sentinelle/monitor/histogram.h"

namespace sentinelle::monitor {

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t Mod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

}  // namespace

RollingHistogram::RollingHistogram(std::vector<double> edges, WindowOptions options)
    : edges_(std::move(edges)), options_(options), bins_(BinCount(edges_)) {
  if (edges_.size() < 2 || edges_.size() > kMaxInteriorBins + 1) {
    throw std::invalid_argument("RollingHistogram: needs 2.." +
                                std::to_string(kMaxInteriorBins + 1) + " edges");
  }
  for (size_t i = 0; i < edges_.size(); ++i) {
    if (!std::isfinite(edges_[i]) || (i > 0 && !(edges_[i] > edges_[i - 1]))) {
      throw std::invalid_argument("RollingHistogram: edges must be finite and increasing");
    }
  }
  const int64_t b = options_.bucket_s;
  if (b < 3600 || b % 3600 != 0 || 86400 % b != 0) {
    throw std::invalid_argument("RollingHistogram: bucket_s must be whole hours dividing a day");
  }
  if (options_.buckets < 1 || options_.buckets > 100000) {
    throw std::invalid_argument("RollingHistogram: buckets outside 1..100000");
  }
  // Bands a bucket overlaps depend only on its position within the day.
  positions_ = static_cast<int>(86400 / b);
  const int hours = static_cast<int>(b / 3600);
  slot_of_band_.assign(static_cast<size_t>(positions_) * kBandCount, -1);
  std::vector<std::vector<int>> bands(positions_);
  for (int p = 0; p < positions_; ++p) {
    for (int h = p * hours; h < (p + 1) * hours; ++h) {
      const int band = static_cast<int>(BandOfHour(h));
      int8_t& slot = slot_of_band_[static_cast<size_t>(p) * kBandCount + band];
      if (slot < 0) {
        slot = static_cast<int8_t>(bands[p].size());
        bands[p].push_back(band);
      }
    }
    slots_ = std::max(slots_, static_cast<int>(bands[p].size()));
  }
  band_of_slot_.assign(static_cast<size_t>(positions_) * slots_, -1);
  for (int p = 0; p < positions_; ++p) {
    for (size_t s = 0; s < bands[p].size(); ++s) {
      band_of_slot_[static_cast<size_t>(p) * slots_ + s] = static_cast<int8_t>(bands[p][s]);
    }
  }
  const size_t ring = static_cast<size_t>(options_.buckets);
  bucket_id_.assign(ring, kNoBucket);
  bucket_n_.assign(ring, 0);
  bucket_counts_.assign(ring * slots_ * bins_, 0);
  bucket_under_.assign(ring * slots_, 0.0);
  bucket_over_.assign(ring * slots_, 0.0);
  counts_.assign(static_cast<size_t>(kContextCount) * bins_, 0);
  n_.assign(kContextCount, 0);
  under_sum_.assign(kContextCount, 0.0);
  over_sum_.assign(kContextCount, 0.0);
}

int RollingHistogram::Slot(int64_t bucket_id, Band band) const {
  const auto p = static_cast<size_t>(Mod(bucket_id, positions_));
  return slot_of_band_[p * kBandCount + static_cast<size_t>(band)];
}

void RollingHistogram::Expire(int r) {
  const int64_t id = bucket_id_[r];
  if (id == kNoBucket || bucket_n_[r] == 0) return;
  const auto p = static_cast<size_t>(Mod(id, positions_));
  const int season = static_cast<int>(SeasonOf(id * options_.bucket_s));
  for (int s = 0; s < slots_; ++s) {
    const int band = band_of_slot_[p * slots_ + s];
    if (band < 0) continue;
    const int ctx = season * kBandCount + band;
    const size_t base = (static_cast<size_t>(r) * slots_ + s) * bins_;
    uint64_t* total = counts_.data() + static_cast<size_t>(ctx) * bins_;
    uint64_t n = 0;
    for (int i = 0; i < bins_; ++i) {
      total[i] -= bucket_counts_[base + i];
      n += bucket_counts_[base + i];
      bucket_counts_[base + i] = 0;
    }
    n_[ctx] -= n;
    const size_t t = static_cast<size_t>(r) * slots_ + s;
    // Float sums do not cancel exactly; an emptied tail bin resets to 0.
    under_sum_[ctx] = total[0] == 0 ? 0.0 : under_sum_[ctx] - bucket_under_[t];
    over_sum_[ctx] = total[bins_ - 1] == 0 ? 0.0 : over_sum_[ctx] - bucket_over_[t];
    bucket_under_[t] = 0;
    bucket_over_[t] = 0;
  }
  bucket_n_[r] = 0;
}

void RollingHistogram::AdvanceTo(int64_t now_s) {
  const int64_t b = FloorDiv(now_s, options_.bucket_s);
  if (head_ != kNoBucket && b <= head_) return;
  const int64_t from = head_ == kNoBucket ? b - options_.buckets + 1
                                          : std::max(head_ + 1, b - options_.buckets + 1);
  for (int64_t k = from; k <= b; ++k) {
    const int r = static_cast<int>(Mod(k, options_.buckets));
    Expire(r);
    bucket_id_[r] = k;
  }
  head_ = b;
}

RollingHistogram::AddResult RollingHistogram::Add(int64_t ts_s, double value) {
  if (!std::isfinite(value)) return AddResult::kNotFinite;
  const int64_t b = FloorDiv(ts_s, options_.bucket_s);
  if (head_ == kNoBucket || b > head_) AdvanceTo(ts_s);
  if (b <= head_ - options_.buckets) return AddResult::kTooOld;
  const int r = static_cast<int>(Mod(b, options_.buckets));
  const Band band = BandOf(ts_s);
  const int slot = Slot(b, band);
  const int ctx = ContextIndex(SeasonOf(ts_s), band);
  const int bin = BinOf(edges_, value);
  const size_t t = static_cast<size_t>(r) * slots_ + slot;
  bucket_counts_[t * bins_ + bin]++;
  bucket_n_[r]++;
  counts_[static_cast<size_t>(ctx) * bins_ + bin]++;
  n_[ctx]++;
  if (bin == 0) {
    bucket_under_[t] += value;
    under_sum_[ctx] += value;
  } else if (bin == bins_ - 1) {
    bucket_over_[t] += value;
    over_sum_[ctx] += value;
  }
  return AddResult::kAdded;
}

uint64_t RollingHistogram::Total() const {
  uint64_t n = 0;
  for (uint64_t c : n_) n += c;
  return n;
}

int64_t RollingHistogram::window_start_s() const {
  return head_ == kNoBucket ? 0 : (head_ - options_.buckets + 1) * options_.bucket_s;
}

int64_t RollingHistogram::window_end_s() const {
  return head_ == kNoBucket ? 0 : (head_ + 1) * options_.bucket_s;
}

size_t RollingHistogram::MemoryBytes() const {
  return sizeof(*this) + edges_.capacity() * sizeof(double) + slot_of_band_.capacity() +
         band_of_slot_.capacity() + bucket_id_.capacity() * sizeof(int64_t) +
         bucket_n_.capacity() * sizeof(uint32_t) + bucket_counts_.capacity() * sizeof(uint32_t) +
         (bucket_under_.capacity() + bucket_over_.capacity()) * sizeof(double) +
         (counts_.capacity() + n_.capacity()) * sizeof(uint64_t) +
         (under_sum_.capacity() + over_sum_.capacity()) * sizeof(double);
}

}  // namespace sentinelle::monitor
