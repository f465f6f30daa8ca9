// Harnesses for the sensor line and the MQTT payloads (shared codecs,
// prediction codec, manifests).
#include <cmath>
#include <string>

#include "harness.h"
#include "sentinelle/codec.h"
#include "sentinelle/manifest.h"
#include "sentinelle/predict/prediction_codec.h"
#include "sentinelle/sensor_line.h"

namespace sentinelle::fuzz {
namespace {

// The station the topic names; seeds use it.
constexpr std::string_view kStation = "st-1";

// An accepted payload re-encodes to bytes the decoder accepts, and that
// second decoding encodes to the same bytes (encoders produce exactly what
// decoders accept; nothing is lost or invented on the way).
template <typename Decode, typename Encode>
void CheckRoundTrip(std::string_view input, Decode decode, Encode encode) {
  auto first = decode(input);
  if (!first.ok()) return;
  const std::string once = encode(first.value());
  auto second = decode(once);
  SENTINELLE_FUZZ_CHECK(second.ok());
  SENTINELLE_FUZZ_CHECK(encode(second.value()) == once);
}

}  // namespace

void SensorLine(std::string_view input) {
  auto line = ParseSensorLine(input);
  if (!line.ok()) return;
  const sentinelle::SensorLine& l = line.value();
  SENTINELLE_FUZZ_CHECK(l.unknown_variables.size() <= 16);
  const std::string again = l.clock_tick ? EncodeClockTick(l.ts_ms) : [&] {
    std::array<bool, kVariableCount> present{};
    for (int i = 0; i < kVariableCount; ++i) {
      present[i] = l.state[i] == SampleState::kValue;
      SENTINELLE_FUZZ_CHECK(!present[i] || std::isfinite(l.value[i]));
    }
    return EncodeSensorLine(l.ts_ms, l.value, present);
  }();
  auto back = ParseSensorLine(again);
  SENTINELLE_FUZZ_CHECK(back.ok());
  SENTINELLE_FUZZ_CHECK(back.value().ts_ms == l.ts_ms);
  SENTINELLE_FUZZ_CHECK(back.value().clock_tick == l.clock_tick);
  for (int i = 0; i < kVariableCount; ++i) {
    if (l.state[i] != SampleState::kValue) continue;
    SENTINELLE_FUZZ_CHECK(back.value().state[i] == SampleState::kValue);
    SENTINELLE_FUZZ_CHECK(back.value().value[i] == l.value[i]);
  }
}

void ReadingBatch(std::string_view input) {
  CheckRoundTrip(
      input, [](std::string_view p) { return DecodeReadingBatch(p, kStation); },
      [](const sentinelle::ReadingBatch& b) {
        SENTINELLE_FUZZ_CHECK(b.station_id == kStation);
        SENTINELLE_FUZZ_CHECK(!b.readings.empty() && b.readings.size() <= kMaxReadingsPerBatch);
        return EncodeReadingBatch(b);
      });
}

void Ack(std::string_view input) {
  CheckRoundTrip(
      input, [](std::string_view p) { return DecodeAck(p, kStation); },
      [](const sentinelle::Ack& a) {
        for (const SeqRange& r : a.committed) SENTINELLE_FUZZ_CHECK(r.first <= r.last);
        return EncodeAck(a);
      });
}

void Status(std::string_view input) {
  CheckRoundTrip(
      input, [](std::string_view p) { return DecodeStatus(p, kStation); },
      [](const StationStatus& s) { return EncodeStatus(s); });
}

void Command(std::string_view input) {
  CheckRoundTrip(
      input, [](std::string_view p) { return DecodeCommand(p, kStation); },
      [](const sentinelle::Command& c) { return EncodeCommand(c); });
}

void PredictionBatch(std::string_view input) {
  CheckRoundTrip(
      input, [](std::string_view p) { return predict::DecodePredictionBatch(p, kStation); },
      [](const predict::PredictionBatch& b) {
        SENTINELLE_FUZZ_CHECK(b.predictions.size() <= predict::kMaxPredictionsPerBatch);
        return predict::EncodePredictionBatch(b);
      });
}

void Manifest(std::string_view input) {
  CheckRoundTrip(input, [](std::string_view p) { return DecodeManifest(p); },
                 [](const sentinelle::Manifest& m) {
                   // The canonical bytes must not depend on how the manifest
                   // was written: they are what the signature covers.
                   const std::string canonical = ManifestCanonicalBytes(m);
                   auto again = DecodeManifest(EncodeManifest(m));
                   SENTINELLE_FUZZ_CHECK(again.ok());
                   SENTINELLE_FUZZ_CHECK(ManifestCanonicalBytes(again.value()) == canonical);
                   // A fuzzed manifest never verifies against a key nobody holds.
                   SENTINELLE_FUZZ_CHECK(!VerifyManifest(m, std::string(32, '\x5a')));
                   return EncodeManifest(m);
                 });
}

}  // namespace sentinelle::fuzz
