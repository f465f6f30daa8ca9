// Per-station gauges of the collector's /metrics: newest data wins, invalid
// values lose their series, one health series per station, the station cap.
#include "sentinelle/collector/station_gauges.h"

#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include <sstream>

namespace sentinelle::collector {
namespace {

std::string Text(prometheus::Registry& r) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, r.Collect());
  return out.str();
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

StoredReading MakeReading(const std::string& station, int64_t end_s, double pm25, int aqi) {
  StoredReading sr;
  sr.reading.station_id = station;
  sr.reading.window_end_s = end_s;
  sr.reading.values[static_cast<int>(Variable::kPm25)] = pm25;
  sr.reading.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kOk;
  sr.reading.values[static_cast<int>(Variable::kTemperatureC)] = 28.5;
  sr.reading.qc[static_cast<int>(Variable::kTemperatureC)] = QcFlag::kOk;
  sr.reading.aqi = aqi;
  return sr;
}

TEST(StationGauges, NewestReadingWinsAndFlaggedValuesDisappear) {
  prometheus::Registry registry;
  StationGauges g(registry);
  g.OnReading(MakeReading("abj-plateau", 1000, 35.5, 101));
  std::string t = Text(registry);
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_value{station=\"abj-plateau\",variable=\"pm25\"} 35.5")) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_value{station=\"abj-plateau\",variable=\"temperature_c\"} 28.5")) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_aqi{station=\"abj-plateau\"} 101")) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_last_reading_timestamp_seconds{station=\"abj-plateau\"} 1000")) << t;
  EXPECT_EQ(t.find("variable=\"no2\""), std::string::npos) << "missing values have no series";

  // A backfilled older window does not move the gauges.
  g.OnReading(MakeReading("abj-plateau", 700, 80, 160));
  t = Text(registry);
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_aqi{station=\"abj-plateau\"} 101")) << t;

  // The next window: pm25 flagged, no pollutant valid, so no AQI either.
  StoredReading next = MakeReading("abj-plateau", 1300, 40, 0);
  next.reading.qc[static_cast<int>(Variable::kPm25)] = QcFlag::kStuck;
  next.reading.aqi.reset();
  g.OnReading(next);
  t = Text(registry);
  EXPECT_EQ(t.find("variable=\"pm25\""), std::string::npos) << t;
  EXPECT_EQ(t.find("sentinelle_collector_station_aqi{"), std::string::npos) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_last_reading_timestamp_seconds{station=\"abj-plateau\"} 1300")) << t;
}

TEST(StationGauges, NewestPredictionPerTargetAndHorizon) {
  prometheus::Registry registry;
  StationGauges g(registry);
  PredictionRecord p;
  p.station_id = "abj-cocody";
  p.target = "pm25";
  p.horizon_min = 60;
  p.issued_s = 2000;
  p.value = 41;
  g.OnPrediction(p);
  p.issued_s = 1700;
  p.value = 99;  // older: ignored
  g.OnPrediction(p);
  p.issued_s = 2300;
  p.value = kMissingValue;  // not a value: ignored
  g.OnPrediction(p);
  p.horizon_min = 180;
  p.issued_s = 2000;
  p.value = 44;
  g.OnPrediction(p);
  const std::string t = Text(registry);
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_prediction{horizon_min=\"60\",station=\"abj-cocody\",target=\"pm25\"} 41")) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_prediction{horizon_min=\"180\",station=\"abj-cocody\",target=\"pm25\"} 44")) << t;
}

TEST(StationGauges, OneHealthSeriesPerStation) {
  prometheus::Registry registry;
  StationGauges g(registry);
  StationHealth h;
  h.station_id = "abj-abobo";
  h.state = HealthState::kReady;
  h.open_gaps = 2;
  h.fallback_rate = 0.25;
  h.models = {{"pm25", 60, "network", "12"}, {"pm25", 180, "network", "12"}};
  g.OnHealth({h});
  h.state = HealthState::kSilent;
  h.models = {{"pm25", 60, "network", "13"}, {"no2", 60, "linear", "not-a-number"}};
  g.OnHealth({h});
  const std::string t = Text(registry);
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_health{state=\"silent\",station=\"abj-abobo\"} 1")) << t;
  EXPECT_EQ(t.find("state=\"ready\""), std::string::npos) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_open_gaps{station=\"abj-abobo\"} 2")) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_fallback_rate{station=\"abj-abobo\"} 0.25")) << t;
  // The new version replaces the old one; the slot no longer reported goes.
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_model_version{horizon_min=\"60\",kind=\"network\",station=\"abj-abobo\",target=\"pm25\"} 13")) << t;
  EXPECT_EQ(t.find("horizon_min=\"180\""), std::string::npos) << t;
  EXPECT_EQ(t.find("target=\"no2\""), std::string::npos) << t;
}

TEST(StationGauges, CapBoundsTheStations) {
  prometheus::Registry registry;
  StationGauges g(registry, 2);
  for (const char* s : {"a", "b", "c", "a"}) g.OnReading(MakeReading(s, 1000, 10, 40));
  EXPECT_EQ(g.stations(), 2u);
  const std::string t = Text(registry);
  EXPECT_EQ(t.find("station=\"c\""), std::string::npos) << t;
  EXPECT_TRUE(Has(t, "sentinelle_collector_station_series_refused_total 1")) << t;
}

}  // namespace
}  // namespace sentinelle::collector
