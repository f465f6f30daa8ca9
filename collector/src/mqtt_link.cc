#include "sentinelle/collector/mqtt_link.h"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

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
  // Swapped by RenewClientIfStale (exclusive); every other use is shared.
  // paho's callbacks may take it shared, so no paho call that can wait for
  // a callback is made while it is held exclusively.
  mutable std::shared_mutex client_mu;
  std::unique_ptr<mqtt::async_client> client;
  RateLimitedLog log;
  std::atomic<bool> stale{false};  // a publish write failed: reconnect on a new client
  std::atomic<uint64_t> failed_writes{0};
  std::atomic<uint64_t> client_resets{0};

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool connected = false;
  uint64_t lost_count = 0;  // connections lost so far (the connector waits on it)
  int inflight = 0;
  std::map<std::string, std::vector<SeqRange>> pending_acks;
  std::deque<Command> pending_commands;
  std::map<std::string, std::string> pending_retained;  // topic -> latest payload
  std::thread connector;

  Impl(MqttConfig c, MessageSink s, CollectorMetrics* m, Env* e)
      : config(std::move(c)), sink(std::move(s)), metrics(m), env(e), topics(config.topic_prefix) {}

  // Delivery of one of our QoS 1 publishes completed (or failed).
  void on_success(const mqtt::token&) override { Completed(true); }
  // MQTTASYNC_FAILURE is a failed socket write: paho 1.3.12 then keeps the
  // message for a resend after the next connect but has freed its topic and
  // payload (eclipse-paho/paho.mqtt.c#1621). The next connect is made on a
  // new client so nothing is resent from freed memory; what was lost is an
  // ack (the agent replays and is acked again) or a command or retained
  // manifest (re-sent by its owner's retry).
  void on_failure(const mqtt::token& tok) override {
    if (tok.get_return_code() == MQTTASYNC_FAILURE) {
      stale = true;
      ++failed_writes;
      metrics->mqtt_failed_writes->Increment();
      log.Warn("write", "MQTT publish write failed; the next connect uses a new client");
    }
    Completed(false);
  }

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
      std::shared_lock client_lock(client_mu);
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
      std::shared_lock client_lock(client_mu);
      client->subscribe(filters, qos);
    } catch (const std::exception& e) {
      log.Warn("subscribe", std::string("MQTT subscribe failed: ") + e.what());
    }
  }

  // A client with this link's handlers. Throws for an invalid URI.
  std::unique_ptr<mqtt::async_client> MakeClient() {
    auto c = std::make_unique<mqtt::async_client>(config.uri, config.client_id,
                                                  mqtt::create_options(MQTTVERSION_5));
    c->set_message_callback([this](mqtt::const_message_ptr msg) {
      try {
        const int64_t now = env->WallMs();
        const auto& payload = msg->get_payload_ref();
        sink(msg->get_topic(), std::string_view(payload.data(), payload.size()), now);
      } catch (const std::exception& e) {
        log.Warn("callback", std::string("message handling failed: ") + e.what());
      }
    });
    c->set_connected_handler([this](const std::string&) {
      spdlog::info("MQTT connected to {}", config.uri);
      {
        std::lock_guard<std::mutex> lock(mu);
        connected = true;
        inflight = 0;  // a new connection has nothing of ours in flight
      }
      metrics->mqtt_connected->Set(1);
      Subscribe();
      Drain();
    });
    c->set_connection_lost_handler([this](const std::string& cause) {
      {
        std::lock_guard<std::mutex> lock(mu);
        connected = false;
        ++lost_count;
      }
      cv.notify_all();
      metrics->mqtt_connected->Set(0);
      log.Warn("lost", "MQTT connection lost: " + cause);
    });
    return c;
  }

  // After a failed write (on_failure): the next connect goes through a new
  // client. The new one exists before the old one is destroyed, so paho's
  // threads keep running (destroying the last client races with its receive
  // thread, eclipse-paho/paho.mqtt.c#1669); the old one is destroyed outside
  // client_mu, since its callbacks may still be waiting for that lock.
  void RenewClientIfStale() {
    if (!stale.exchange(false)) return;
    std::unique_ptr<mqtt::async_client> old;
    try {
      auto fresh = MakeClient();
      std::unique_lock client_lock(client_mu);
      old = std::exchange(client, std::move(fresh));
    } catch (const std::exception& e) {
      log.Warn("renew", std::string("MQTT client not renewed: ") + e.what());
      return;
    }
    old.reset();
    ++client_resets;
    metrics->mqtt_client_resets->Increment();
    spdlog::warn("MQTT: reconnecting on a new client after a failed publish write");
  }

  // Connects, and reconnects whenever the connection is lost, with
  // exponential backoff (200 ms to 5 s) while the broker is unreachable.
  // paho's automatic reconnect is off so that RenewClientIfStale runs first.
  void ConnectLoop() {
    auto builder = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_5)
                       .clean_start(false)
                       .keep_alive_interval(std::chrono::seconds(config.keepalive_s))
                       // within the 10 s the connector waits for an attempt
                       .connect_timeout(std::chrono::seconds(8))
                       .max_inflight(config.max_inflight)
                       .properties({{mqtt::property::SESSION_EXPIRY_INTERVAL,
                                     static_cast<int32_t>(std::max(0, config.session_expiry_s))}});
    if (!config.username.empty()) builder.user_name(config.username).password(config.password);
    if (!config.ca_file.empty()) {
      builder.ssl(mqtt::ssl_options_builder().trust_store(config.ca_file).finalize());
    }
    const auto options = builder.finalize();
    int64_t delay_ms = 200;
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      const uint64_t lost_before = lost_count;
      lock.unlock();
      RenewClientIfStale();
      bool up = false;
      try {
        std::shared_lock client_lock(client_mu);
        auto tok = client->connect(options);
        client_lock.unlock();  // the wait below may need a callback that takes it
        tok->wait_for(std::chrono::seconds(10));
      } catch (const std::exception& e) {
        log.Warn("connect", std::string("MQTT connect to ") + config.uri + " failed: " + e.what());
      }
      {
        std::shared_lock client_lock(client_mu);
        up = client->is_connected();
      }
      lock.lock();
      if (up) {
        // The connected handler takes over until this connection is lost.
        delay_ms = 200;
        cv.wait(lock, [&] { return stopping || lost_count != lost_before; });
        continue;
      }
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
    s.client = s.MakeClient();
  } catch (const std::exception& e) {
    throw ConfigError("mqtt.uri '" + s.config.uri + "': " + e.what());
  }
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

uint64_t MqttLink::failed_writes() const { return impl_->failed_writes.load(); }
uint64_t MqttLink::client_resets() const { return impl_->client_resets.load(); }

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
