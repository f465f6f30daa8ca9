#include "sentinelle/qc.h"

#include <cmath>

namespace sentinelle {

QcChecker::QcChecker(QcConfig config) : config_(config) { Reset(); }

void QcChecker::Reset() {
  last_sample_.fill(0.0);
  has_last_sample_.fill(false);
  rejected_.fill(0.0);
  has_rejected_.fill(false);
  last_window_value_.fill(kMissingValue);
  same_windows_.fill(0);
}

SampleVerdict QcChecker::CheckSample(Variable v, double value) {
  const int i = static_cast<int>(v);
  const VariableInfo& info = Info(v);
  if (!std::isfinite(value)) return SampleVerdict::kInvalid;
  if (value < info.min || value > info.max) return SampleVerdict::kOutOfRange;
  if (has_last_sample_[i] && std::fabs(value - last_sample_[i]) > info.max_step) {
    // A lone jump is a spike. If the next sample stays near the new level,
    // the jump was a real level shift: accept it and move the reference.
    if (has_rejected_[i] && std::fabs(value - rejected_[i]) <= info.max_step) {
      has_rejected_[i] = false;
      last_sample_[i] = value;
      return SampleVerdict::kAccept;
    }
    rejected_[i] = value;
    has_rejected_[i] = true;
    return SampleVerdict::kSpike;
  }
  has_rejected_[i] = false;
  last_sample_[i] = value;
  has_last_sample_[i] = true;
  return SampleVerdict::kAccept;
}

void QcChecker::CheckWindow(Reading& r) {
  for (int i = 0; i < kVariableCount; ++i) {
    const double v = r.values[i];
    if (r.qc[i] != QcFlag::kOk || std::isnan(v)) {
      same_windows_[i] = 0;
      last_window_value_[i] = kMissingValue;
      continue;
    }
    if (!std::isnan(last_window_value_[i]) &&
        std::fabs(v - last_window_value_[i]) <= config_.stuck_epsilon &&
        !(config_.stuck_ignores_zero && v == 0.0)) {
      ++same_windows_[i];
    } else {
      same_windows_[i] = 1;
    }
    last_window_value_[i] = v;
    if (same_windows_[i] >= config_.stuck_windows) r.qc[i] = QcFlag::kStuck;
  }
}

}  // namespace sentinelle
