// Sensor fault or real change: reading one feature's drift across the
// network (docs/MONITORING.md, "Sensor fault or regional change").
//
// Rule, per feature, over the stations whose drift could be evaluated:
//  - neighbours of a station: the up to `k_nearest` closest other evaluated
//    stations within `radius_km` (great-circle distance);
//  - network-wide change: when at least `network_share` of the evaluated
//    stations (and at least `min_region_stations`) drift, every drifting
//    station is part of a regional change;
//  - otherwise, for a drifting station with n neighbours of which d drift:
//      n == 0                                 -> kIsolated (nothing to compare with)
//      d / n <= sensor_fault_max_share and
//        the station's shift is an outlier
//        among its neighbours' shifts         -> kSensorFault
//      d / n >= regional_min_share and the
//        station's drifting group (drifting
//        stations linked through neighbour
//        relations with d/n >= regional_min_share)
//        has >= min_region_stations members   -> kRegionalChange
//      otherwise                              -> kUndetermined
// Outlier test (min_relative_z > 0): weather moves every station of a city,
// by different amounts (a dust episode is stronger in one district than the
// next), so a station whose neighbours stay under the drift thresholds is
// not yet a sensor fault. Its signed shift (FeatureDrift::shift, median
// shift in reference IQRs) must stand out from its neighbours' shifts:
//   z = |shift - median(neighbour shifts)| / max(1.4826 * MAD, min_shift_spread)
// and z >= min_relative_z, and the neighbours' median shift must be small
// (neighbours still, below). A drifting station that fails the test moves
// with its neighbours, only more: kUndetermined (no alarm change).
// A station that does not drift by its own thresholds is a sensor fault too
// when it passes the same neighbour conditions and its shift is at least
// `sensor_min_relative_shift` IQRs away from its neighbours' median
// (differential test; its drift figures are reported as they are).
//
// Calibrated neighbour test (docs/MONITORING.md, "Sensor faults are judged
// against the neighbours"). A whole season can sit off the reference year
// (the network's common offset), so neither "the neighbours did not move at
// all" nor "the station moved" is the question; the question is whether the
// station departs from its neighbours by more than ordinary weather makes
// it. With calibrated null windows (calibrate.h) both halves are judged on
// the stations' own history:
//  - neighbours still: each neighbour's shift minus its seasonal baseline
//    (the median shift of its null windows that ended within +-season_days
//    of this day of year in an earlier year, at least min_relative_windows
//    of them), over max_neighbour_shift, and the median of those within
//    +-1. A neighbour without a baseline is judged on its raw shift.
//  - the station departs: its relative shift (shift - the neighbours' median
//    shift) must also exceed the relative bound: the `relative_quantile`
//    quantile x `relative_margin` of |station null shift - median of the
//    neighbours' null shifts| over the calibration windows that ended at the
//    same time (StationDrift::null). What the station-minus-neighbours
//    difference did in a year of weather, seasons included, is the null;
//    without enough common windows (min_relative_windows) no such bound
//    applies.
// A sensor fault means: check/recalibrate the station, exclude its data from
// training, do not retrain. A regional change means the world changed: a
// retraining candidate (subject to the trainer's cooldown).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sentinelle/monitor/alarm.h"
#include "sentinelle/monitor/calibrate.h"
#include "sentinelle/monitor/drift.h"

namespace sentinelle::monitor {

struct StationDrift {
  std::string station_id;
  double lat = 0, lon = 0;  // degrees
  bool evaluated = false;   // false: insufficient data, left out of every decision
  bool drifting = false;
  double score = 0;         // FeatureDrift::score
  FeatureDrift figures;     // optional detail carried into alarm figures
  // The station's own null windows of this feature (calibrate.h; `at`
  // ascending), for the relative bound. Optional; must outlive the call.
  const NullSample* null = nullptr;
};

struct ClassifierConfig {
  int k_nearest = 4;
  double radius_km = 30;
  double sensor_fault_max_share = 0.25;
  double regional_min_share = 0.5;
  int min_region_stations = 3;
  double network_share = 0.5;
  // Outlier test against the neighbours' shifts (0 disables it).
  double min_relative_z = 3.0;
  double min_shift_spread = 0.15;  // in reference IQRs: the smallest spread assumed
  // A sensor fault also needs the neighbours to hold still: the median of
  // their shifts, each less its seasonal baseline when it has one, within
  // +-max_neighbour_shift (reference IQRs). When they moved
  // too (a city-wide change that hits one district hardest, a dust
  // episode), the station is undetermined (negative: no such condition).
  double max_neighbour_shift = 0.2;
  // Relative bound from the null windows (see above): quantile and margin
  // of |station null shift - neighbours' median null shift|, and the common
  // windows it needs (fewer: no relative bound).
  double relative_quantile = 0.95;
  double relative_margin = 1.5;
  int min_relative_windows = 8;
  // Seasonal baseline of a neighbour: its null windows that ended within
  // +-season_days of the evaluation's day of year (earlier years).
  double season_days = 15;
  // Differential sensor fault: a station whose own thresholds are not
  // crossed is still a sensor fault when, with the neighbour conditions
  // above (few drifting neighbours, outlier z, neighbours still), its shift
  // differs from its neighbours' median by at least this many reference
  // IQRs. Calibrated thresholds absorb the weather's common-mode wander
  // (a 14-day window of a whole network moving with the weather); a
  // sensor's drift is differential, and the difference with the neighbours
  // removes the weather. <= 0 disables it (only drifting stations).
  double sensor_min_relative_shift = 0.5;
};

enum class Verdict { kNone, kSensorFault, kRegionalChange, kUndetermined, kIsolated };
std::string_view VerdictName(Verdict v);

struct StationVerdict {
  std::string station_id;
  Verdict verdict = Verdict::kNone;
  int neighbours = 0;           // evaluated neighbours
  int drifting_neighbours = 0;
  double shift = 0;              // the station's FeatureDrift::shift
  double neighbour_shift = 0;    // median of its neighbours' shifts
  double relative_z = 0;         // outlier score against the neighbours (see above)
  // Median of the neighbours' moves (shift minus its seasonal baseline when
  // it has one) each over max_neighbour_shift (|x| <= 1: they hold still);
  // with max_neighbour_shift < 0, 0.
  double neighbour_moved = 0;
  int seasonal_neighbours = 0;   // neighbours judged against a seasonal baseline
  // Calibrated bound on |shift - neighbour_shift| (0: none, not calibrated,
  // or not computed: only for a station the other sensor-fault conditions
  // point at, as the last test).
  double relative_bound = 0;
  int relative_windows = 0;      // common null windows behind relative_bound
};

struct NetworkVerdict {
  std::vector<StationVerdict> stations;       // same order as the input
  bool regional = false;                       // some regional change was found
  std::vector<std::string> regional_stations;  // stations in a regional change, sorted
  int evaluated = 0;
  int drifting = 0;
};

// Great-circle distance in km.
double DistanceKm(double lat1, double lon1, double lat2, double lon2);

// Pure function of its inputs; O(n^2) in the number of stations (fine for
// networks of a few thousand stations).
// `now_s`: the evaluation time, which picks the same season in the null
// windows (INT64_MIN: no seasonal baseline).
NetworkVerdict ClassifyDrift(const std::vector<StationDrift>& stations,
                             const ClassifierConfig& config = {}, int64_t now_s = INT64_MIN);

// Feeds one feature's verdict into the alarm book at now_s:
//  - per evaluated station, condition (kDriftSensorFault, station, feature)
//    is bad when its verdict is kSensorFault and good when it is kNone or
//    kRegionalChange; kUndetermined/kIsolated/not evaluated leave it as is;
//  - condition (kDriftRegional, "network", feature) is bad when a regional
//    change was found and good otherwise.
// With `prediction` set (the feature is a model's predictions), the
// per-station condition is (kPredictionDrift, station, feature), bad whenever
// the station's predictions drift, whatever the neighbours do (the verdict
// is in the figures and the reason).
// Returns the alarms raised or cleared by this call.
std::vector<Alarm> UpdateDriftAlarms(AlarmBook& book, std::string_view feature,
                                     const std::vector<StationDrift>& stations,
                                     const NetworkVerdict& verdict, int64_t now_s,
                                     bool prediction = false);

}  // namespace sentinelle::monitor
