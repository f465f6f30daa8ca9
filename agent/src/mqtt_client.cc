#include "sentinelle/agent/mqtt_client.h"

#include <MQTTAsync.h>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <mutex>

#include "sentinelle/agent/config.h"

namespace sentinelle::agent {

class MqttClient::Impl final : public virtual mqtt::callback,
                               public virtual mqtt::iaction_listener {
 public:
  Impl(MqttClientOptions o, ConnectionHandler on_conn, MessageHandler on_msg,
       std::function<void()> on_delivered)
      : options_(std::move(o)),
        on_connection_(std::move(on_conn)),
        on_message_(std::move(on_msg)),
        on_delivered_(std::move(on_delivered)),
        client_(options_.uri, options_.client_id,
                mqtt::create_options_builder()
                    .send_while_disconnected(false)
                    .max_buffered_messages(options_.max_inflight)
                    .finalize(),
                static_cast<mqtt::iclient_persistence*>(nullptr)) {
    client_.set_callback(*this);
  }

  Status ConnectAsync() {
    try {
      auto builder = mqtt::connect_options_builder()
                         .clean_session(false)
                         .keep_alive_interval(std::chrono::seconds(options_.keepalive_s))
                         .connect_timeout(std::chrono::seconds(options_.connect_timeout_s))
                         .automatic_reconnect(false)
                         .max_inflight(options_.max_inflight);
      if (!options_.will_topic.empty()) {
        builder.will(mqtt::message(options_.will_topic, options_.will_payload, 1, true));
      }
      if (!options_.username.empty()) builder.user_name(options_.username);
      if (!options_.password.empty()) builder.password(options_.password);
      if (IsTlsMqttUri(options_.uri)) builder.ssl(SslOptions());
      client_.connect(builder.finalize(), nullptr, *this);
      return Status::Ok();
    } catch (const std::exception& e) {
      return MakeError(std::string("mqtt connect: ") + e.what());
    }
  }

  Status Publish(const std::string& topic, const std::string& payload, bool retained) {
    try {
      if (!client_.is_connected()) return MakeError("mqtt publish: not connected");
      if (in_flight_.load() >= options_.max_inflight) {
        ++refused_full_;
        return MakeError("mqtt publish: " + std::to_string(options_.max_inflight) +
                         " messages already handed to the client");
      }
      ++in_flight_;
      client_.publish(topic, payload.data(), payload.size(), 1, retained);
      return Status::Ok();
    } catch (const mqtt::exception& e) {
      Delivered();  // never handed over
      if (e.get_return_code() == MQTTASYNC_MAX_BUFFERED_MESSAGES) ++refused_full_;
      return MakeError(std::string("mqtt publish: ") + e.what());
    } catch (const std::exception& e) {
      Delivered();
      return MakeError(std::string("mqtt publish: ") + e.what());
    }
  }

  void Disconnect(int timeout_ms, const std::string& topic, const std::string& payload) {
    try {
      if (client_.is_connected()) {
        if (!topic.empty()) {
          auto tok = client_.publish(topic, payload.data(), payload.size(), 1, true);
          tok->wait_for(std::chrono::milliseconds(timeout_ms));
        }
        client_.disconnect(timeout_ms)->wait_for(std::chrono::milliseconds(timeout_ms));
      }
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: disconnect: {}", e.what());
    }
  }

  bool connected() const {
    try {
      return client_.is_connected();
    } catch (...) {
      return false;
    }
  }

  size_t pending() const { return static_cast<size_t>(in_flight_.load()); }
  uint64_t refused_full() const { return refused_full_.load(); }

 private:
  // mqtt::callback
  void connected(const std::string& cause) override {
    // A new connection starts the count over: what paho still holds from the
    // old session is resent and acknowledged without being counted again.
    in_flight_ = 0;
    try {
      for (const auto& t : options_.subscriptions) client_.subscribe(t, 1);
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: subscribe failed: {}", e.what());
    }
    Notify(true, cause.empty() ? "connected" : cause);
  }
  void connection_lost(const std::string& cause) override {
    Notify(false, cause.empty() ? "connection lost" : cause);
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    try {
      on_message_(msg->get_topic(), msg->to_string());
    } catch (const std::exception& e) {
      spdlog::error("mqtt: message handler: {}", e.what());
    }
  }
  void delivery_complete(mqtt::delivery_token_ptr) override {
    Delivered();
    try {
      if (on_delivered_) on_delivered_();
    } catch (const std::exception& e) {
      spdlog::error("mqtt: delivery handler: {}", e.what());
    }
  }
  // Trust the configured CA only (paho loads no default store when a trust
  // store is given), verify the chain and the host name, and keep OpenSSL's
  // reason for a failed handshake so the connect failure can name it.
  mqtt::ssl_options SslOptions() {
    auto b = mqtt::ssl_options_builder();
    b.trust_store(options_.ca_file).enable_server_cert_auth(true).verify(true);
    if (!options_.cert_file.empty()) b.key_store(options_.cert_file).private_key(options_.key_file);
    b.error_handler([this](const std::string& msg) {
      std::lock_guard lock(tls_mu_);
      if (tls_error_.empty()) tls_error_ = msg;
    });
    return b.finalize();
  }

  // mqtt::iaction_listener (the connect attempt only)
  void on_failure(const mqtt::token& tok) override {
    std::string cause = "connect failed (rc " + std::to_string(tok.get_return_code()) + ")";
    {
      std::lock_guard lock(tls_mu_);
      if (!tls_error_.empty()) cause += ": TLS: " + tls_error_;
      tls_error_.clear();
    }
    Notify(false, cause);
  }
  void on_success(const mqtt::token&) override {}

  void Delivered() {
    for (int cur = in_flight_.load(); cur > 0 && !in_flight_.compare_exchange_weak(cur, cur - 1);) {
    }
  }

  void Notify(bool up, const std::string& cause) {
    try {
      on_connection_(up, cause);
    } catch (const std::exception& e) {
      spdlog::error("mqtt: connection handler: {}", e.what());
    }
  }

  MqttClientOptions options_;
  ConnectionHandler on_connection_;
  MessageHandler on_message_;
  std::function<void()> on_delivered_;
  std::mutex tls_mu_;
  std::string tls_error_;  // first OpenSSL error of the current attempt
  // Publishes handed to paho and not yet acknowledged by the broker (queued
  // or sent): O(1) to read, unlike copying paho's pending-token list on every
  // publish. paho refuses a publish once max_buffered_messages (its default:
  // 100) are queued, connected or not; the buffer is sized to max_inflight
  // and Publish refuses beyond it before paho has to.
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> refused_full_{0};
  mutable mqtt::async_client client_;
};

namespace {
// paho initialises OpenSSL eagerly when its first client is created (every
// algorithm and error string: about 1.4 MiB resident, TLS used or not).
// OpenSSL 3 initialises itself on first use, so with a tcp:// broker those
// pages are never touched, and a TLS connect pays only for what it uses.
//
// MQTTAsync_global_init also re-initialises paho's process-wide mutexes and
// the condition variable its send thread sleeps on. Called once another
// client exists (a test's ack peer, any other paho user in the process), it
// pulls them from under running threads: wake-ups are lost and every queued
// publish waits for the send thread's timed wake-up, about a second per
// round (the backlog drain fell from 13,900 to 2,200 readings/s). So it runs
// during static initialisation, before main and before any thread exists.
void InitPahoOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    MQTTAsync_global_init(&init);
  });
}
[[maybe_unused]] const bool kPahoInitialised = (InitPahoOnce(), true);
}  // namespace

Result<std::unique_ptr<MqttClient>> MqttClient::Create(MqttClientOptions options,
                                                       ConnectionHandler on_connection,
                                                       MessageHandler on_message,
                                                       std::function<void()> on_delivered) {
  if (IsTlsMqttUri(options.uri)) {
    if (options.ca_file.empty()) return MakeError("mqtt: a TLS URI needs mqtt.ca_file");
    if (options.cert_file.empty() != options.key_file.empty()) {
      return MakeError("mqtt: mqtt.cert_file and mqtt.key_file go together");
    }
    for (const auto& [key, path] : {std::pair<const char*, const std::string&>{"mqtt.ca_file", options.ca_file},
                                    {"mqtt.cert_file", options.cert_file},
                                    {"mqtt.key_file", options.key_file}}) {
      if (!path.empty() && !std::ifstream(path).good()) {
        return MakeError(std::string("mqtt: ") + key + " " + path + " cannot be read");
      }
    }
  } else if (!options.ca_file.empty() || !options.cert_file.empty()) {
    return MakeError("mqtt: TLS files are set but " + options.uri + " is not ssl:// or mqtts://");
  }
  InitPahoOnce();
  try {
    auto impl = std::make_unique<Impl>(std::move(options), std::move(on_connection),
                                       std::move(on_message), std::move(on_delivered));
    return std::unique_ptr<MqttClient>(new MqttClient(std::move(impl)));
  } catch (const std::exception& e) {
    return MakeError(std::string("mqtt client: ") + e.what());
  }
}

MqttClient::MqttClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MqttClient::~MqttClient() = default;
Status MqttClient::ConnectAsync() { return impl_->ConnectAsync(); }
Status MqttClient::Publish(const std::string& topic, const std::string& payload, bool retained) {
  return impl_->Publish(topic, payload, retained);
}
void MqttClient::Disconnect(int timeout_ms, const std::string& final_topic,
                            const std::string& final_payload) {
  impl_->Disconnect(timeout_ms, final_topic, final_payload);
}
bool MqttClient::connected() const { return impl_->connected(); }
size_t MqttClient::pending_deliveries() const { return impl_->pending(); }
uint64_t MqttClient::refused_full() const { return impl_->refused_full(); }

}  // namespace sentinelle::agent
