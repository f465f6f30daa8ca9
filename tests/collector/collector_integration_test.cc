// The collector against a real Mosquitto, real SQLite and real HTTP:
// exactly-once storage, acks after commit, targeted backfill, hostile
// payloads, kill -9 mid-stream, and the API's roles.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "broker.h"
#include "http_client.h"
#include "process.h"
#include "sentinelle/collector/auth.h"
#include "sentinelle/collector/collector.h"
#include "sentinelle/history_csv.h"
#include "sentinelle/predict/prediction_codec.h"
#include "sentinelle/sqlite.h"
#include "test_agent.h"

namespace sentinelle::collector {
namespace {

using sentinelle::testing::HttpCall;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::TempDir;
using sentinelle::testing::TestAgent;
using sentinelle::testing::WaitFor;
using std::chrono::seconds;

const std::string kViewer = "viewer-token-0123456789";
const std::string kScientist = "scientist-token-0123456789";
const std::string kAdmin = "admin-token-0123456789";

CollectorConfig TestConfig(const TempDir& dir, const MosquittoBroker& broker) {
  CollectorConfig c;
  c.db_path = dir.File("collector.db");
  c.mqtt.uri = broker.uri();
  c.mqtt.client_id = "collector-" + std::to_string(broker.port());
  c.http.listen = "127.0.0.1:" + std::to_string(sentinelle::testing::FreeLoopbackPort());
  c.http.tokens = {{"viewer", TokenAuth::HashToken(kViewer), Role::kViewer},
                   {"scientist", TokenAuth::HashToken(kScientist), Role::kDataScientist},
                   {"admin", TokenAuth::HashToken(kAdmin), Role::kAdmin}};
  c.gaps.grace_s = 1;
  c.gaps.retry_s = 3;
  c.gaps.max_attempts = 3;
  c.ingest.clock_tolerance_s = 1000000000;
  return c;
}

int64_t CountReadings(const std::string& db_path, const std::string& station) {
  DbOptions o;
  o.read_only = true;
  auto db = Db::Open(db_path, o);
  if (!db) return -1;
  auto q = (*db)->Prepare(
      "SELECT count(*), count(DISTINCT r.seq) FROM readings r JOIN stations s ON s.key = r.station "
      "WHERE s.id = ?");
  if (!q) return -1;
  q->Bind(1, station);
  auto row = q->Step();
  if (!row || !*row) return -1;
  if (q->ColumnInt(0) != q->ColumnInt(1)) return -2;  // a seq stored twice
  return q->ColumnInt(0);
}

class CollectorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(broker_.Start()) << broker_.Log(); }

  void StartCollector(const CollectorConfig& config) {
    collector_ = std::make_unique<Collector>(config);
    auto st = collector_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(WaitFor([&] { return collector_->metrics().mqtt_connected->Value() == 1; }));
  }

  // Waits until the collector's subscription delivers this agent's status.
  void Announce(TestAgent& agent, int64_t last_seq) {
    ASSERT_TRUE(agent.PublishStatus(last_seq));
    ASSERT_TRUE(WaitFor([&] {
      return collector_->health().Get(agent.station(), 0, 0).has_value();
    }, seconds(15)));
  }

  MosquittoBroker broker_;
  TempDir dir_;
  std::unique_ptr<Collector> collector_;
};

TEST_F(CollectorIntegrationTest, DuplicatesAreStoredOnceAndAckedEveryTime) {
  StartCollector(TestConfig(dir_, broker_));
  TestAgent agent(broker_.uri(), "dup-st");
  ASSERT_TRUE(agent.Connect());
  Announce(agent, 0);
  ASSERT_TRUE(agent.Publish(1, 50));
  ASSERT_TRUE(WaitFor([&] { return agent.AckedAll(1, 50); }, seconds(15)));
  const double acks_before = collector_->metrics().acks_sent->Value();
  // The same windows again, as a replay and split differently.
  ASSERT_TRUE(agent.Publish(1, 25, DeliveryKind::kReplay));
  ASSERT_TRUE(agent.Publish(20, 50, DeliveryKind::kReplay));
  ASSERT_TRUE(WaitFor([&] {
    return collector_->metrics().readings_duplicate->Value() == 56 &&
           collector_->metrics().acks_sent->Value() >= acks_before + 1;
  }, seconds(15)));
  EXPECT_EQ(collector_->metrics().readings_stored->Value(), 50);
  EXPECT_EQ(CountReadings(dir_.File("collector.db"), "dup-st"), 50);
  EXPECT_TRUE(collector_->ledger().OpenGaps().empty());
}

TEST_F(CollectorIntegrationTest, GapsAreFilledByTargetedBackfill) {
  StartCollector(TestConfig(dir_, broker_));
  TestAgent agent(broker_.uri(), "gap-st");
  agent.AnswerBackfill(true);
  ASSERT_TRUE(agent.Connect());
  Announce(agent, 0);
  ASSERT_TRUE(agent.Publish(1, 10));
  ASSERT_TRUE(agent.Publish(21, 30));
  ASSERT_TRUE(WaitFor([&] { return agent.AckedAll(1, 30); }, seconds(20)));
  EXPECT_EQ(CountReadings(dir_.File("collector.db"), "gap-st"), 30);
  auto commands = agent.Commands();
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands[0].name, "backfill");
  EXPECT_EQ(commands[0].from_seq, 11);
  EXPECT_EQ(commands[0].to_seq, 20);
  EXPECT_TRUE(WaitFor([&] { return collector_->ledger().OpenGaps().empty(); }));
  EXPECT_GE(collector_->metrics().backfill_requests->Value(), 1);
}

TEST_F(CollectorIntegrationTest, GapOfDroppedReadingsIsClosedAsLost) {
  CollectorConfig config = TestConfig(dir_, broker_);
  StartCollector(config);
  TestAgent agent(broker_.uri(), "lost-st");
  agent.AnswerBackfill(true);
  agent.Forget(11, 15);  // the agent's disk budget dropped these
  ASSERT_TRUE(agent.Connect());
  Announce(agent, 0);
  ASSERT_TRUE(agent.Publish(1, 10));
  ASSERT_TRUE(agent.Publish(21, 30));
  ASSERT_TRUE(WaitFor([&] { return agent.AckedAll(16, 20); }, seconds(20)));
  ASSERT_TRUE(WaitFor([&] { return collector_->ledger().OpenGaps().empty(); }));
  EXPECT_EQ(collector_->metrics().gap_seqs_lost_answered->Value(), 5);
  auto gaps = HttpCall(collector_->http_port(), "GET", "/api/v1/gaps", kViewer);
  ASSERT_EQ(gaps.status, 200) << gaps.body;
  auto j = nlohmann::json::parse(gaps.body);
  ASSERT_EQ(j["lost"].size(), 1u);
  EXPECT_EQ(j["lost"][0]["from_seq"], 11);
  EXPECT_EQ(j["lost"][0]["to_seq"], 15);
  EXPECT_EQ(j["lost"][0]["reason"], "agent_answered");
  EXPECT_EQ(j["outstanding_seqs"], 0);
}

TEST_F(CollectorIntegrationTest, PredictionsAreStoredAndServed) {
  StartCollector(TestConfig(dir_, broker_));
  TestAgent agent(broker_.uri(), "pred-st");
  ASSERT_TRUE(agent.Connect());
  Announce(agent, 0);
  predict::PredictionBatch b;
  b.station_id = "pred-st";
  b.seq = 7;
  b.window_end_s = agent.base_s() + 7 * 300;
  predict::Prediction p;
  p.station_id = b.station_id;
  p.from_seq = 7;
  p.from_window_end_s = b.window_end_s;
  p.target = Variable::kPm25;
  p.horizon_min = 60;
  p.target_time_s = b.window_end_s + 3600;
  p.value = 31.5;
  p.link = predict::LinkKind::kLinear;
  p.model_version = "lin-3";
  p.model_sha256 = std::string(64, 'a');
  p.skipped = {{predict::LinkKind::kStation, predict::SkipReason::kMissing},
               {predict::LinkKind::kNetwork, predict::SkipReason::kStale}};
  b.predictions.push_back(p);
  const std::string topic = "sentinelle/v1/stations/pred-st/predictions";
  ASSERT_TRUE(agent.PublishRaw(topic, predict::EncodePredictionBatch(b)));
  ASSERT_TRUE(agent.PublishRaw(topic, predict::EncodePredictionBatch(b)));  // stored once
  b.station_id = "intruder";
  ASSERT_TRUE(agent.PublishRaw(topic, predict::EncodePredictionBatch(b)));
  ASSERT_TRUE(WaitFor([&] {
    return collector_->metrics().accepted(2).Value() == 2 &&
           collector_->metrics().rejected(RejectReason::kWrongStation).Value() == 1;
  }, seconds(15)));
  ASSERT_TRUE(WaitFor([&] { return collector_->metrics().predictions_stored->Value() == 1; }));
  const std::string from = std::to_string(b.window_end_s);
  auto r = HttpCall(collector_->http_port(), "GET",
                    "/api/v1/stations/pred-st/predictions?from=" + from, kViewer);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  ASSERT_EQ(j["predictions"].size(), 1u);
  EXPECT_EQ(j["predictions"][0]["target"], "pm25");
  EXPECT_EQ(j["predictions"][0]["value"], 31.5);
  EXPECT_EQ(j["predictions"][0]["model"]["kind"], "linear");
  EXPECT_EQ(j["predictions"][0]["fallback_reason"], "station:missing;network:stale");
  auto h = collector_->health().Get("pred-st", 0, 0);
  ASSERT_TRUE(h.has_value());
  EXPECT_DOUBLE_EQ(h->fallback_rate, 1.0);
}

TEST_F(CollectorIntegrationTest, HostilePayloadsAreRejectedAndIngestContinues) {
  StartCollector(TestConfig(dir_, broker_));
  TestAgent agent(broker_.uri(), "host-st");
  ASSERT_TRUE(agent.Connect());
  Announce(agent, 0);
  const std::string topic = agent.ReadingsTopic();
  const std::string good = sentinelle::testing::MakeBatch("host-st", 1, 3, agent.base_s());
  // Wrong station on the topic.
  ASSERT_TRUE(agent.PublishRaw("sentinelle/v1/stations/other-st/readings", good));
  // Oversized.
  ASSERT_TRUE(agent.PublishRaw(topic, std::string(kMaxPayloadBytes + 10, 'x')));
  // Deeply nested.
  ASSERT_TRUE(agent.PublishRaw(topic, std::string(100000, '[') + std::string(100000, ']')));
  // NaN literal (not JSON) and strings for numbers.
  std::string nan = good;
  nan.replace(nan.find("\"v\":") + 4, nan.find(',', nan.find("\"v\":")) - nan.find("\"v\":") - 4,
              "NaN");
  ASSERT_TRUE(agent.PublishRaw(topic, nan));
  auto j = nlohmann::json::parse(good);
  j["readings"][1]["values"]["no2"]["v"] = "40";
  ASSERT_TRUE(agent.PublishRaw(topic, j.dump()));
  // Binary garbage.
  ASSERT_TRUE(agent.PublishRaw(topic, std::string("\x00\xff\xfe{", 4)));
  ASSERT_TRUE(agent.Publish(1, 3));
  ASSERT_TRUE(WaitFor([&] { return agent.AckedAll(1, 3); }, seconds(15)));
  auto& m = collector_->metrics();
  EXPECT_EQ(m.rejected(RejectReason::kWrongStation).Value(), 1);
  EXPECT_EQ(m.rejected(RejectReason::kTooLarge).Value(), 1);
  EXPECT_EQ(m.rejected(RejectReason::kTooDeep).Value(), 1);
  EXPECT_EQ(m.rejected(RejectReason::kMalformedJson).Value(), 2);
  EXPECT_EQ(m.rejected(RejectReason::kInvalidField).Value(), 1);
  EXPECT_EQ(CountReadings(dir_.File("collector.db"), "host-st"), 3);
  EXPECT_EQ(CountReadings(dir_.File("collector.db"), "other-st"), 0);
}

TEST_F(CollectorIntegrationTest, ApiRolesAreEnforced) {
  StartCollector(TestConfig(dir_, broker_));
  const int port = collector_->http_port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(HttpCall(port, "GET", "/healthz").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/readyz").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/stations").status, 401);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/stations", "not-a-token").status, 401);
  for (const auto& t : {kViewer, kScientist, kAdmin}) {
    EXPECT_EQ(HttpCall(port, "GET", "/api/v1/stations", t).status, 200);
    EXPECT_EQ(HttpCall(port, "GET", "/api/v1/gaps", t).status, 200);
  }
  // Registry: admin only.
  const std::string station =
      R"({"id":"reg-st","name":"Plateau","latitude":5.32,"longitude":-4.02,"type":"urban"})";
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/stations", "", station).status, 401);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/stations", kViewer, station).status, 403);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/stations", kScientist, station).status, 403);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/stations", kAdmin, station).status, 201);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/stations", kAdmin, R"({"id":"Bad Id"})").status, 400);
  auto one = HttpCall(port, "GET", "/api/v1/stations/reg-st", kViewer);
  ASSERT_EQ(one.status, 200);
  auto j = nlohmann::json::parse(one.body);
  EXPECT_EQ(j["name"], "Plateau");
  EXPECT_EQ(j["health"]["state"], "unknown");
  // Import: data_scientist and admin.
  std::string csv(kHistoryCsvHeader);
  csv += "\n";
  const int64_t end = (std::time(nullptr) / 300) * 300;
  std::array<double, kVariableCount> v;
  v.fill(20.0);
  v[static_cast<int>(Variable::kPressureHpa)] = 1010;
  AppendHistoryCsvRow(csv, "reg-st", end - 600, v);
  AppendHistoryCsvRow(csv, "reg-st", end - 300, v);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/import", "", csv, "text/csv").status, 401);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/import", kViewer, csv, "text/csv").status, 403);
  auto imp = HttpCall(port, "POST", "/api/v1/import", kScientist, csv, "text/csv");
  ASSERT_EQ(imp.status, 200) << imp.body;
  EXPECT_EQ(nlohmann::json::parse(imp.body)["inserted"], 2);
  imp = HttpCall(port, "POST", "/api/v1/import", kAdmin, csv, "text/csv");
  ASSERT_EQ(imp.status, 200);
  EXPECT_EQ(nlohmann::json::parse(imp.body)["duplicates"], 2);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/import", kAdmin, csv + "garbage\n", "text/csv").status,
            400);
  EXPECT_EQ(HttpCall(port, "POST", "/api/v1/import", kAdmin, std::string(17u << 20, 'x'),
                     "text/csv").status,
            413);
  // Readings as JSON and as CSV (which re-imports as the same rows).
  auto rj = HttpCall(port, "GET", "/api/v1/stations/reg-st/readings", kViewer);
  ASSERT_EQ(rj.status, 200);
  EXPECT_EQ(nlohmann::json::parse(rj.body)["readings"].size(), 2u);
  auto rc = HttpCall(port, "GET", "/api/v1/stations/reg-st/readings?format=csv", kViewer);
  ASSERT_EQ(rc.status, 200);
  EXPECT_EQ(rc.body, csv);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/stations/reg-st/readings?from=yesterday", kViewer).status,
            400);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/stations/reg-st/predictions", kViewer).status, 200);
  EXPECT_EQ(HttpCall(port, "DELETE", "/api/v1/stations/reg-st", kAdmin).status, 405);
  EXPECT_EQ(HttpCall(port, "GET", "/api/v1/nothing", kAdmin).status, 404);
  // Metrics: public, and they counted the refusals by reason.
  auto metrics = HttpCall(port, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("sentinelle_collector_http_rejected_total{reason=\"forbidden\"} 3"),
            std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_NE(metrics.body.find("sentinelle_collector_http_rejected_total{reason=\"missing_token\"} 3"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("sentinelle_collector_stations{state=\"unknown\"}"),
            std::string::npos);
}

TEST_F(CollectorIntegrationTest, KillNineMidStreamLosesNothing) {
  CollectorConfig config = TestConfig(dir_, broker_);
  const std::string config_path = dir_.File("collector.json");
  {
    nlohmann::json j = {
        {"store", {{"path", config.db_path}}},
        {"mqtt", {{"uri", config.mqtt.uri}, {"client_id", config.mqtt.client_id}}},
        {"gaps", {{"grace_s", 1}, {"retry_s", 2}, {"max_attempts", 20}}},
        {"ingest", {{"clock_tolerance_s", 1000000000}}},
        {"http", {{"listen", config.http.listen}}},
        {"log", {{"level", "info"}}}};
    std::ofstream(config_path) << j.dump(2);
  }
  auto start = [&](const char* log) {
    auto p = std::make_unique<sentinelle::testing::ChildProcess>(
        std::vector<std::string>{sentinelle::testing::BinPath("sentinelle-collector"), "--config",
                                 config_path},
        dir_.File(log));
    EXPECT_TRUE(p->Start());
    return p;
  };
  auto collector = start("collector1.log");
  TestAgent agent(broker_.uri(), "kill-st");
  agent.AnswerBackfill(true);
  ASSERT_TRUE(agent.Connect());
  ASSERT_TRUE(agent.PublishStatus(0));
  // Stream 1..600 in batches of 10; kill -9 the collector in the middle.
  constexpr int64_t kTotal = 600;
  std::atomic<int64_t> published{0};
  std::thread stream([&] {
    for (int64_t s = 1; s <= kTotal; s += 10) {
      agent.Publish(s, s + 9);
      published = s + 9;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  ASSERT_TRUE(WaitFor([&] { return CountReadings(dir_.File("collector.db"), "kill-st") >= 100; },
                      seconds(20)))
      << collector->Log();
  collector->Signal(SIGKILL);
  collector->Wait();
  const int64_t at_kill = published.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  collector = start("collector2.log");
  stream.join();
  EXPECT_LT(at_kill, kTotal) << "the kill should land mid-stream";
  // The agent's periodic status tells the collector how far it got.
  ASSERT_TRUE(agent.PublishStatus(kTotal));
  ASSERT_TRUE(WaitFor([&] { return CountReadings(dir_.File("collector.db"), "kill-st") == kTotal; },
                      seconds(25)))
      << CountReadings(dir_.File("collector.db"), "kill-st") << "\n"
      << collector->Log();
  // Readings committed just before the kill had their acks die with the
  // process: like a real agent's outbox replay, re-send whatever is still
  // unacknowledged; the collector stores nothing twice and acks them all.
  auto acked = agent.Acked();
  for (int64_t s = 1; s <= kTotal; ++s) {
    if (!acked.count(s)) {
      ASSERT_TRUE(agent.Publish(s, s, DeliveryKind::kReplay));
    }
  }
  EXPECT_TRUE(WaitFor([&] { return agent.AckedAll(1, kTotal); }, seconds(20)));
  EXPECT_EQ(CountReadings(dir_.File("collector.db"), "kill-st"), kTotal);
  collector->Signal(SIGTERM);
  EXPECT_EQ(collector->Wait(), 0) << collector->Log();
}

// An agent that lost acks (here: a second connection of the same station
// that never saw them) announces unconfirmed readings in its status: the
// collector confirms again what it has stored, and nothing it has not.
TEST_F(CollectorIntegrationTest, StatusWithUnconfirmedReadingsIsReacked) {
  StartCollector(TestConfig(dir_, broker_));
  TestAgent first(broker_.uri(), "reack-st");
  ASSERT_TRUE(first.Connect());
  Announce(first, 0);
  ASSERT_TRUE(first.Publish(1, 30));
  ASSERT_TRUE(first.Publish(36, 40));
  ASSERT_TRUE(WaitFor([&] { return first.AckedAll(1, 30) && first.AckedAll(36, 40); },
                      seconds(15)));
  first.Disconnect();

  TestAgent restarted(broker_.uri(), "reack-st");
  ASSERT_TRUE(restarted.Connect());
  const double acks_before = collector_->metrics().acks_sent->Value();
  StationStatus s;
  s.station_id = "reack-st";
  s.state = "online";
  s.agent_version = "0.1.0";
  s.boot_id = "boot-2";
  s.last_seq = 45;      // 31..35 and 41..45 never reached the collector
  s.buffer_depth = 45;  // the agent still holds everything as unconfirmed
  s.time = TimeQuality{true, "ntp"};
  ASSERT_TRUE(restarted.PublishRaw("sentinelle/v1/stations/reack-st/status", EncodeStatus(s),
                                   true));
  ASSERT_TRUE(WaitFor([&] { return restarted.AckedAll(1, 30) && restarted.AckedAll(36, 40); },
                      seconds(15)));
  EXPECT_GT(collector_->metrics().acks_sent->Value(), acks_before);
  const auto acked = restarted.Acked();
  for (int64_t seq : {31, 35, 41, 45}) EXPECT_EQ(acked.count(seq), 0u) << seq;

  // Nothing unconfirmed (buffer_depth 0): no re-ack is needed, none is sent.
  TestAgent drained(broker_.uri(), "reack-st");
  ASSERT_TRUE(drained.Connect());
  s.boot_id = "boot-3";
  s.buffer_depth = 0;
  const int64_t commits = collector_->pipeline().commits();
  ASSERT_TRUE(drained.PublishRaw("sentinelle/v1/stations/reack-st/status", EncodeStatus(s), true));
  ASSERT_TRUE(WaitFor([&] { return collector_->pipeline().commits() > commits; }, seconds(15)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(drained.Acked().empty());
}

// Two collectors in one shared-subscription group split the stream and write
// the same SQLite store: every window is stored once, every seq acked.
TEST_F(CollectorIntegrationTest, SharedSubscriptionSplitsTheStreamIntoOneStore) {
  CollectorConfig a = TestConfig(dir_, broker_);
  a.mqtt.shared_group = "collectors";
  a.http.enabled = false;
  a.gaps.grace_s = 30;  // each sees holes the other fills; reconciled before any request
  CollectorConfig b = a;
  b.mqtt.client_id = a.mqtt.client_id + "-b";
  StartCollector(a);
  Collector second(b);
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return second.metrics().mqtt_connected->Value() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // both subscriptions in place

  constexpr int64_t kTotal = 300;
  std::vector<std::unique_ptr<TestAgent>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(std::make_unique<TestAgent>(broker_.uri(), "share-" + std::to_string(i)));
    ASSERT_TRUE(agents.back()->Connect());
  }
  for (int64_t s = 1; s <= kTotal; s += 10) {
    for (auto& agent : agents) ASSERT_TRUE(agent->Publish(s, s + 9));
  }
  // A third of the windows again, as replays: duplicates across collectors.
  for (auto& agent : agents) ASSERT_TRUE(agent->Publish(1, 100, DeliveryKind::kReplay));
  for (auto& agent : agents) {
    EXPECT_TRUE(WaitFor([&] { return agent->AckedAll(1, kTotal); }, seconds(30)))
        << agent->station() << " acked " << agent->Acked().size();
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(CountReadings(dir_.File("collector.db"), "share-" + std::to_string(i)), kTotal);
  }
  const double stored_a = collector_->metrics().readings_stored->Value();
  const double stored_b = second.metrics().readings_stored->Value();
  EXPECT_EQ(stored_a + stored_b, 3 * kTotal);
  EXPECT_GT(stored_a, 0) << "the broker gave everything to one collector";
  EXPECT_GT(stored_b, 0) << "the broker gave everything to one collector";
  // The originals' acks can all arrive before the replays are decoded: wait
  // for the replays to be counted rather than reading the counters at once.
  const auto duplicates = [&] {
    return collector_->metrics().readings_duplicate->Value() +
           second.metrics().readings_duplicate->Value();
  };
  EXPECT_TRUE(WaitFor([&] { return duplicates() >= 3 * 100; }, seconds(30))) << duplicates();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(duplicates(), 3 * 100);
  second.Stop();
}

}  // namespace
}  // namespace sentinelle::collector
