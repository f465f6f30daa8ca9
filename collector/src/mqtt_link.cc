#include "sentinelle/collector/mqtt_link.h"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "rate_limited_log.h"
#include "sentinelle/topics.h"

namespace sentinelle::collector {

std::vector<SeqRange> MergeRanges(std::vector<SeqRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const SeqRange& a, const SeqRange& b) { return a.first < b.first; });
  std::vector<SeqRange> out;
  for (const SeqRange& r : ranges) {
    if (!out.empty() && r.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

struct MqttLink::Impl : public mqtt::iaction_listener {
  MqttConfig config;
  MessageSink sink;
  CollectorMetrics* metrics;
  Env* env;
  Topics topics;
  std::unique_ptr<mqtt::async_client> client;
  RateLimitedLog log;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool connected = false;
  int inflight = 0;
  std::map<std::string, std::vector<SeqRange>> pending_acks;
  std::deque<Command> pending_commands;
  std::map<std::string, std::string> pending_retained;  // topic -> latest payload
  std::thread connector;

  Impl(MqttConfig c, MessageSink s, CollectorMetrics* m, Env* e)
      : config(std::move(c)), sink(std::move(s)), metrics(m), env(e), topics(config.topic_prefix) {}

  // Delivery of one of our QoS 1 publishes completed (or failed).
  void on_success(const mqtt::token&) override { Completed(true); }
  void on_failure(const mqtt::token&) override { Completed(false); }

  void Completed(bool ok) {
    if (!ok) metrics->publish_errors->Increment();
    {
      std::lock_guard<std::mutex> lock(mu);
      inflight = std::max(0, inflight - 1);
    }
    Drain();
  }

  // Publishes one message; false when paho refused it (not connected, ...).
  bool Publish(const std::string& topic, const std::string& payload, bool retain = false) {
    try {
      auto msg = mqtt::make_message(topic, payload, 1, retain);
      client->publish(msg, nullptr, *this);
      return true;
    } catch (const std::exception& e) {
      metrics->publish_errors->Increment();
      log.Warn("publish", std::string("MQTT publish failed: ") + e.what());
      return false;
    }
  }

  // Sends pending acks and commands while in-flight slots are free.
  void Drain() {
    while (true) {
      std::string topic, payload;
      bool is_ack = false;
      bool is_retained = false;
      std::string ack_station;
      std::vector<SeqRange> ack_ranges;
      Command command;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!connected || stopping || inflight >= config.max_inflight) return;
        if (!pending_retained.empty()) {
          auto it = pending_retained.begin();
          topic = it->first;
          payload = std::move(it->second);
          pending_retained.erase(it);
          is_retained = true;
        } else if (!pending_commands.empty()) {
          command = std::move(pending_commands.front());
          pending_commands.pop_front();
          topic = topics.Commands(command.station_id);
          payload = EncodeCommand(command);
        } else if (!pending_acks.empty()) {
          auto it = pending_acks.begin();
          ack_station = it->first;
          ack_ranges = std::move(it->second);
          pending_acks.erase(it);
          topic = topics.Ack(ack_station);
          payload = EncodeAck(Ack{ack_station, ack_ranges});
          is_ack = true;
        } else {
          return;
        }
        ++inflight;
      }
      if (Publish(topic, payload, is_retained)) {
        if (is_ack) metrics->acks_sent->Increment();
        continue;
      }
      std::lock_guard<std::mutex> lock(mu);
      --inflight;
      // Keep it for the next connection.
      if (is_retained) {
        pending_retained.emplace(topic, std::move(payload));  // a newer one wins
      } else if (is_ack) {
        auto& slot = pending_acks[ack_station];
        slot.insert(slot.end(), ack_ranges.begin(), ack_ranges.end());
        slot = MergeRanges(std::move(slot));
      } else {
        pending_commands.push_front(std::move(command));
      }
      return;
    }
  }

  void Subscribe() {
    const std::string share =
        config.shared_group.empty() ? "" : "$share/" + config.shared_group + "/";
    try {
      auto filters = mqtt::string_collection::create(
          {share + topics.AllStations(StationChannel::kReadings),
           share + topics.AllStations(StationChannel::kStatus),
           share + topics.AllStations(StationChannel::kPredictions)});
      mqtt::iasync_client::qos_collection qos{1, 1, 1};
      client->subscribe(filters, qos);
    } catch (const std::exception& e) {
      log.Warn("subscribe", std::string("MQTT subscribe failed: ") + e.what());
    }
  }

  void ConnectLoop() {
    auto builder = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_5)
                       .clean_start(false)
                       .keep_alive_interval(std::chrono::seconds(config.keepalive_s))
                       .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(30))
                       .max_inflight(config.max_inflight)
                       .properties({{mqtt::property::SESSION_EXPIRY_INTERVAL,
                                     static_cast<int32_t>(std::max(0, config.session_expiry_s))}});
    if (!config.username.empty()) builder.user_name(config.username).password(config.password);
    if (!config.ca_file.empty()) {
      builder.ssl(mqtt::ssl_options_builder().trust_store(config.ca_file).finalize());
    }
    const auto options = builder.finalize();
    int64_t delay_ms = 200;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (stopping || connected) return;
      }
      try {
        client->connect(options)->wait_for(std::chrono::seconds(10));
        if (client->is_connected()) return;  // the connected handler takes over
      } catch (const std::exception& e) {
        log.Warn("connect", std::string("MQTT connect to ") + config.uri + " failed: " + e.what());
      }
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return stopping; });
      delay_ms = std::min<int64_t>(delay_ms * 2, 5000);
    }
  }
};

MqttLink::MqttLink(MqttConfig config, MessageSink sink, CollectorMetrics* metrics, Env* env)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(sink), metrics, env)) {}

MqttLink::~MqttLink() { Stop(); }

void MqttLink::Start() {
  Impl& s = *impl_;
  try {
    s.client = std::make_unique<mqtt::async_client>(s.config.uri, s.config.client_id,
                                                    mqtt::create_options(MQTTVERSION_5));
  } catch (const std::exception& e) {
    throw ConfigError("mqtt.uri '" + s.config.uri + "': " + e.what());
  }
  s.client->set_message_callback([&s](mqtt::const_message_ptr msg) {
    try {
      const int64_t now = s.env->WallMs();
      const auto& payload = msg->get_payload_ref();
      s.sink(msg->get_topic(), std::string_view(payload.data(), payload.size()), now);
    } catch (const std::exception& e) {
      s.log.Warn("callback", std::string("message handling failed: ") + e.what());
    }
  });
  s.client->set_connected_handler([&s](const std::string&) {
    spdlog::info("MQTT connected to {}", s.config.uri);
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.connected = true;
      s.inflight = 0;  // a new connection has nothing of ours in flight
    }
    s.metrics->mqtt_connected->Set(1);
    s.Subscribe();
    s.Drain();
  });
  s.client->set_connection_lost_handler([&s](const std::string& cause) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.connected = false;
    }
    s.metrics->mqtt_connected->Set(0);
    s.log.Warn("lost", "MQTT connection lost: " + cause);
  });
  s.connector = std::thread([&s] { s.ConnectLoop(); });
}

void MqttLink::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.cv.notify_all();
  if (s.connector.joinable()) s.connector.join();
  if (s.client) {
    try {
      if (s.client->is_connected()) s.client->disconnect(2000)->wait_for(std::chrono::seconds(3));
    } catch (const std::exception& e) {
      spdlog::warn("MQTT disconnect: {}", e.what());
    }
    s.metrics->mqtt_connected->Set(0);
  }
}

bool MqttLink::connected() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->connected;
}

size_t MqttLink::pending() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->pending_acks.size() + impl_->pending_commands.size();
}

void MqttLink::SendAck(const Ack& ack) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto& slot = s.pending_acks[ack.station_id];
    if (!slot.empty()) s.metrics->acks_coalesced->Increment();
    slot.insert(slot.end(), ack.committed.begin(), ack.committed.end());
    if (slot.size() > 1) slot = MergeRanges(std::move(slot));
  }
  s.Drain();
}

void MqttLink::PublishRetained(const std::string& topic, const std::string& payload) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.pending_retained[topic] = payload;
  }
  s.Drain();
}

void MqttLink::SendCommand(const Command& command) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.pending_commands.size() >= 10000) {
      s.metrics->publish_errors->Increment();
      return;
    }
    s.pending_commands.push_back(command);
  }
  s.Drain();
}

}  // namespace sentinelle::collector
