#include "test_agent.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <thread>

#include "sentinelle/aqi.h"
#include "sentinelle/topics.h"

namespace sentinelle::testing {

Reading MakeReading(const std::string& station, int64_t seq, int64_t window_end_s) {
  Reading r;
  r.station_id = station;
  r.seq = seq;
  r.window_end_s = window_end_s;
  r.interval_s = 300;
  r.boot_id = "boot-test";
  r.time = TimeQuality{true, "ntp"};
  for (const auto& info : Variables()) {
    const int i = static_cast<int>(info.variable);
    r.values[i] = info.min + (info.max - info.min) * 0.01 * static_cast<double>((seq + i) % 50);
    r.qc[i] = QcFlag::kOk;
    r.samples[i] = 30;
  }
  if (auto aqi = ComputeAqi(r)) {
    r.aqi = aqi->aqi;
    r.aqi_dominant = aqi->dominant;
  }
  return r;
}

std::string MakeBatch(const std::string& station, int64_t from, int64_t to, int64_t base_s,
                      DeliveryKind kind) {
  ReadingBatch b;
  b.station_id = station;
  b.kind = kind;
  for (int64_t s = from; s <= to; ++s) b.readings.push_back(MakeReading(station, s, base_s + s * 300));
  return EncodeReadingBatch(b);
}

int64_t PastBase(int64_t seqs_ahead) {
  const int64_t now = static_cast<int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  const int64_t base = now - (seqs_ahead + 10) * 300;
  return base - base % 300;
}

struct TestAgent::Impl {
  TestAgent* owner;
  Topics topics;
  mqtt::async_client client;
  mutable std::mutex mu;
  std::set<int64_t> acked;
  std::vector<Command> commands;
  std::set<int64_t> forgotten;

  Impl(TestAgent* o, const std::string& uri, const std::string& prefix)
      : owner(o), topics(prefix),
        client(uri, "test-agent-" + o->station_ + "-" + std::to_string(reinterpret_cast<uintptr_t>(o)),
               mqtt::create_options(MQTTVERSION_5)) {}
};

TestAgent::TestAgent(std::string uri, std::string station, std::string prefix)
    : station_(std::move(station)), base_s_(PastBase()) {
  impl_ = std::make_unique<Impl>(this, uri, prefix);
  impl_->client.set_message_callback([this](mqtt::const_message_ptr msg) {
    auto parsed = impl_->topics.ParseStation(msg->get_topic());
    if (!parsed) return;
    if (parsed->channel == StationChannel::kAck) {
      auto ack = DecodeAck(msg->get_payload_str(), station_);
      if (!ack) return;
      std::lock_guard<std::mutex> lock(impl_->mu);
      for (const auto& r : ack->committed) {
        for (int64_t s = r.first; s <= r.last; ++s) impl_->acked.insert(s);
      }
    } else if (parsed->channel == StationChannel::kCommands) {
      auto cmd = DecodeCommand(msg->get_payload_str(), station_);
      if (!cmd) return;
      std::vector<int64_t> held;
      {
        std::lock_guard<std::mutex> lock(impl_->mu);
        impl_->commands.push_back(*cmd);
        if (!answer_backfill_ || cmd->name != "backfill") return;
        for (int64_t s = cmd->from_seq; s <= cmd->to_seq; ++s) {
          if (!impl_->forgotten.count(s)) held.push_back(s);
        }
      }
      if (held.empty()) return;
      ReadingBatch b;
      b.station_id = station_;
      b.kind = DeliveryKind::kReplay;
      for (int64_t s : held) b.readings.push_back(MakeReading(station_, s, base_s_ + s * 300));
      try {
        impl_->client.publish(impl_->topics.Readings(station_), EncodeReadingBatch(b), 1, false);
      } catch (const std::exception&) {
      }
    }
  });
}

TestAgent::~TestAgent() { Disconnect(); }

bool TestAgent::Connect() {
  try {
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_5)
                    .clean_start(true)
                    .finalize();
    impl_->client.connect(opts)->wait_for(std::chrono::seconds(10));
    if (!impl_->client.is_connected()) return false;
    impl_->client.subscribe(impl_->topics.Ack(station_), 1)->wait_for(std::chrono::seconds(10));
    impl_->client.subscribe(impl_->topics.Commands(station_), 1)
        ->wait_for(std::chrono::seconds(10));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void TestAgent::Disconnect() {
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const std::exception&) {
  }
}

std::string TestAgent::ReadingsTopic() const { return impl_->topics.Readings(station_); }

bool TestAgent::PublishRaw(const std::string& topic, const std::string& payload, bool retained) {
  try {
    return impl_->client.publish(topic, payload, 1, retained)
        ->wait_for(std::chrono::seconds(10));
  } catch (const std::exception&) {
    return false;
  }
}

bool TestAgent::Publish(int64_t from, int64_t to, DeliveryKind kind) {
  return PublishRaw(ReadingsTopic(), MakeBatch(station_, from, to, base_s_, kind));
}

bool TestAgent::PublishStatus(int64_t last_seq, bool synced) {
  StationStatus s;
  s.station_id = station_;
  s.state = "online";
  s.agent_version = "0.1.0";
  s.boot_id = "boot-test";
  s.ts_s = base_s_ + last_seq * 300;
  s.last_seq = last_seq;
  s.time = TimeQuality{synced, synced ? "ntp" : "none"};
  return PublishRaw(impl_->topics.Status(station_), EncodeStatus(s), true);
}

void TestAgent::Forget(int64_t from, int64_t to) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (int64_t s = from; s <= to; ++s) impl_->forgotten.insert(s);
}

std::set<int64_t> TestAgent::Acked() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->acked;
}

bool TestAgent::AckedAll(int64_t from, int64_t to) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (int64_t s = from; s <= to; ++s) {
    if (!impl_->acked.count(s)) return false;
  }
  return true;
}

std::vector<Command> TestAgent::Commands() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->commands;
}

}  // namespace sentinelle::testing
