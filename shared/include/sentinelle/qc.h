// Quality control of raw sensor samples and of closed windows.
//
// Sample-level checks (range, spike) decide which samples enter a window's
// mean. Window-level checks (missing, stuck) look across windows. The checker
// is deterministic and owns no clock: callers feed it samples in time order.
#pragma once

#include <array>
#include <cstdint>

#include "sentinelle/reading.h"

namespace sentinelle {

struct QcConfig {
  // A sensor whose valid samples have not changed by more than stuck_epsilon
  // for stuck_windows consecutive windows is flagged stuck.
  int stuck_windows = 6;
  double stuck_epsilon = 1e-9;
  // Variables that legitimately stay constant (rain at 0, wind direction in calm).
  bool stuck_ignores_zero = true;
};

enum class SampleVerdict : uint8_t { kAccept, kOutOfRange, kSpike, kInvalid };

class QcChecker {
 public:
  explicit QcChecker(QcConfig config = {});

  // Classifies one sample of one variable. Updates the spike reference only
  // for accepted samples.
  SampleVerdict CheckSample(Variable v, double value);

  // Applies window-level checks to a closed window in place: a variable whose
  // value equals the previous windows' for too long becomes kStuck.
  void CheckWindow(Reading& reading);

  void Reset();

 private:
  QcConfig config_;
  std::array<double, kVariableCount> last_sample_{};
  std::array<bool, kVariableCount> has_last_sample_{};
  std::array<double, kVariableCount> rejected_{};   // last sample rejected as a spike
  std::array<bool, kVariableCount> has_rejected_{};
  std::array<double, kVariableCount> last_window_value_{};
  std::array<int, kVariableCount> same_windows_{};
};

}  // namespace sentinelle
