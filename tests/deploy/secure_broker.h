// A real Mosquitto running the committed production security setup:
// configs/mosquitto/mosquitto.conf and configs/mosquitto/acl, certificates
// from scripts/make-dev-certs.sh and a password file built with
// scripts/mosquitto-add-station.sh, all in a TempDir.
//
// Only what cannot be kept in a test is rewritten in the configuration:
// listener ports (free loopback ports, bound to 127.0.0.1), file paths (into
// the TempDir) and, when the tests run as root, the user the broker drops to
// (the TempDir is private to the test's user).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "sentinelle/result.h"

namespace sentinelle::testing {

// Committed file paths in the source tree.
std::string RepoPath(const std::string& relative);
std::string ReadFile(const std::string& path);

struct BrokerRewrite {
  int tls_port = 0;
  int plain_port = 0;
  std::string dir;         // replaces /etc/mosquitto/sentinelle and the persistence dir
  std::string run_as;      // replaces the `user` line when non-empty
};

// Rewrites the production config for a test run. Fails, naming the line,
// when a line the rewrite relies on is missing (a TLS listener on 8883, the
// loopback listener on 1883, the files under /etc/mosquitto/sentinelle/), so
// a changed config cannot silently slip past the tests.
Result<std::string> RewriteBrokerConfig(const std::string& text, const BrokerRewrite& rewrite);

// TCP sockets the process listens on, as "address:port" (IPv4 dotted,
// IPv6 as "[hex]"), read from /proc.
std::vector<std::string> ListeningSockets(pid_t pid);

// Runs a project script with bash; returns its exit code (-1: could not run).
int RunScript(const std::string& script, const std::vector<std::string>& args,
              const std::string& log_path);

class SecureBroker {
 public:
  // Station ids and service accounts (svc.NAME, sub.NAME) to create.
  explicit SecureBroker(std::vector<std::string> accounts);
  ~SecureBroker();

  // Makes certificates and passwords (first call only), then starts the
  // broker; false with the reason in Log() on failure.
  bool Start();
  void Stop();
  bool Running();
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }

  int tls_port() const { return tls_port_; }
  int plain_port() const { return plain_port_; }
  std::string tls_uri() const { return "ssl://127.0.0.1:" + std::to_string(tls_port_); }
  std::string plain_uri() const { return "tcp://127.0.0.1:" + std::to_string(plain_port_); }
  std::string ca_file() const { return dir_.File("certs/ca.crt"); }
  const std::string& dir() const { return dir_.path(); }
  std::string Password(const std::string& account) const;
  // Broker log, then the scripts' output.
  std::string Log() const;

 private:
  bool Prepare();

  std::vector<std::string> accounts_;
  std::map<std::string, std::string> passwords_;
  TempDir dir_;
  int tls_port_;
  int plain_port_;
  bool prepared_ = false;
  std::string error_;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace sentinelle::testing
