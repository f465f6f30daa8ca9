#include "sentinelle/agent/mqtt_client.h"

#include <MQTTAsync.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <shared_mutex>

#include "sentinelle/agent/config.h"
#include "sentinelle/dynlib.h"

namespace sentinelle::agent {

namespace {

// paho's C asynchronous client, loaded at run time in one of its two builds:
// libpaho-mqtt3a (plain TCP) or libpaho-mqtt3as (TLS, which needs libssl and
// libcrypto). Linking the TLS build maps and relocates OpenSSL in every
// agent, about 2 MiB resident that a tcp:// station never uses
// (docs/PERFORMANCE.md, "Resident memory"). Both builds have the same API and
// structures (one MQTTAsync.h). Loaded once per build, never unloaded.
struct PahoApi {
  decltype(&MQTTAsync_global_init) global_init = nullptr;
  decltype(&MQTTAsync_createWithOptions) create = nullptr;
  decltype(&MQTTAsync_setCallbacks) set_callbacks = nullptr;
  decltype(&MQTTAsync_setConnected) set_connected = nullptr;
  decltype(&MQTTAsync_connect) connect = nullptr;
  decltype(&MQTTAsync_subscribe) subscribe = nullptr;
  decltype(&MQTTAsync_send) send = nullptr;
  decltype(&MQTTAsync_waitForCompletion) wait_for_completion = nullptr;
  decltype(&MQTTAsync_disconnect) disconnect = nullptr;
  decltype(&MQTTAsync_isConnected) is_connected = nullptr;
  decltype(&MQTTAsync_freeMessage) free_message = nullptr;
  decltype(&MQTTAsync_free) free = nullptr;
  decltype(&MQTTAsync_destroy) destroy = nullptr;
  decltype(&MQTTAsync_strerror) strerror = nullptr;
  std::string error;  // non-empty: the library could not be loaded
};

PahoApi LoadPaho(const char* soname, bool already_loaded) {
  PahoApi a;
  DynamicLibrary lib(soname, already_loaded ? RTLD_NOLOAD : 0);
  lib.Bind("MQTTAsync_global_init", a.global_init);
  lib.Bind("MQTTAsync_createWithOptions", a.create);
  lib.Bind("MQTTAsync_setCallbacks", a.set_callbacks);
  lib.Bind("MQTTAsync_setConnected", a.set_connected);
  lib.Bind("MQTTAsync_connect", a.connect);
  lib.Bind("MQTTAsync_subscribe", a.subscribe);
  lib.Bind("MQTTAsync_send", a.send);
  lib.Bind("MQTTAsync_waitForCompletion", a.wait_for_completion);
  lib.Bind("MQTTAsync_disconnect", a.disconnect);
  lib.Bind("MQTTAsync_isConnected", a.is_connected);
  lib.Bind("MQTTAsync_freeMessage", a.free_message);
  lib.Bind("MQTTAsync_free", a.free);
  lib.Bind("MQTTAsync_destroy", a.destroy);
  lib.Bind("MQTTAsync_strerror", a.strerror);
  a.error = lib.error();
  // paho would initialise OpenSSL eagerly when its first client is created
  // (every algorithm and error string: about 1.4 MiB resident); OpenSSL 3
  // initialises itself on first use, so a TLS connect pays only for what it
  // uses. MQTTAsync_global_init also re-initialises paho's process-wide
  // mutexes and the condition variable its send thread sleeps on: run while
  // another client exists, it pulls them from under running threads (lost
  // wake-ups; the backlog drain fell from 13,900 to 2,200 readings/s). So it
  // runs here, right after loading and before this build has any client, and
  // never on a build the program linked itself (a test's ack peer may
  // already have clients).
  if (a.error.empty() && !already_loaded) {
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    a.global_init(&init);
  }
  return a;
}

constexpr const char* kPlainBuild = "libpaho-mqtt3a.so.1";
constexpr const char* kTlsBuild = "libpaho-mqtt3as.so.1";

// A program linked with paho (tests, through paho-mqtt-cpp) already has the
// TLS build in its global scope; a second build loaded beside it would bind
// some of its own calls to the first one's symbols, so that one is used for
// plain TCP too.
bool TlsBuildLinked() {
  static const bool linked = DynamicLibrary(kTlsBuild, RTLD_NOLOAD).loaded();
  return linked;
}

const PahoApi& Paho(bool tls) {
  if (tls || TlsBuildLinked()) {
    static const PahoApi api = LoadPaho(kTlsBuild, TlsBuildLinked());
    return api;
  }
  static const PahoApi api = LoadPaho(kPlainBuild, false);
  return api;
}

std::string PahoError(const PahoApi& api, int rc) {
  const char* s = api.strerror(rc);
  return s != nullptr ? std::string(s) + " (rc " + std::to_string(rc) + ")"
                      : "rc " + std::to_string(rc);
}

}  // namespace

class MqttClient::Impl {
 public:
  Impl(const PahoApi& api, MqttClientOptions o, ConnectionHandler on_conn, MessageHandler on_msg,
       std::function<void()> on_delivered)
      : api_(api),
        options_(std::move(o)),
        on_connection_(std::move(on_conn)),
        on_message_(std::move(on_msg)),
        on_delivered_(std::move(on_delivered)) {}

  ~Impl() {
    // No callback runs after destroy returns.
    if (handle_ != nullptr) api_.destroy(&handle_);
  }

  Status Init() {
    auto h = NewHandle();
    if (!h) return h.error();
    handle_ = *h;
    return Status::Ok();
  }

  Status ConnectAsync() {
    if (auto st = DropStaleHandle(); !st) return st;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    o.cleansession = 0;
    // Pinned: with the default, paho falls back to MQTT 3.1 on its own when
    // a connection drops right after its CONNACK, a reconnect the engine
    // would not hear about.
    o.MQTTVersion = MQTTVERSION_3_1_1;
    o.keepAliveInterval = options_.keepalive_s;
    o.connectTimeout = options_.connect_timeout_s;
    o.automaticReconnect = 0;
    o.maxInflight = options_.max_inflight;
    o.onFailure = &Impl::OnConnectFailure;
    o.context = this;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    if (!options_.will_topic.empty()) {
      will.topicName = options_.will_topic.c_str();
      will.message = nullptr;  // binary payload below
      will.payload.len = static_cast<int>(options_.will_payload.size());
      will.payload.data = options_.will_payload.data();
      will.qos = 1;
      will.retained = 1;
      o.will = &will;
    }
    if (!options_.username.empty()) o.username = options_.username.c_str();
    if (!options_.password.empty()) {
      o.binarypwd.len = static_cast<int>(options_.password.size());
      o.binarypwd.data = options_.password.data();
    }
    // Trust the configured CA only (paho loads no default store when a trust
    // store is given), verify the chain and the host name, and keep OpenSSL's
    // reason for a failed handshake so the connect failure can name it.
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (IsTlsMqttUri(options_.uri)) {
      ssl.trustStore = options_.ca_file.c_str();
      ssl.enableServerCertAuth = 1;
      ssl.verify = 1;
      if (!options_.cert_file.empty()) {
        ssl.keyStore = options_.cert_file.c_str();
        ssl.privateKey = options_.key_file.c_str();
      }
      ssl.ssl_error_cb = &Impl::OnTlsError;
      ssl.ssl_error_context = this;
      o.ssl = &ssl;
    }
    // paho copies every option it keeps.
    const int rc = api_.connect(handle_, &o);
    if (rc != MQTTASYNC_SUCCESS) return MakeError("mqtt connect: " + PahoError(api_, rc));
    return Status::Ok();
  }

  Status Publish(const std::string& topic, const std::string& payload, bool retained) {
    std::shared_lock handle_lock(handle_mu_);
    if (!ConnectedLocked()) return MakeError("mqtt publish: not connected");
    if (in_flight_.load() >= options_.max_inflight) {
      ++refused_full_;
      return MakeError("mqtt publish: " + std::to_string(options_.max_inflight) +
                       " messages already handed to the client");
    }
    ++in_flight_;
    // paho copies the topic and the payload.
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
    r.onFailure = &Impl::OnPublishFailure;
    r.context = this;
    const int rc = api_.send(handle_, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), 1, retained ? 1 : 0, &r);
    if (rc != MQTTASYNC_SUCCESS) {
      Delivered();  // never handed over
      if (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES) ++refused_full_;
      return MakeError("mqtt publish: " + PahoError(api_, rc));
    }
    return Status::Ok();
  }

  void Disconnect(int timeout_ms, const std::string& topic, const std::string& payload) {
    std::shared_lock handle_lock(handle_mu_);
    if (!ConnectedLocked()) return;
    if (!topic.empty()) {
      MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
      const int rc = api_.send(handle_, topic.c_str(), static_cast<int>(payload.size()),
                               payload.data(), 1, 1, &r);
      if (rc == MQTTASYNC_SUCCESS) {
        api_.wait_for_completion(handle_, r.token, static_cast<unsigned long>(timeout_ms));
      } else {
        spdlog::warn("mqtt: final publish: {}", PahoError(api_, rc));
      }
    }
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = timeout_ms;
    d.onSuccess = &Impl::OnDisconnected;
    d.onFailure = &Impl::OnDisconnectFailed;
    d.context = this;
    {
      std::lock_guard lock(disconnect_mu_);
      disconnected_ = false;
    }
    const int rc = api_.disconnect(handle_, &d);
    if (rc != MQTTASYNC_SUCCESS) {
      spdlog::warn("mqtt: disconnect: {}", PahoError(api_, rc));
      return;
    }
    std::unique_lock lock(disconnect_mu_);
    disconnect_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms) + std::chrono::seconds(1),
                            [&] { return disconnected_; });
  }

  bool connected() const {
    std::shared_lock handle_lock(handle_mu_);
    return ConnectedLocked();
  }
  size_t pending() const { return static_cast<size_t>(in_flight_.load()); }
  uint64_t refused_full() const { return refused_full_.load(); }
  uint64_t failed_publish_writes() const { return failed_writes_.load(); }
  uint64_t client_resets() const { return client_resets_.load(); }

 private:
  bool ConnectedLocked() const { return handle_ != nullptr && api_.is_connected(handle_) != 0; }

  Result<MQTTAsync> NewHandle() {
    MQTTAsync h = nullptr;
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.sendWhileDisconnected = 0;
    create.maxBufferedMessages = options_.max_inflight;
    int rc = api_.create(&h, options_.uri.c_str(), options_.client_id.c_str(),
                         MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create);
    if (rc != MQTTASYNC_SUCCESS) return MakeError("mqtt client: " + PahoError(api_, rc));
    rc = api_.set_callbacks(h, this, &Impl::OnConnectionLost, &Impl::OnMessage, &Impl::OnDelivered);
    if (rc == MQTTASYNC_SUCCESS) rc = api_.set_connected(h, this, &Impl::OnConnected);
    if (rc != MQTTASYNC_SUCCESS) {
      api_.destroy(&h);
      return MakeError("mqtt client callbacks: " + PahoError(api_, rc));
    }
    return h;
  }

  // paho (1.3.12, the Debian build; eclipse-paho/paho.mqtt.c#1621, #1622)
  // mishandles a QoS 1 publish whose socket write fails: it keeps the
  // message in the session's in-flight list for a resend after the next
  // connect, and frees its topic and payload with the failed command. The
  // resend then reads freed memory (a garbage topic or payload on the wire;
  // AddressSanitizer caught it in the chaos test). So after a failed publish
  // the next connect goes through a new handle: nothing of the old
  // in-flight list is resent. The broker's session (same client id, clean
  // session off) is untouched, and the SQLite outbox replays every reading
  // that was not confirmed. The new handle exists before the old one is
  // destroyed, so paho's threads never stop in between (destroying the last
  // client races with its receive thread, paho.mqtt.c#1669).
  Status DropStaleHandle() {
    if (!stale_.load()) return Status::Ok();
    std::unique_lock handle_lock(handle_mu_);
    auto fresh = NewHandle();
    if (!fresh) return fresh.error();
    MQTTAsync old = handle_;
    handle_ = *fresh;
    in_flight_ = 0;
    stale_ = false;
    if (old != nullptr) api_.destroy(&old);
    ++client_resets_;
    spdlog::warn("mqtt: a publish failed on the last connection; connecting with a new client "
                 "handle (its in-flight messages are not resent; the outbox replays readings)");
    return Status::Ok();
  }

  // paho callbacks (its threads): `context` is this Impl.
  static void OnConnected(void* context, char* cause) {
    auto* self = static_cast<Impl*>(context);
    // A new connection starts the count over: what paho still holds from the
    // old session is resent and acknowledged without being counted again.
    self->in_flight_ = 0;
    for (const auto& t : self->options_.subscriptions) {
      const int rc = self->api_.subscribe(self->handle_, t.c_str(), 1, nullptr);
      if (rc != MQTTASYNC_SUCCESS) {
        spdlog::warn("mqtt: subscribe to {} failed: {}", t, PahoError(self->api_, rc));
      }
    }
    self->Notify(true, cause != nullptr && *cause != '\0' ? cause : "connected");
  }

  static void OnConnectionLost(void* context, char* cause) {
    static_cast<Impl*>(context)->Notify(
        false, cause != nullptr && *cause != '\0' ? cause : "connection lost");
  }

  static int OnMessage(void* context, char* topic, int topic_len, MQTTAsync_message* msg) {
    auto* self = static_cast<Impl*>(context);
    try {
      const std::string t = topic_len > 0 ? std::string(topic, static_cast<size_t>(topic_len))
                                          : std::string(topic);
      const std::string p(static_cast<const char*>(msg->payload),
                          static_cast<size_t>(msg->payloadlen));
      self->on_message_(t, p);
    } catch (const std::exception& e) {
      spdlog::error("mqtt: message handler: {}", e.what());
    }
    self->api_.free_message(&msg);
    self->api_.free(topic);
    return 1;  // consumed
  }

  // A publish paho gave up on. MQTTASYNC_OPERATION_INCOMPLETE: the
  // connection went first (paho keeps the message and resends it from its
  // own copy). MQTTASYNC_FAILURE: the socket write failed, the case above.
  static void OnPublishFailure(void* context, MQTTAsync_failureData* response) {
    auto* self = static_cast<Impl*>(context);
    self->Delivered();
    const int code = response != nullptr ? response->code : MQTTASYNC_FAILURE;
    if (code == MQTTASYNC_OPERATION_INCOMPLETE) return;
    self->stale_ = true;
    ++self->failed_writes_;
    spdlog::warn("mqtt: publish failed: {}", PahoError(self->api_, code));
  }

  static void OnDelivered(void* context, MQTTAsync_token) {
    auto* self = static_cast<Impl*>(context);
    self->Delivered();
    try {
      if (self->on_delivered_) self->on_delivered_();
    } catch (const std::exception& e) {
      spdlog::error("mqtt: delivery handler: {}", e.what());
    }
  }

  static void OnConnectFailure(void* context, MQTTAsync_failureData* response) {
    auto* self = static_cast<Impl*>(context);
    std::string cause =
        "connect failed (rc " + std::to_string(response != nullptr ? response->code : -1) + ")";
    if (response != nullptr && response->message != nullptr) cause += ": " + std::string(response->message);
    {
      std::lock_guard lock(self->tls_mu_);
      if (!self->tls_error_.empty()) cause += ": TLS: " + self->tls_error_;
      self->tls_error_.clear();
    }
    self->Notify(false, cause);
  }

  static int OnTlsError(const char* str, size_t len, void* context) {
    auto* self = static_cast<Impl*>(context);
    std::lock_guard lock(self->tls_mu_);
    if (self->tls_error_.empty()) self->tls_error_.assign(str, len);
    return 0;
  }

  static void OnDisconnected(void* context, MQTTAsync_successData*) {
    static_cast<Impl*>(context)->DisconnectDone();
  }
  static void OnDisconnectFailed(void* context, MQTTAsync_failureData*) {
    static_cast<Impl*>(context)->DisconnectDone();
  }
  void DisconnectDone() {
    std::lock_guard lock(disconnect_mu_);
    disconnected_ = true;
    disconnect_cv_.notify_all();
  }

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

  const PahoApi& api_;
  MqttClientOptions options_;
  ConnectionHandler on_connection_;
  MessageHandler on_message_;
  std::function<void()> on_delivered_;
  // Shared by publishers and queries, exclusive while DropStaleHandle swaps
  // the handle. paho's callbacks never take it.
  mutable std::shared_mutex handle_mu_;
  MQTTAsync handle_ = nullptr;
  std::atomic<bool> stale_{false};  // a publish failed: next connect on a new handle
  std::atomic<uint64_t> failed_writes_{0};
  std::atomic<uint64_t> client_resets_{0};
  std::mutex tls_mu_;
  std::string tls_error_;  // first OpenSSL error of the current attempt
  std::mutex disconnect_mu_;
  std::condition_variable disconnect_cv_;
  bool disconnected_ = false;
  // Publishes handed to paho and not yet acknowledged by the broker (queued
  // or sent): O(1) to read, unlike copying paho's pending-token list on every
  // publish. paho refuses a publish once maxBufferedMessages are queued,
  // connected or not; the buffer is sized to max_inflight and Publish
  // refuses beyond it before paho has to.
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> refused_full_{0};
};

Result<std::unique_ptr<MqttClient>> MqttClient::Create(MqttClientOptions options,
                                                       ConnectionHandler on_connection,
                                                       MessageHandler on_message,
                                                       std::function<void()> on_delivered) {
  const bool tls = IsTlsMqttUri(options.uri);
  if (tls) {
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
  if (options.max_inflight < 1) return MakeError("mqtt client: max_inflight must be at least 1");
  const PahoApi& api = Paho(tls);
  if (!api.error.empty()) return MakeError("mqtt client: " + api.error);
  auto impl = std::make_unique<Impl>(api, std::move(options), std::move(on_connection),
                                     std::move(on_message), std::move(on_delivered));
  if (auto st = impl->Init(); !st) return st.error();
  return std::unique_ptr<MqttClient>(new MqttClient(std::move(impl)));
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
uint64_t MqttClient::failed_publish_writes() const { return impl_->failed_publish_writes(); }
uint64_t MqttClient::client_resets() const { return impl_->client_resets(); }

}  // namespace sentinelle::agent
