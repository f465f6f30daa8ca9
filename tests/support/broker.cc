#include "broker.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace sentinelle::testing {

std::string MosquittoPath() {
  const char* env = std::getenv("SENTINELLE_MOSQUITTO");
  return env && *env ? env : "/usr/sbin/mosquitto";
}

MosquittoBroker::MosquittoBroker(BrokerOptions options)
    : options_(std::move(options)), port_(FreeLoopbackPort()) {}

MosquittoBroker::~MosquittoBroker() {
  if (proc_) proc_->Kill();
}

bool MosquittoBroker::Start() {
  const std::string conf = dir_.File("mosquitto.conf");
  {
    std::ofstream out(conf);
    out << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "max_queued_messages 100000\n"
        << "max_inflight_messages 0\n"
        << "log_dest stdout\n"
        << "log_type error\nlog_type warning\nlog_type notice\n";
    // Started as root, mosquitto drops to its own user unless told to stay,
    // and could then neither write its database into this root-owned 0700
    // directory (sessions and queued messages would silently not survive a
    // restart) nor read files a test keeps in its own TempDir. As any other
    // user, the option changes nothing.
    if (const passwd* pw = getpwuid(geteuid())) out << "user " << pw->pw_name << "\n";
    if (options_.persistence) {
      out << "persistence true\n"
          << "persistence_location " << dir_.path() << "/\n"
          << "autosave_interval 1\n";
    }
    out << options_.extra_config << "\n";
  }
  proc_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{MosquittoPath(), "-c", conf}, dir_.File("mosquitto.log"));
  if (!proc_->Start()) return false;
  return WaitFor([&] { return PortOpen(port_) || !proc_->Running(); },
                 std::chrono::seconds(10)) &&
         proc_->Running();
}

void MosquittoBroker::Stop() {
  if (!proc_) return;
  proc_->Signal(SIGTERM);
  if (proc_->Wait(std::chrono::seconds(10)) < 0) proc_->Kill();
  proc_.reset();
}

void MosquittoBroker::Kill() {
  if (!proc_) return;
  proc_->Kill();
  proc_.reset();
}

bool MosquittoBroker::Running() { return proc_ && proc_->Running(); }

std::string MosquittoBroker::Log() const {
  std::ifstream in(dir_.path() + "/mosquitto.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sentinelle::testing
