// A real Mosquitto broker on a free loopback port, for tests.
#pragma once

#include <memory>
#include <string>

#include "process.h"

namespace sentinelle::testing {

struct BrokerOptions {
  bool persistence = true;       // keep sessions and queued QoS 1 messages across restarts
  std::string extra_config;      // appended to mosquitto.conf
};

class MosquittoBroker {
 public:
  explicit MosquittoBroker(BrokerOptions options = {});
  ~MosquittoBroker();

  // Starts on the same port each time (restart keeps the port).
  bool Start();
  void Stop();       // SIGTERM, waits (mosquitto saves persistence)
  void Kill();       // SIGKILL
  bool Restart() { Stop(); return Start(); }
  bool Running();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const;
  const std::string& dir() const { return dir_.path(); }

 private:
  BrokerOptions options_;
  TempDir dir_;
  int port_;
  std::unique_ptr<ChildProcess> proc_;
};

// Path of the mosquitto binary ($SENTINELLE_MOSQUITTO or /usr/sbin/mosquitto).
std::string MosquittoPath();

}  // namespace sentinelle::testing
