// Writes the valid seeds of fuzz/corpus/ with the project's own encoders, so
// that seeds follow the wire formats as they change:
//   build-fuzz/bin/fuzz_make_seeds fuzz/corpus
// Edge-case seeds (hand-written, malformed on purpose) sit next to these and
// are not touched. Manifests are signed with a key made for the run.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sentinelle/codec.h"
#include "sentinelle/crypto.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/manifest.h"
#include "sentinelle/predict/features.h"
#include "sentinelle/predict/model_file.h"
#include "sentinelle/predict/prediction_codec.h"
#include "sentinelle/sensor_line.h"
#include "sentinelle/xgboost/xgb_booster.h"

namespace fs = std::filesystem;
using namespace sentinelle;  // NOLINT(build/namespaces)

namespace {

fs::path g_root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.message().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

constexpr int64_t kBase = 1767225600;  // 2026-01-01T00:00:00Z

Reading MakeReading(int64_t seq, int64_t end_s, bool with_gaps) {
  Reading r;
  r.station_id = "st-1";
  r.seq = seq;
  r.window_end_s = end_s;
  r.boot_id = "3f2a9c0d5e6b4a71";
  r.time = TimeQuality{true, "ntp"};
  for (int i = 0; i < kVariableCount; ++i) {
    const double phase = std::sin(static_cast<double>(end_s % 86400) / 86400.0 * 6.283);
    r.values[i] = Variables()[i].min + (Variables()[i].max - Variables()[i].min) * (0.3 + 0.1 * phase);
    r.qc[i] = QcFlag::kOk;
    r.samples[i] = 5;
  }
  if (with_gaps) {
    r.values[static_cast<int>(Variable::kNo2)] = kMissingValue;
    r.qc[static_cast<int>(Variable::kNo2)] = QcFlag::kMissing;
    r.samples[static_cast<int>(Variable::kNo2)] = 0;
    r.qc[static_cast<int>(Variable::kPm10)] = QcFlag::kSpike;
  }
  r.aqi = 57;
  r.aqi_dominant = Variable::kPm25;
  return r;
}

void Payloads() {
  std::array<double, kVariableCount> values{};
  std::array<bool, kVariableCount> present{};
  for (int i = 0; i < kVariableCount; ++i) {
    values[i] = 10.0 + i;
    present[i] = i % 3 != 0;
  }
  values[static_cast<int>(Variable::kSo2)] = kMissingValue;
  Write("sensor_line", "values", EncodeSensorLine(kBase * 1000 + 1000, values, present) + "\n");
  Write("sensor_line", "clock", EncodeClockTick(kBase * 1000 + 60000) + "\n");

  ReadingBatch batch{"st-1", DeliveryKind::kLive, {MakeReading(41, kBase + 300, false),
                                                   MakeReading(42, kBase + 600, true)}};
  Write("reading_batch", "live", EncodeReadingBatch(batch));
  batch.kind = DeliveryKind::kReplay;
  batch.readings.resize(1);
  batch.readings[0].aqi.reset();
  batch.readings[0].aqi_dominant.reset();
  batch.readings[0].time = TimeQuality{false, "none"};
  Write("reading_batch", "replay", EncodeReadingBatch(batch));

  Write("ack", "ranges", EncodeAck(Ack{"st-1", ToRanges({1, 2, 3, 7, 9, 10})}));
  Write("ack", "empty", EncodeAck(Ack{"st-1", {}}));

  StationStatus status;
  status.station_id = "st-1";
  status.state = "online";
  status.agent_version = "0.1.0";
  status.boot_id = "3f2a9c0d5e6b4a71";
  status.ts_s = kBase + 30;
  status.buffer_depth = 12;
  status.last_seq = 42;
  status.time = TimeQuality{true, "ntp"};
  status.models = {{"pm25", 60, "station", "7"}, {"o3", 5, "linear", "3"}};
  Write("status", "online", EncodeStatus(status));
  StationStatus will;
  will.station_id = "st-1";
  will.state = "offline";
  Write("status", "last_will", EncodeStatus(will));

  Command c;
  c.station_id = "st-1";
  c.id = "c-17";
  c.name = "backfill";
  c.from_seq = 100;
  c.to_seq = 180;
  Write("command", "backfill", EncodeCommand(c));
  Command resync;
  resync.station_id = "st-1";
  resync.id = "c-18";
  resync.name = "resync";
  Write("command", "resync", EncodeCommand(resync));
  Command rollback;
  rollback.station_id = "st-1";
  rollback.id = "c-19";
  rollback.name = "rollback";
  rollback.target = "pm25";
  rollback.horizon_min = 60;
  Write("command", "rollback", EncodeCommand(rollback));

  std::vector<predict::Prediction> predictions;
  predict::Prediction p;
  p.station_id = "st-1";
  p.from_seq = 42;
  p.from_window_end_s = kBase + 600;
  p.target = Variable::kPm25;
  p.horizon_min = 60;
  p.target_time_s = p.from_window_end_s + 3600;
  p.value = 18.4;
  p.link = predict::LinkKind::kStation;
  p.model_version = "7";
  p.model_sha256 = Sha256Hex("model");
  predictions.push_back(p);
  p.target = Variable::kO3;
  p.horizon_min = 5;
  p.target_time_s = p.from_window_end_s + 300;
  p.value = 61.0;
  p.link = predict::LinkKind::kPersistence;
  p.model_version.clear();
  p.model_sha256.clear();
  p.skipped = {{predict::LinkKind::kStation, predict::SkipReason::kMissing},
               {predict::LinkKind::kNetwork, predict::SkipReason::kStale},
               {predict::LinkKind::kLinear, predict::SkipReason::kInputsIncomplete}};
  p.missing_inputs = {Variable::kNo2};
  predictions.push_back(p);
  Write("prediction_batch", "two", predict::EncodePredictionBatch(predict::MakePredictionBatch(predictions)));
}

predict::FeatureSpec SmallSpec() {
  predict::FeatureSpec spec;
  spec.series = {Variable::kPm25};
  spec.lags = {0, 1, 2};
  spec.windows = {3};
  spec.trends = {};
  spec.meteo = {Variable::kTemperatureC};
  spec.wind_vector = false;
  spec.calendar = true;
  return spec;
}

void Models() {
  std::vector<Reading> history;
  for (int i = 0; i < 200; ++i) history.push_back(MakeReading(i + 1, kBase + 300 * (i + 1), i % 17 == 0));
  predict::ModelFileRequest request;
  request.scope = predict::ModelScope::kStation;
  request.station = "st-1";
  request.target = Variable::kPm25;
  request.horizon_min = 60;
  request.version = "seed-1";
  request.created_at_s = kBase + 86400;
  request.trained_until_s = kBase + 60000;
  request.spec = SmallSpec();
  auto train = Must(predict::BuildTrainingMatrix(history, request.spec, Variable::kPm25, 60), "features");
  xgb::TrainParams params;
  params.num_rounds = 3;
  params.max_depth = 2;
  const std::string ubj = Must(xgb::TrainXgbModelFile(request, train, nullptr, params, 0, 1,
                                                      predict::XgbEncoding::kUbjson), "train ubjson");
  request.scope = predict::ModelScope::kNetwork;
  request.station.clear();
  const std::string json = Must(xgb::TrainXgbModelFile(request, train, nullptr, params, 0, 1,
                                                       predict::XgbEncoding::kJson), "train json");
  const std::string linear = Must(predict::FitLinearModelFile(request, train), "linear");
  Write("model_file", "station_xgb_ubjson", ubj);
  Write("model_file", "network_xgb_json", json);
  Write("model_file", "linear", linear);
  Write("xgb_ubjson", "three_trees", Must(predict::ReadModelFile(ubj), "read ubjson").booster);
  Write("xgb_json", "three_trees", Must(predict::ReadModelFile(json), "read json").booster);
  params.max_depth = 12;  // deeper than the complete layout: the generic walk
  params.num_rounds = 2;
  params.min_child_weight = 0.0;
  const auto deep = Must(xgb::TrainXgb(params, train.X, train.y, nullptr, nullptr, 0, 1,
                                       predict::XgbEncoding::kJson), "deep");
  Write("xgb_json", "deep_trees", deep.bytes);

  Manifest m;
  m.target = "pm25";
  m.horizon_min = 60;
  m.kind = "station";
  m.version = 7;
  m.stage = "canary";
  m.stations = {"st-1", "st-2"};
  m.created_s = kBase;
  m.expires_s = kBase + 90 * 86400;
  m.artifact_url = "http://127.0.0.1:8080/api/v1/models/7/artifact";
  m.artifact_sha256 = Sha256Hex(ubj);
  m.artifact_size = static_cast<int64_t>(ubj.size());
  m.xgboost_version = xgb::LibraryVersion();
  m.feature_spec = request.spec.ToJson();
  const auto key = Must(GenerateEd25519KeyPair(), "key");
  if (!SignManifest(m, key.private_key)) std::exit(1);
  Write("manifest", "signed_canary", EncodeManifest(m));
  m.kind = "linear";
  m.stage = "production";
  m.stations.clear();
  m.rollback = true;
  m.xgboost_version.clear();
  if (!SignManifest(m, key.private_key)) std::exit(1);
  Write("manifest", "signed_rollback", EncodeManifest(m));
}

void Csv() {
  std::string csv(kHistoryCsvHeader);
  csv += '\n';
  for (int i = 0; i < 3; ++i) {
    const Reading r = MakeReading(i + 1, kBase + 300 * (i + 1), i == 1);
    AppendHistoryCsvRow(csv, "st-1", r.window_end_s, r.values);
  }
  Write("history_csv", "three_rows", csv);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  Payloads();
  Models();
  Csv();
  return 0;
}
