// The agent's prediction service with real parts: real SQLite files, real
// models trained here with libxgboost, the real agent engine and a real
// Mosquitto broker.
#include "sentinelle/agent/prediction_service.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <fstream>

#include "ack_peer.h"
#include "broker.h"
#include "model_fixture.h"
#include "process.h"
#include "sentinelle/agent/config.h"
#include "sentinelle/agent/engine.h"
#include "sentinelle/config.h"
#include "sentinelle/predict/prediction_codec.h"
#include "sentinelle/sqlite.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using predict::LinkKind;
using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;

const predict::testing::TrainedFiles& Files() {
  static const predict::testing::TrainedFiles files = predict::testing::TrainFiles();
  return files;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

int64_t Count(const std::string& db_path, const std::string& sql) {
  auto db = Db::Open(db_path);
  EXPECT_TRUE(db) << db.message();
  auto st = (*db)->Prepare(sql);
  EXPECT_TRUE(st) << st.message();
  auto row = st->Step();
  EXPECT_TRUE(row && *row);
  return st->ColumnInt(0);
}

double MetricValue(prometheus::Registry& registry, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found |= l.name == k && l.value == v;
        match &= found;
      }
      if (match) return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
    }
  }
  return -1;
}

class PredictionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = dir_.File("models");
    std::filesystem::create_directory(model_dir_);
    WriteFile(model_dir_ + "/pm25-60-station.json", Files().station_xgb);
    config_.model_dir = model_dir_;
    config_.db_path = dir_.File("predictions.db");
    config_.reload_interval_ms = 0;  // reloads on demand in these tests
  }

  std::unique_ptr<PredictionService> Make() {
    auto s = PredictionService::Create(config_, "st-1", registry_, [this](std::string payload) {
      payloads_.push_back(std::move(payload));
      return online_ ? Status::Ok() : Status(MakeError("offline"));
    });
    EXPECT_TRUE(s) << s.message();
    return s ? std::move(s.value()) : nullptr;
  }

  TempDir dir_;
  std::string model_dir_;
  PredictionConfig config_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::vector<std::string> payloads_;
  bool online_ = true;
};

TEST_F(PredictionServiceTest, PredictsStoresPublishesAndMeasuresItself) {
  auto service = Make();
  ASSERT_TRUE(service);
  ASSERT_EQ(service->ModelInfo().size(), 1u);
  EXPECT_EQ(service->ModelInfo()[0].kind, "station");
  EXPECT_EQ(service->ModelInfo()[0].version, "st-v1");

  const auto& days = Files().history;
  const size_t n = 320;
  for (size_t i = 0; i < n; ++i) {
    online_ = i % 50 != 7;  // some publishes fail: the local copy stays
    service->OnReading(days[i]);
  }
  ASSERT_EQ(payloads_.size(), n);
  const int64_t stored = Count(config_.db_path, "SELECT COUNT(*) FROM predictions");
  EXPECT_EQ(stored, static_cast<int64_t>(n * 8));
  EXPECT_EQ(Count(config_.db_path, "SELECT COUNT(*) FROM predictions WHERE published = 0"), 7 * 8);

  auto last = predict::DecodePredictionBatch(payloads_.back(), "st-1");
  ASSERT_TRUE(last) << last.message();
  EXPECT_EQ(last->seq, days[n - 1].seq);
  ASSERT_EQ(last->predictions.size(), 8u);
  size_t station_answers = 0;
  for (const auto& p : last->predictions) {
    EXPECT_TRUE(p.answered());
    if (p.target == Variable::kPm25 && p.horizon_min == 60 && days[n - 1].valid(Variable::kPm25)) {
      EXPECT_EQ(p.link, LinkKind::kStation);
      EXPECT_EQ(p.model_version, "st-v1");
      ++station_answers;
    }
  }
  if (days[n - 1].valid(Variable::kPm25)) {
    EXPECT_EQ(station_answers, 1u);
  }

  // Self-labelled accuracy: 5-minute predictions joined every window,
  // 60-minute ones after the first hour; exported as metrics.
  bool saw_station = false;
  for (const auto& e : service->Accuracy()) {
    EXPECT_GT(e.stats.joined_total, 0);
    EXPECT_GE(e.stats.rmse, e.stats.mae);
    saw_station |= e.link == LinkKind::kStation && e.target == Variable::kPm25 && e.horizon_min == 60;
  }
  EXPECT_TRUE(saw_station);
  EXPECT_GT(MetricValue(*registry_, "sentinelle_agent_prediction_joined_total",
                        {{"target", "pm25"}, {"horizon_min", "60"}, {"link", "station"}}),
            100);
  EXPECT_GT(MetricValue(*registry_, "sentinelle_agent_prediction_mae",
                        {{"target", "pm25"}, {"horizon_min", "60"}, {"link", "station"}}),
            0);
  EXPECT_GT(MetricValue(*registry_, "sentinelle_agent_prediction_skips_total",
                        {{"link", "station"}, {"reason", "missing"}}),
            0);
  EXPECT_EQ(MetricValue(*registry_, "sentinelle_agent_prediction_errors_total", {{"kind", "publish"}}), 7);
  EXPECT_GT(Count(config_.db_path, "SELECT COUNT(*) FROM predictions WHERE actual IS NOT NULL"), 0);
}

TEST_F(PredictionServiceTest, HotSwapsModelsAndKeepsThePreviousOneOnFailure) {
  auto service = Make();
  ASSERT_TRUE(service);
  // A new file is picked up; a corrupt one is refused and counted.
  WriteFile(model_dir_ + "/pm25-60-network.json", Files().network_xgb);
  WriteFile(model_dir_ + "/garbage.json", "{\"format\":\"sentinelle-model\"");
  EXPECT_EQ(service->Reload(), 1);
  EXPECT_EQ(service->ModelInfo().size(), 2u);
  EXPECT_EQ(MetricValue(*registry_, "sentinelle_agent_model_loads_total", {{"result", "refused"}}), 1);
  // Unchanged files are not reloaded.
  EXPECT_EQ(service->Reload(), 0);

  // Replacing the station model with a broken file keeps the old model.
  auto j = nlohmann::json::parse(Files().station_xgb);
  j["self_test"][0]["y"] = j["self_test"][0]["y"].get<double>() + 1.0;
  j["version"] = "st-v2-broken";
  WriteFile(model_dir_ + "/pm25-60-station.json", j.dump());
  EXPECT_EQ(service->Reload(), 0);
  bool has_v1 = false;
  for (const auto& m : service->ModelInfo()) has_v1 |= m.version == "st-v1";
  EXPECT_TRUE(has_v1);

  // A good replacement swaps in without a restart.
  WriteFile(model_dir_ + "/pm25-60-station.json", Files().out_of_range_xgb);
  EXPECT_EQ(service->Reload(), 1);
  bool has_wild = false;
  for (const auto& m : service->ModelInfo()) has_wild |= m.version == "st-wild";
  EXPECT_TRUE(has_wild);

  // Removing a file unloads its model.
  std::filesystem::remove(model_dir_ + "/pm25-60-network.json");
  service->Reload();
  EXPECT_EQ(service->ModelInfo().size(), 1u);
}

TEST_F(PredictionServiceTest, ShadowModelPredictsNextToTheAnswerWithoutAnswering) {
  // The updater stages a shadow model as {file}.json.shadow.
  WriteFile(model_dir_ + "/pm25_60_network.json.shadow", Files().network_xgb);
  WriteFile(model_dir_ + "/pm25_60_linear.json.shadow", "{\"format\":\"sentinelle-model\"");
  auto service = Make();
  ASSERT_TRUE(service);
  bool shadow_listed = false;
  for (const auto& m : service->ModelInfo()) {
    shadow_listed |= m.kind == "network-shadow" && m.version == "net-v1";
    EXPECT_NE(m.kind, "network");  // never installed as the answering network link
    EXPECT_NE(m.kind, "linear-shadow");  // the corrupt file is refused
  }
  EXPECT_TRUE(shadow_listed);

  const auto& days = Files().history;
  const size_t n = 120;
  for (size_t i = 0; i < n; ++i) service->OnReading(days[i]);
  ASSERT_EQ(payloads_.size(), n);
  size_t shadow_answers = 0;
  for (size_t i = 0; i < n; ++i) {
    auto batch = predict::DecodePredictionBatch(payloads_[i], "st-1");
    ASSERT_TRUE(batch) << batch.message();
    for (const auto& p : batch->predictions) EXPECT_NE(p.link, LinkKind::kNetwork);
    // A tree needs the target's current value (and enough warm features).
    if (!days[i].valid(Variable::kPm25)) {
      EXPECT_TRUE(batch->shadow.empty());
    }
    if (batch->shadow.empty()) continue;
    ASSERT_EQ(batch->shadow.size(), 1u) << payloads_[i];
    const auto& s = batch->shadow[0];
    EXPECT_EQ(s.link, LinkKind::kNetwork);
    EXPECT_EQ(s.model_version, "net-v1");
    EXPECT_EQ(s.target, Variable::kPm25);
    EXPECT_EQ(s.horizon_min, 60);
    EXPECT_EQ(s.target_time_s, days[i].window_end_s + 3600);
    EXPECT_TRUE(s.skipped.empty());
    // The answer of the same slot comes from the station model.
    for (const auto& p : batch->predictions) {
      if (p.target == Variable::kPm25 && p.horizon_min == 60) {
        EXPECT_EQ(p.link, LinkKind::kStation);
      }
    }
    ++shadow_answers;
  }
  EXPECT_GT(shadow_answers, n / 2);
  EXPECT_EQ(Count(config_.db_path, "SELECT COUNT(*) FROM predictions WHERE shadow = 1"),
            static_cast<int64_t>(shadow_answers));
  EXPECT_EQ(Count(config_.db_path, "SELECT COUNT(*) FROM predictions WHERE shadow = 0"),
            static_cast<int64_t>(n * 8));
  // Edge accuracy counts only answers: no series for the network link.
  for (const auto& e : service->Accuracy()) EXPECT_NE(e.link, LinkKind::kNetwork);

  // Withdrawn (file removed): the shadow stops, the answers are unchanged.
  std::filesystem::remove(model_dir_ + "/pm25_60_network.json.shadow");
  service->Reload();
  for (const auto& m : service->ModelInfo()) EXPECT_NE(m.kind, "network-shadow");
  service->OnReading(days[n]);
  auto batch = predict::DecodePredictionBatch(payloads_.back(), "st-1");
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->shadow.empty());
  EXPECT_EQ(payloads_.back().find("\"shadow\""), std::string::npos);  // field omitted
}

TEST(PredictionBatchShadow, DecoderRefusesShadowEntriesThatAreNotModelAnswers) {
  predict::Prediction p;
  p.station_id = "st-1";
  p.from_seq = 3;
  p.from_window_end_s = 1767225600;
  p.target = Variable::kPm25;
  p.horizon_min = 60;
  p.target_time_s = p.from_window_end_s + 3600;
  p.value = 12.5;
  p.link = LinkKind::kPersistence;
  predict::PredictionBatch batch = predict::MakePredictionBatch({p});
  predict::Prediction s = p;
  s.link = LinkKind::kNetwork;
  s.model_version = "8";
  s.model_sha256 = std::string(64, 'a');
  s.value = 14.25;
  batch.shadow = {s};
  auto round = predict::DecodePredictionBatch(predict::EncodePredictionBatch(batch), "st-1");
  ASSERT_TRUE(round) << round.message();
  ASSERT_EQ(round->shadow.size(), 1u);
  EXPECT_EQ(round->shadow[0].model_version, "8");
  EXPECT_EQ(round->shadow[0].value, 14.25);
  EXPECT_EQ(round->predictions[0].link, LinkKind::kPersistence);

  batch.shadow = {p};  // persistence is no shadow model
  auto refused = predict::DecodePredictionBatch(predict::EncodePredictionBatch(batch), "st-1");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.message().find("shadow[0]"), std::string::npos) << refused.message();
  s.skipped = {{LinkKind::kStation, predict::SkipReason::kMissing}};
  batch.shadow = {s};
  EXPECT_FALSE(predict::DecodePredictionBatch(predict::EncodePredictionBatch(batch), "st-1"));
  auto j = nlohmann::json::parse(predict::EncodePredictionBatch(batch));
  j["shadow"] = "no";
  EXPECT_FALSE(predict::DecodePredictionBatch(j.dump(), "st-1"));
}

TEST_F(PredictionServiceTest, RestartKeepsHistoryProfileAndPendingPredictions) {
  const auto& days = Files().history;
  {
    auto service = Make();
    ASSERT_TRUE(service);
    for (size_t i = 0; i < 300; ++i) service->OnReading(days[i]);
  }
  // No models this time: persistence answers from the profile rebuilt from
  // the stored history, and the predictions made before the restart are
  // still joined when their windows arrive.
  std::filesystem::remove(model_dir_ + "/pm25-60-station.json");
  auto service = Make();
  ASSERT_TRUE(service);
  EXPECT_TRUE(service->ModelInfo().empty());
  int64_t profiled = 0;
  for (int h = 0; h < 24; ++h) profiled += service->chain().profile().count(Variable::kPm25, h);
  EXPECT_GT(profiled, 250);
  service->OnReading(days[300]);
  bool joined_station = false;
  for (const auto& e : service->Accuracy()) {
    joined_station |= e.link == LinkKind::kStation && e.horizon_min == 60 && e.stats.joined_total >= 1;
  }
  EXPECT_TRUE(joined_station) << "a 60-minute station prediction from before the restart was joined";
  auto last = predict::DecodePredictionBatch(payloads_.back(), "st-1");
  ASSERT_TRUE(last);
  for (const auto& p : last->predictions) EXPECT_EQ(p.link, LinkKind::kPersistence);
}

TEST_F(PredictionServiceTest, BadConfigurationIsAStartupError) {
  AgentConfig agent;
  agent.store.path = dir_.File("agent.db");
  agent.prediction = {{"targets", {"pm25", "benzene"}}};
  EXPECT_THROW(PredictionConfig::FromAgentConfig(agent), ConfigError);
  agent.prediction = {{"horizons_min", {7}}};
  EXPECT_THROW(PredictionConfig::FromAgentConfig(agent), ConfigError);
  agent.prediction = {{"model_dirr", "x"}};
  EXPECT_THROW(PredictionConfig::FromAgentConfig(agent), ConfigError);
  agent.prediction = {{"targets", {"so2"}}, {"horizons_min", {15, 120}}, {"model_dir", "m"}};
  const auto c = PredictionConfig::FromAgentConfig(agent);
  EXPECT_EQ(c.chain.targets, std::vector<Variable>{Variable::kSo2});
  EXPECT_EQ(c.db_path, agent.store.path + ".predictions.db");
}

TEST(PredictionAgent, EngineCommitsPredictsAndPublishesOverMqtt) {
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start()) << broker.Log();
  AckPeer peer(broker.uri());
  ASSERT_TRUE(peer.Connect());
  Topics topics;
  ASSERT_TRUE(peer.SubscribeRaw(topics.Predictions("st-pred")));
  ASSERT_TRUE(peer.SubscribeRaw(topics.Status("st-pred")));

  TempDir dir;
  AgentConfig config = test::TestConfig("st-pred", broker.uri(), dir.File("agent.db"));
  const std::string model_dir = dir.File("models");
  std::filesystem::create_directory(model_dir);
  WriteFile(model_dir + "/network.json", Files().network_xgb);
  config.prediction = {{"model_dir", model_dir}, {"reload_interval_ms", 50}};
  config.mqtt.status_interval_s = 1;
  auto engine = Engine::Create(config);
  ASSERT_TRUE(engine) << engine.message();
  auto service = PredictionService::Create(PredictionConfig::FromAgentConfig(config), "st-pred",
                                           (*engine)->registry(),
                                           [e = engine->get()](std::string p) { return e->PublishPredictions(std::move(p)); });
  ASSERT_TRUE(service) << service.message();
  (*service)->Attach(**engine);
  ASSERT_TRUE((*engine)->Start());
  ASSERT_TRUE(WaitFor([&] { return (*engine)->GetSnapshot().connected; }));

  for (const auto& line : test::Burst(0, 3)) (*engine)->HandleLine(line);
  ASSERT_TRUE(WaitFor([&] { return peer.RawCount(topics.Predictions("st-pred")) >= 3; }, 15s));
  auto batch = predict::DecodePredictionBatch(peer.LastRaw(topics.Predictions("st-pred")), "st-pred");
  ASSERT_TRUE(batch) << batch.message();
  EXPECT_EQ(batch->seq, 3);
  ASSERT_EQ(batch->predictions.size(), 8u);
  for (const auto& p : batch->predictions) {
    EXPECT_TRUE(p.answered());
    // Three windows of history: the network model declines, persistence answers.
    EXPECT_EQ(p.link, LinkKind::kPersistence);
  }
  EXPECT_EQ(Count(config.store.path + ".predictions.db", "SELECT COUNT(*) FROM predictions"), 24);

  // A model dropped into the directory is picked up by the running agent
  // and used for the next windows without a restart.
  WriteFile(model_dir + "/station.json", Files().linear);
  ASSERT_TRUE(WaitFor([&] { return (*service)->ModelInfo().size() == 2; }, 10s));
  for (const auto& line : test::Burst(3, 2)) (*engine)->HandleLine(line);
  ASSERT_TRUE(WaitFor([&] { return peer.RawCount(topics.Predictions("st-pred")) >= 5; }, 15s));
  EXPECT_EQ(Count(config.store.path + ".predictions.db", "SELECT COUNT(*) FROM predictions"), 40);
  (*engine)->Stop();
}

}  // namespace
}  // namespace sentinelle::agent
