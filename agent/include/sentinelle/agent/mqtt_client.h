// MqttClient: the one adapter over paho's C asynchronous client (the only
// agent file that includes MQTTAsync.h). The library is loaded at run time:
// libpaho-mqtt3a.so.1 for tcp://, libpaho-mqtt3as.so.1 (with OpenSSL) for
// ssl:// and mqtts://, so a plain-TCP station never maps OpenSSL; a program
// that links paho itself (its TLS build) shares that one. Create() fails,
// naming the library, when it cannot be loaded.
//
// QoS 1, persistent session (clean_session = false) under a fixed client id,
// last will set at construction. No paho persistence: the SQLite outbox is the
// source of truth, so nothing is written to the working directory. Automatic
// reconnect is off: the engine owns reconnect backoff with jitter.
//
// Handlers run on paho's callback thread; they must be quick and must not
// call back into the client. No exception from a handler reaches paho.
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sentinelle/result.h"

namespace sentinelle::agent {

struct MqttClientOptions {
  std::string uri;
  std::string client_id;
  std::string username;
  std::string password;
  // TLS (ssl:// or mqtts:// URI): the broker's certificate must chain to
  // ca_file (the system store is not consulted) and match the URI's host.
  // cert_file/key_file: optional client certificate (PEM), both or neither.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  int keepalive_s = 30;
  int connect_timeout_s = 10;
  // paho's in-flight window and its publish buffer; Publish refuses a
  // message beyond it. The engine keeps fewer in flight.
  int max_inflight = 64;
  std::vector<std::string> subscriptions;  // (re)subscribed at QoS 1 on every connect
  std::string will_topic;
  std::string will_payload;          // retained, QoS 1
};

class MqttClient {
 public:
  // connected=true on each successful connect; false on a failed attempt or a
  // lost connection (cause says which).
  using ConnectionHandler = std::function<void(bool connected, const std::string& cause)>;
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;

  // Returns an error for an unusable URI or client id, a TLS URI without
  // ca_file, or a TLS file that cannot be read.
  // on_delivered (optional) runs when the broker acknowledged a publish.
  static Result<std::unique_ptr<MqttClient>> Create(MqttClientOptions options,
                                                    ConnectionHandler on_connection,
                                                    MessageHandler on_message,
                                                    std::function<void()> on_delivered = {});
  ~MqttClient();

  // Starts one connection attempt; the outcome arrives through the handler.
  Status ConnectAsync();
  // Hands a message to paho (non-blocking). Fails when not connected or when
  // max_inflight messages are already pending (flow control: retry after a
  // delivery completes).
  Status Publish(const std::string& topic, const std::string& payload, bool retained);
  // Publishes `final_payload` (retained) when given, then disconnects, waiting
  // up to timeout_ms.
  void Disconnect(int timeout_ms, const std::string& final_topic = "",
                  const std::string& final_payload = "");
  bool connected() const;
  // Messages handed to Publish and not yet acknowledged by the broker
  // (PUBACK), queued ones included; starts over at each connect.
  size_t pending_deliveries() const;
  // Publishes refused because max_inflight messages were pending.
  uint64_t refused_full() const;
  // Publishes paho accepted and then failed to write to the socket.
  uint64_t failed_publish_writes() const;
  // Connects made on a new paho handle because a publish had failed on the
  // previous connection (mqtt_client.cc, DropStaleHandle: paho would resend
  // that message from freed memory).
  uint64_t client_resets() const;

 private:
  class Impl;
  explicit MqttClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentinelle::agent
