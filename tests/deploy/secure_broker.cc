#include "secure_broker.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <fstream>
#include <sstream>

#include "broker.h"

namespace sentinelle::testing {

namespace {

constexpr std::string_view kEtcDir = "/etc/mosquitto/sentinelle/";
constexpr std::string_view kPersistenceDir = "/var/lib/mosquitto/";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string RepoPath(const std::string& relative) {
  return std::string(SENTINELLE_SOURCE_DIR) + "/" + relative;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> RewriteBrokerConfig(const std::string& text, const BrokerRewrite& rw) {
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  bool tls_listener = false;
  bool plain_listener = false;
  int etc_paths = 0;
  bool persistence = false;
  while (std::getline(in, line)) {
    if (line == "listener 8883") {
      line = "listener " + std::to_string(rw.tls_port) + " 127.0.0.1";
      tls_listener = true;
    } else if (line == "listener 1883 127.0.0.1") {
      line = "listener " + std::to_string(rw.plain_port) + " 127.0.0.1";
      plain_listener = true;
    } else if (StartsWith(line, "listener")) {
      return MakeError("unexpected listener line (tests would not cover it): " + line);
    } else if (StartsWith(line, "user ") && !rw.run_as.empty()) {
      line = "user " + rw.run_as;
    } else if (line == "persistence_location " + std::string(kPersistenceDir)) {
      line = "persistence_location " + rw.dir + "/";
      persistence = true;
    } else if (const auto pos = line.find(kEtcDir); pos != std::string::npos && line[0] != '#') {
      line = line.substr(0, pos) + rw.dir + "/" + line.substr(pos + kEtcDir.size());
      ++etc_paths;
    }
    out << line << "\n";
  }
  if (!tls_listener) return MakeError("no 'listener 8883' line");
  if (!plain_listener) return MakeError("no 'listener 1883 127.0.0.1' line");
  if (!persistence) return MakeError("no 'persistence_location /var/lib/mosquitto/' line");
  // password_file, acl_file, cafile, certfile, keyfile.
  if (etc_paths != 5) {
    return MakeError("expected 5 paths under /etc/mosquitto/sentinelle/, found " +
                     std::to_string(etc_paths));
  }
  return out.str();
}

std::vector<std::string> ListeningSockets(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fd_dir, ec)) {
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (StartsWith(target, "socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<std::string> out;
  for (const std::string table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream in(ReadFile(table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;  // 0A: LISTEN
      const size_t colon = local.find(':');
      const std::string addr = local.substr(0, colon);
      const int port = std::stoi(local.substr(colon + 1), nullptr, 16);
      std::string host;
      if (addr.size() == 8) {  // IPv4, little-endian hex
        const unsigned long v = std::stoul(addr, nullptr, 16);
        host = std::to_string(v & 0xff) + "." + std::to_string((v >> 8) & 0xff) + "." +
               std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 24) & 0xff);
      } else {
        host = "[" + addr + "]";
      }
      out.push_back(host + ":" + std::to_string(port));
    }
  }
  return out;
}

int RunScript(const std::string& script, const std::vector<std::string>& args,
              const std::string& log_path) {
  std::vector<std::string> argv{"/bin/bash", RepoPath(script)};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p(argv, log_path);
  if (!p.Start()) return -1;
  return p.Wait(std::chrono::seconds(60));
}

SecureBroker::SecureBroker(std::vector<std::string> accounts)
    : accounts_(std::move(accounts)), tls_port_(FreeLoopbackPort()), plain_port_(FreeLoopbackPort()) {}

SecureBroker::~SecureBroker() {
  if (proc_) proc_->Kill();
}

bool SecureBroker::Prepare() {
  const std::string log = dir_.File("scripts.log");
  std::vector<std::string> cert_args{dir_.File("certs")};
  if (RunScript("scripts/make-dev-certs.sh", cert_args, log) != 0) {
    error_ = "make-dev-certs.sh failed";
    return false;
  }
  const std::string passwd = dir_.File("passwd");
  for (const auto& account : accounts_) {
    const std::string secret = dir_.File("secret-" + account);
    std::vector<std::string> args;
    if (account.find('.') != std::string::npos) args.push_back("--service");
    args.insert(args.end(), {"--secret-out", secret, passwd, account});
    if (RunScript("scripts/mosquitto-add-station.sh", args, log) != 0) {
      error_ = "mosquitto-add-station.sh failed for " + account;
      return false;
    }
    std::string password = ReadFile(secret);
    while (!password.empty() && password.back() == '\n') password.pop_back();
    if (password.empty()) {
      error_ = "no password written for " + account;
      return false;
    }
    passwords_[account] = password;
  }
  std::filesystem::copy_file(RepoPath("configs/mosquitto/acl"), dir_.File("acl"));

  BrokerRewrite rw;
  rw.tls_port = tls_port_;
  rw.plain_port = plain_port_;
  rw.dir = dir_.path();
  if (geteuid() == 0) rw.run_as = "root";
  auto conf = RewriteBrokerConfig(ReadFile(RepoPath("configs/mosquitto/mosquitto.conf")), rw);
  if (!conf.ok()) {
    error_ = "mosquitto.conf: " + conf.message();
    return false;
  }
  std::ofstream(dir_.File("mosquitto.conf")) << *conf;
  prepared_ = true;
  return true;
}

bool SecureBroker::Start() {
  if (!prepared_ && !Prepare()) return false;
  proc_ = std::make_unique<ChildProcess>(
      // Line-buffered log (log_dest stdout), readable while the broker runs.
      std::vector<std::string>{"/usr/bin/stdbuf", "-oL", MosquittoPath(), "-c",
                               dir_.File("mosquitto.conf")},
      dir_.File("mosquitto.log"));
  if (!proc_->Start()) return false;
  return WaitFor([&] { return (PortOpen(tls_port_) && PortOpen(plain_port_)) || !proc_->Running(); },
                 std::chrono::seconds(15)) &&
         proc_->Running();
}

void SecureBroker::Stop() {
  if (!proc_) return;
  proc_->Signal(SIGTERM);
  if (proc_->Wait(std::chrono::seconds(10)) < 0) proc_->Kill();
  proc_.reset();
}

bool SecureBroker::Running() { return proc_ && proc_->Running(); }

std::string SecureBroker::Password(const std::string& account) const {
  const auto it = passwords_.find(account);
  return it == passwords_.end() ? std::string() : it->second;
}

std::string SecureBroker::Log() const {
  return error_ + "\n--- mosquitto.log\n" + ReadFile(dir_.File("mosquitto.log")) +
         "\n--- scripts.log\n" + ReadFile(dir_.File("scripts.log"));
}

}  // namespace sentinelle::testing
