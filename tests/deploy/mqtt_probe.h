// MQTT probes for the broker security tests. Each probe is a real MQTT
// connection in its own process:
//  - Probe: deploy_mqtt_probe (paho-mqtt-cpp, tests/deploy/mqtt_probe_client.cc)
//    driven over a pipe; subscribes and publishes on one connection, since
//    the broker allows one connection per account (use_username_as_clientid).
//  - TryConnect / PublishOnce: Debian's mosquitto_pub, a second client
//    implementation, for one-shot connection attempts.
// What the broker answered (CONNACK, SUBACK, PUBACK codes) comes back as
// values. Not thread-safe: each probe belongs to the test that made it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace sentinelle::testing {

struct ProbeOptions {
  int port = 0;
  std::string ca_file;         // non-empty: TLS, trusting this CA only
  std::string client_id;       // empty: one is made up
  std::string username;        // empty: connect without credentials
  std::string password;
  int mqtt_version = 5;        // 5 or 311
  std::chrono::milliseconds timeout{10000};
};

// MQTT reason codes (v5: 0x87 not authorized, ...; 3.1.1 CONNACK: 5 not
// authorised); -1 when the packet never came (TLS refused, connection
// dropped, timeout).
struct Outcome {
  bool ok = false;
  int connack = -1;
  int puback = -1;
  std::string output;          // the client's output, for failure messages
};

struct Delivered {
  std::string topic;
  std::string payload;
  bool retained = false;
};

// mosquitto_pub: connects and disconnects. ok when the broker sent CONNACK 0.
Outcome TryConnect(const ProbeOptions& options, const std::string& scratch_dir);
// mosquitto_pub: one QoS 1 message. ok when connected and the PUBACK
// accepted it (v5 reason code < 0x80).
Outcome PublishOnce(const ProbeOptions& options, const std::string& topic,
                    const std::string& payload, const std::string& scratch_dir);

class Probe {
 public:
  // Logs and payload files go to scratch_dir.
  Probe(ProbeOptions options, std::string scratch_dir);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // ok when the broker accepted the connection.
  Outcome Connect();
  // QoS 1. The granted QoS, or a reason code >= 0x80, or -1.
  int Subscribe(const std::string& filter);
  // QoS 1, waits for the PUBACK: ok when accepted (reason code < 0x80).
  Outcome Publish(const std::string& topic, const std::string& payload, bool retained = false);
  // True once the broker closed this connection (e.g. another took it over).
  bool Lost() const;

  std::vector<Delivered> Messages() const;
  std::vector<Delivered> MessagesOn(const std::string& topic) const;
  bool WaitForMessage(const std::string& topic, const std::string& payload,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  std::string Output() const;

 private:
  // Sends a command and waits for "<reply> <id> <code>".
  int Request(const std::string& command, const std::string& reply);

  ProbeOptions options_;
  std::string scratch_;
  std::string log_path_;
  std::unique_ptr<ChildProcess> proc_;
  int next_id_ = 0;
};

}  // namespace sentinelle::testing
