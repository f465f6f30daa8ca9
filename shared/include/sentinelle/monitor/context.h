// Context bands for drift monitoring: compare like with like.
//
// A value's context is (season, hour-of-day band) of its timestamp, so that a
// window of night readings is compared with the reference's night readings,
// and the daily cycle and the seasons never look like drift
// (docs/MONITORING.md, "Context bands").
//
// The scheme is fixed and named (kContextScheme) so that a reference histogram
// built by one build is refused by a build that slices time differently. Times
// are UTC: the network's city (Abidjan) is at UTC+0 with no daylight saving,
// so UTC hours are local hours there.
//
//   band      UTC hours   why
//   night     22:00-06:00 boundary layer low, little traffic, high humidity
//   morning   06:00-10:00 morning rush hour, fast-rising temperature
//   day       10:00-17:00 mixed boundary layer, photochemical O3, sea breeze
//   evening   17:00-22:00 evening rush hour, cooling, NO2 build-up
//
//   season    months      why
//   dry       Nov-Mar     harmattan dust, little rain, lower humidity
//   wet       Apr-Oct     the two rainy seasons, washout, higher humidity
//
// Everything here is pure and thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace sentinelle::monitor {

inline constexpr std::string_view kContextScheme = "utc-4band-2season-v1";
inline constexpr int kBandCount = 4;
inline constexpr int kSeasonCount = 2;
inline constexpr int kContextCount = kBandCount * kSeasonCount;

enum class Band : uint8_t { kNight = 0, kMorning, kDay, kEvening };
enum class Season : uint8_t { kDry = 0, kWet };

std::string_view BandName(Band b);
std::string_view SeasonName(Season s);

// Band of a UTC hour 0..23.
Band BandOfHour(int hour);
// Band and season of a Unix time (seconds UTC; negative times allowed).
Band BandOf(int64_t unix_s);
Season SeasonOf(int64_t unix_s);
// Context index 0..kContextCount-1 = season * kBandCount + band.
int ContextOf(int64_t unix_s);
inline int ContextIndex(Season s, Band b) {
  return static_cast<int>(s) * kBandCount + static_cast<int>(b);
}
inline Band BandOfContext(int context) { return static_cast<Band>(context % kBandCount); }
inline Season SeasonOfContext(int context) { return static_cast<Season>(context / kBandCount); }
// "dry/night", "wet/day", ...
std::string_view ContextName(int context);

}  // namespace sentinelle::monitor
