// The engine in-process against a real Mosquitto and a real ack peer: samples
// in, readings out (values, QC, AQI), observers, status, metrics, broker
// outage, dead collector, commands, predictions, garbage input.
#include "sentinelle/agent/engine.h"

#include <gtest/gtest.h>

#include <map>

#include "ack_peer.h"
#include "broker.h"
#include "process.h"
#include "sentinelle/codec.h"
#include "sentinelle/topics.h"
#include "test_util.h"

namespace sentinelle::agent {
namespace {

using sentinelle::testing::AckPeer;
using sentinelle::testing::MosquittoBroker;
using sentinelle::testing::ReceivedReading;
using sentinelle::testing::TempDir;
using sentinelle::testing::WaitFor;
using namespace std::chrono_literals;
using test::kT0s;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start()) << broker_.Log();
    peer_ = std::make_unique<AckPeer>(broker_.uri());
    ASSERT_TRUE(peer_->Connect());
    config_ = test::TestConfig("st-eng", broker_.uri(), dir_.File("agent.db"));
  }

  std::unique_ptr<Engine> StartEngine(Env* env = nullptr) {
    auto e = Engine::Create(config_, env);
    EXPECT_TRUE(e) << e.message();
    if (!e) return nullptr;
    for (auto& obs : observers_) (*e)->AddReadingObserver(obs);
    EXPECT_TRUE((*e)->Start());
    EXPECT_TRUE(WaitFor([&] { return (*e)->GetSnapshot().connected; }));
    return std::move(*e);
  }

  static void Feed(Engine& e, const std::vector<std::string>& lines) {
    for (const auto& l : lines) e.HandleLine(l);
  }

  // Every seq 1..n received at least once, each (seq) always with the same
  // window, windows increasing with seq, first arrivals in seq order.
  static void ExpectCompleteAndOrdered(const std::vector<ReceivedReading>& got, int64_t n,
                                       int64_t first_window_end) {
    std::map<int64_t, int64_t> window_of;
    int64_t last_first_seen = 0;
    for (const auto& r : got) {
      auto [it, inserted] = window_of.emplace(r.seq, r.window_end_s);
      if (inserted) {
        EXPECT_GT(r.seq, last_first_seen) << "new seq arrived out of order";
        last_first_seen = r.seq;
      } else {
        EXPECT_EQ(it->second, r.window_end_s) << "seq " << r.seq << " changed window";
      }
    }
    ASSERT_EQ(static_cast<int64_t>(window_of.size()), n);
    int64_t expect_seq = 1;
    for (const auto& [seq, end] : window_of) {
      EXPECT_EQ(seq, expect_seq);
      EXPECT_EQ(end, first_window_end + 300 * (seq - 1));
      ++expect_seq;
    }
  }

  TempDir dir_;
  MosquittoBroker broker_;
  std::unique_ptr<AckPeer> peer_;
  AgentConfig config_;
  std::vector<Engine::ReadingObserver> observers_;
};

TEST_F(EngineTest, SamplesInReadingsOutWithValuesQcAndAqi) {
  const Topics topics;
  ASSERT_TRUE(peer_->SubscribeRaw(topics.Status("st-eng")));
  std::mutex mu;
  std::vector<int64_t> observed;
  Engine* engine_ptr = nullptr;
  bool committed_before_observer = true;
  observers_.push_back([&](const Reading& r) {
    // The observer sees a reading already committed (its seq is stored).
    if (engine_ptr && engine_ptr->GetSnapshot().last_seq < r.seq) committed_before_observer = false;
    std::lock_guard lock(mu);
    observed.push_back(r.seq);
  });
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  engine_ptr = engine.get();
  Feed(*engine, test::Burst(0, 3));
  ASSERT_TRUE(WaitFor([&] {
    return peer_->received_count() >= 3 && engine->GetSnapshot().unconfirmed == 0;
  }));
  auto got = peer_->received();
  ASSERT_EQ(got.size(), 3u);
  const int expected_aqi[3] = {53, 54, 55};  // pm25 10.0, 10.5, 11.0 (see test_util.cc)
  for (int w = 0; w < 3; ++w) {
    const ReceivedReading& r = got[static_cast<size_t>(w)];
    EXPECT_EQ(r.kind, DeliveryKind::kLive);
    EXPECT_EQ(r.seq, w + 1);
    EXPECT_EQ(r.window_end_s, kT0s + 300 * (w + 1));
    EXPECT_EQ(r.boot_id, engine->boot_id());
    EXPECT_TRUE(r.reading.time.synced);
    EXPECT_EQ(r.reading.time.source, "sim");
    for (const auto& info : Variables()) {
      EXPECT_DOUBLE_EQ(r.reading.value(info.variable), test::ValueFor(info.variable, w))
          << info.name;
      EXPECT_EQ(r.reading.flag(info.variable), QcFlag::kOk) << info.name;
      EXPECT_EQ(r.reading.samples[static_cast<int>(info.variable)], test::kSamplesPerWindow);
    }
    EXPECT_EQ(r.reading.aqi, expected_aqi[w]);
    EXPECT_EQ(r.reading.aqi_dominant, Variable::kPm25);
  }
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(observed, (std::vector<int64_t>{1, 2, 3}));
  }
  EXPECT_TRUE(committed_before_observer);

  // Retained birth message.
  ASSERT_TRUE(WaitFor([&] { return !peer_->LastRaw(topics.Status("st-eng")).empty(); }));
  auto status = DecodeStatus(peer_->LastRaw(topics.Status("st-eng")), "st-eng");
  ASSERT_TRUE(status) << status.message();
  EXPECT_EQ(status->state, "online");
  EXPECT_EQ(status->boot_id, engine->boot_id());

  // Metrics, in-process and over HTTP.
  Metrics& m = engine->metrics();
  EXPECT_EQ(m.Value("sentinelle_agent_windows_closed_total"), 3);
  EXPECT_EQ(m.Value("sentinelle_agent_samples_total"), 3 * test::kSamplesPerWindow * 12);
  EXPECT_EQ(m.Value("sentinelle_agent_readings_confirmed_total"), 3);
  EXPECT_EQ(m.Value("sentinelle_agent_outbox_depth"), 0);
  EXPECT_GE(m.Value("sentinelle_agent_publish_latency_seconds"), 1);
  const std::string scraped = test::ScrapeMetrics(engine->metrics_port());
  EXPECT_NE(scraped.find("sentinelle_agent_windows_closed_total 3"), std::string::npos) << scraped;
  EXPECT_NE(scraped.find("sentinelle_agent_publish_latency_seconds_bucket"), std::string::npos);

  // Graceful stop: retained offline status.
  engine->Stop();
  ASSERT_TRUE(WaitFor([&] {
    auto s = DecodeStatus(peer_->LastRaw(topics.Status("st-eng")), "st-eng");
    return s && s->state == "offline";
  }));
}

TEST_F(EngineTest, BrokerOutageLosesNothingAndReplaysInOrder) {
  // The agent may reconnect before the peer does: with a persistent session,
  // as the collector keeps, the broker holds the replay for the peer, so the
  // one replay is confirmed and no ack-timeout replay follows.
  peer_->Disconnect();
  peer_->set_persistent_session(true);
  ASSERT_TRUE(peer_->Connect());
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  Feed(*engine, test::Burst(0, 2));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }));
  broker_.Stop();
  ASSERT_TRUE(WaitFor([&] { return !engine->GetSnapshot().connected; }));
  Feed(*engine, test::Burst(2, 4));  // closes windows 2..5 while offline
  EXPECT_EQ(engine->GetSnapshot().unconfirmed, 4);
  EXPECT_EQ(engine->GetSnapshot().last_seq, 6);
  std::this_thread::sleep_for(300ms);  // a few failed reconnect attempts
  ASSERT_TRUE(broker_.Start()) << broker_.Log();
  ASSERT_TRUE(peer_->Connect());
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 20s));
  auto got = peer_->received();
  ExpectCompleteAndOrdered(got, 6, kT0s + 300);
  for (const auto& r : got) {
    if (r.seq > 2) {
      EXPECT_EQ(r.kind, DeliveryKind::kReplay) << "seq " << r.seq;
    }
  }
  EXPECT_GE(engine->metrics().Value("sentinelle_agent_reconnects_total"), 1);
  EXPECT_EQ(engine->metrics().Value("sentinelle_agent_readings_published_total", {{"kind", "replay"}}),
            4);
  // Fresh windows after the replay are live again.
  Feed(*engine, test::Burst(6, 1));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }));
  got = peer_->received();
  EXPECT_EQ(got.back().seq, 7);
  EXPECT_EQ(got.back().kind, DeliveryKind::kLive);
}

TEST_F(EngineTest, DeadCollectorGetsAReplayAfterTheAckTimeout) {
  config_.mqtt.ack_timeout_ms = 400;
  peer_->set_ack(false);
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  Feed(*engine, test::Burst(0, 3));
  ASSERT_TRUE(WaitFor([&] { return peer_->received_count() >= 3; }));
  // The broker has them (PUBACK) but nobody confirmed: they stay in the outbox.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(engine->GetSnapshot().unconfirmed, 3);
  peer_->set_ack(true);
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 15s));
  auto got = peer_->received();
  ExpectCompleteAndOrdered(got, 3, kT0s + 300);
  EXPECT_GT(got.size(), 3u);  // duplicates: the contract allows them for unconfirmed seqs
  for (size_t i = 3; i < got.size(); ++i) EXPECT_EQ(got[i].kind, DeliveryKind::kReplay);
}

TEST_F(EngineTest, SilentCollectorGetsReplaysWithBackoffNotATightLoop) {
  // With a fixed 200 ms timeout a collector that never acks would get about
  // 30 replays in 6 s; the backoff (200 ms doubling to 1.6 s, equal jitter)
  // allows at most 9 (waits of at least 200, 200, 400, 800, 800, ... ms).
  config_.mqtt.ack_timeout_ms = 200;
  config_.mqtt.ack_timeout_max_ms = 1600;
  peer_->set_ack(false);
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  Feed(*engine, test::Burst(0, 3));
  ASSERT_TRUE(WaitFor([&] { return peer_->received_count() >= 3; }));
  const size_t messages_before = peer_->messages();
  std::this_thread::sleep_for(6s);
  Metrics& m = engine->metrics();
  const double replays = m.Value("sentinelle_agent_ack_timeouts_total");
  const size_t messages = peer_->messages() - messages_before;
  EXPECT_LE(replays, 9);
  EXPECT_GE(replays, 4);  // at most 200 + 400 + 800 + 1600 + 1600 ms between replays
  EXPECT_LE(messages, 9u);  // one message per replay (3 readings)
  EXPECT_EQ(engine->GetSnapshot().unconfirmed, 3);
  // The collector comes back: the next replay is confirmed, the replays stop.
  peer_->set_ack(true);
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 5s));
  const double after = m.Value("sentinelle_agent_ack_timeouts_total");
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(m.Value("sentinelle_agent_ack_timeouts_total"), after);
  ExpectCompleteAndOrdered(peer_->received(), 3, kT0s + 300);
  // Progress reset the backoff: a fresh reading is confirmed at once.
  Feed(*engine, test::Burst(3, 1));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }));
}

TEST_F(EngineTest, GarbageInputIsRejectedCountedAndLosesNoValidData) {
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  auto lines = test::WindowLines(0);
  const int64_t t = test::kT0Ms + 1000;
  const std::vector<std::string> garbage = {
      "this is not json",
      "{\"v\":1,\"ts_ms\":",                                           // truncated
      "{\"v\":1,\"ts_ms\":\"soon\",\"values\":{}}",                    // wrong type
      "{\"v\":2,\"ts_ms\":" + std::to_string(t) + ",\"values\":{}}",  // wrong version
      "[1,2,3]",
      "{\"v\":1,\"ts_ms\":" + std::to_string(t) + ",\"values\":[]}",
      "{\"v\":1,\"ts_ms\":" + std::to_string(t) + ",\"values\":{},\"extra\":1}",
      std::string(20000, '{'),                                          // huge
      "{\"v\":1,\"ts_ms\":1000000000000,\"values\":{\"pm25\":1}}",     // 2001
      "{\"v\":1,\"ts_ms\":" + std::to_string(t + 86400000LL) + ",\"values\":{\"pm25\":1}}",
      "{\"v\":1,\"ts_ms\":" + std::to_string(t) + ",\"values\":{\"pm25\":\"NaN\",\"bogus\":3}}",
      "\xff\xfe\xfd",
  };
  // Each garbage line is fed twice: once between the first valid samples,
  // once after the last.
  engine->HandleLine(lines[0]);  // establishes the input clock
  for (const auto& g : garbage) engine->HandleLine(g);
  for (size_t i = 1; i < lines.size(); ++i) engine->HandleLine(lines[i]);
  for (const auto& g : garbage) engine->HandleLine(g);
  engine->HandleLine(test::TickClosing(1));
  ASSERT_TRUE(WaitFor([&] { return peer_->received_count() >= 1; }));
  const Reading r = peer_->received()[0].reading;
  for (const auto& info : Variables()) {
    EXPECT_DOUBLE_EQ(r.value(info.variable), test::ValueFor(info.variable, 0)) << info.name;
    EXPECT_EQ(r.flag(info.variable), QcFlag::kOk) << info.name;
  }
  // The NaN pm25 samples (2 of them) are excluded, the 5 valid ones averaged.
  EXPECT_EQ(r.samples[static_cast<int>(Variable::kPm25)], 5);
  Metrics& m = engine->metrics();
  auto rejected = [&](const char* reason) {
    return m.Value("sentinelle_agent_input_rejected_total", {{"reason", reason}});
  };
  EXPECT_EQ(rejected("parse"), 2 * 8);
  EXPECT_EQ(rejected("too_long"), 2);
  EXPECT_EQ(rejected("too_old"), 2);
  EXPECT_EQ(rejected("future"), 2);
  EXPECT_EQ(rejected("unknown_variable"), 2);
  EXPECT_EQ(m.Value("sentinelle_agent_qc_failures_total", {{"variable", "pm25"}, {"flag", "invalid"}}),
            2);
  EXPECT_EQ(m.Value("sentinelle_agent_lines_accepted_total"), 5 + 2 + 1);
}

TEST_F(EngineTest, DiskBudgetPolicyAppliesAndIsCounted) {
  config_.store.max_rows = 10;
  config_.mqtt.ack_timeout_ms = 300;
  peer_->set_ack(false);
  auto engine = StartEngine();
  ASSERT_TRUE(engine);
  Feed(*engine, test::Burst(0, 14));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().last_seq == 14; }));
  auto snap = engine->GetSnapshot();
  EXPECT_EQ(snap.rows, 10);
  EXPECT_EQ(snap.unconfirmed, 10);
  Metrics& m = engine->metrics();
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "dropped_unconfirmed"}}), 4);
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "evicted_confirmed"}}), 0);
  // The collector comes back: the 10 kept readings are confirmed.
  peer_->set_ack(true);
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }, 15s));
  // New windows now evict confirmed history first, losing nothing unconfirmed.
  Feed(*engine, test::Burst(14, 3));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().last_seq == 17; }));
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "evicted_confirmed"}}), 3);
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "dropped_unconfirmed"}}), 4);
  EXPECT_EQ(engine->GetSnapshot().rows, 10);
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }));
}

TEST_F(EngineTest, CommandsAcksAndPredictions) {
  const Topics topics;
  ASSERT_TRUE(peer_->SubscribeRaw(topics.Predictions("st-eng")));
  ASSERT_TRUE(peer_->SubscribeRaw(topics.Status("st-eng")));
  std::mutex mu;
  std::vector<std::string> commands;
  auto e = Engine::Create(config_);
  ASSERT_TRUE(e) << e.message();
  auto& engine = *e;
  engine->AddCommandObserver([&](const Command& c) {
    std::lock_guard lock(mu);
    commands.push_back(c.name);
  });
  engine->SetModelInfoProvider([] {
    return std::vector<ModelVersionInfo>{{"pm25", 60, "linear", "v3"}};
  });
  ASSERT_TRUE(engine->Start());
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().connected; }));
  Feed(*engine, test::Burst(0, 3));
  ASSERT_TRUE(WaitFor([&] { return engine->GetSnapshot().unconfirmed == 0; }));
  // The model info provider fills the status' models list.
  ASSERT_TRUE(WaitFor([&] { return !peer_->LastRaw(topics.Status("st-eng")).empty(); }));
  auto status = DecodeStatus(peer_->LastRaw(topics.Status("st-eng")), "st-eng");
  ASSERT_TRUE(status) << status.message();
  ASSERT_EQ(status->models.size(), 1u);
  EXPECT_EQ(status->models[0], (ModelVersionInfo{"pm25", 60, "linear", "v3"}));

  // Garbage acks and commands are rejected and counted; nothing breaks.
  ASSERT_TRUE(peer_->Publish(topics.Ack("st-eng"), "{not json"));
  ASSERT_TRUE(peer_->Publish(topics.Ack("st-eng"), EncodeAck({"other", {{1, 3}}})));
  ASSERT_TRUE(peer_->Publish(topics.Commands("st-eng"), "{\"schema\":1}"));
  Command backfill{"st-eng", "c-1", "backfill", 1, 2, "", 0};
  ASSERT_TRUE(peer_->Publish(topics.Commands("st-eng"), EncodeCommand(backfill)));
  Command rollback{"st-eng", "c-2", "rollback", 0, 0, "pm25", 60};
  ASSERT_TRUE(peer_->Publish(topics.Commands("st-eng"), EncodeCommand(rollback)));
  ASSERT_TRUE(WaitFor([&] { return peer_->received_count() >= 5; }));
  auto got = peer_->received();
  EXPECT_EQ(got[3].seq, 1);
  EXPECT_EQ(got[4].seq, 2);
  EXPECT_EQ(got[3].kind, DeliveryKind::kReplay);
  EXPECT_EQ(got[4].kind, DeliveryKind::kReplay);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return commands.size() == 2;
  }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(commands, (std::vector<std::string>{"backfill", "rollback"}));
  }
  Metrics& m = engine->metrics();
  EXPECT_EQ(m.Value("sentinelle_agent_acks_rejected_total"), 2);
  EXPECT_EQ(m.Value("sentinelle_agent_commands_rejected_total"), 1);

  // Predictions: published when connected, dropped and counted when not.
  ASSERT_TRUE(engine->PublishPredictions("{\"schema\":1,\"test\":true}"));
  ASSERT_TRUE(WaitFor([&] { return !peer_->LastRaw(topics.Predictions("st-eng")).empty(); }));
  EXPECT_EQ(peer_->LastRaw(topics.Predictions("st-eng")), "{\"schema\":1,\"test\":true}");
  broker_.Stop();
  ASSERT_TRUE(WaitFor([&] { return !engine->GetSnapshot().connected; }));
  EXPECT_FALSE(engine->PublishPredictions("{}").ok());
  EXPECT_EQ(m.Value("sentinelle_agent_drops_total", {{"reason", "predictions_offline"}}), 1);
  EXPECT_EQ(m.Value("sentinelle_agent_predictions_published_total"), 1);
}

}  // namespace
}  // namespace sentinelle::agent
